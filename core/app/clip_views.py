"""What the Classify page draws and says about an analysed clip, and its table of example clips.

Every function takes what it draws as arguments (``core.serve.analysis.Analysis`` and its parts, the
example gallery) and returns a plotly figure, a pandas DataFrame or plain text.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.app.style import PROBABILITY_CMAP, SIGNED_CMAP, column_title, heatmap_figure, mel_ticks, readable, short_title
from core.serve.analysis import Envelope
from core.serve.catalog import TITLES
from core.serve.config import GENRES, FeatureConfig
from core.serve.examples import Example, Gallery

LOW_CONFIDENCE = 0.5          # below this, a model's top genre is called uncertain
CLOSE_SECOND = 0.1            # a runner-up this close to the top genre is mentioned


# ----------------------------------------------------------------------------- figures of the clip
def pool_columns(matrix: np.ndarray, times: np.ndarray, max_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Average groups of neighbouring columns so that at most ``max_columns`` remain."""
    factor = -(-matrix.shape[1] // max_columns)
    if factor <= 1:
        return matrix, times
    usable = (matrix.shape[1] // factor) * factor
    if usable == 0:
        return matrix.mean(axis=1, keepdims=True), times[:1]
    pooled = matrix[:, :usable].reshape(matrix.shape[0], -1, factor).mean(axis=2)
    return pooled, times[:usable].reshape(-1, factor).mean(axis=1)


def waveform_figure(envelope: Envelope, title: str | None = None, height: int = 220,
                    highlight_s: tuple[float, float] | None = None) -> go.Figure:
    """The waveform as its min/max envelope over time (s); ``highlight_s`` shades a stretch."""
    figure = go.Figure([
        go.Scatter(x=envelope.time_s, y=envelope.high, mode="lines", line={"width": 0.6, "color": "#1f77b4"},
                   name="highest", hovertemplate="%{x:.2f} s: %{y:.3f}<extra></extra>"),
        go.Scatter(x=envelope.time_s, y=envelope.low, mode="lines", line={"width": 0.6, "color": "#1f77b4"},
                   fill="tonexty", name="lowest", hovertemplate="%{x:.2f} s: %{y:.3f}<extra></extra>"),
    ])
    figure.update_layout(title=title, height=height, showlegend=False,
                         margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    figure.update_xaxes(title_text="time (s)")
    figure.update_yaxes(title_text="amplitude", range=[-1.05, 1.05])
    if highlight_s is not None:
        _shade(figure, highlight_s)
    return readable(figure)


def spectrogram_figure(db: np.ndarray, times_s: np.ndarray, config: FeatureConfig, *, title: str | None = None,
                       max_columns: int = 1500, height: int = 360,
                       highlight_s: tuple[float, float] | None = None) -> go.Figure:
    """Mel spectrogram in dB: time (s) by mel band, the band axis labelled in Hz."""
    db, times_s = pool_columns(db, times_s, max_columns)
    figure = heatmap_figure(
        db, times_s, np.arange(db.shape[0]), x_title="time (s)", y_title="mel band (centre frequency)",
        colour_title="dB", title=title, height=height, y_ticks=mel_ticks(config),
        hover="time %{x:.1f} s<br>mel band %{y}<br>%{z:.0f} dB<extra></extra>",
    )
    if highlight_s is not None:  # an outline drawn as a trace: Streamlit's theme fills shapes opaquely
        (start, end), top = highlight_s, db.shape[0] - 0.5
        figure.add_trace(go.Scatter(x=[start, end, end, start, start], y=[-0.5, -0.5, top, top, -0.5],
                                    mode="lines", line={"color": "white", "width": 3}, hoverinfo="skip",
                                    showlegend=False))
    return figure


def mfcc_figure(mfcc: np.ndarray, times_s: np.ndarray, *, title: str | None = None, colour_title: str = "value",
                max_columns: int = 1500, height: int = 300) -> go.Figure:
    """MFCCs: time (s) by coefficient (0 = overall loudness of the spectrum)."""
    mfcc, times_s = pool_columns(mfcc, times_s, max_columns)
    return heatmap_figure(
        mfcc, times_s, np.arange(mfcc.shape[0]), x_title="time (s)", y_title="MFCC coefficient",
        colour_title=colour_title, title=title, colorscale=SIGNED_CMAP, zmid=0.0, height=height,
        hover="time %{x:.1f} s<br>coefficient %{y}<br>%{z:.2f}<extra></extra>",
    )


def _shade(figure: go.Figure, span_s: tuple[float, float]) -> None:
    figure.add_vrect(x0=span_s[0], x1=span_s[1], fillcolor="orange", opacity=0.3, line_width=0)


def probability_figure(probabilities: np.ndarray, labels: Sequence[str] = GENRES, *, title: str | None = None,
                       height: int = 300, y_title: str = "genre", highlight: Sequence[int] | None = None,
                       narrow: bool = False) -> go.Figure:
    """Horizontal bars: the probability of every label, the ``highlight`` ones (by default the most likely) in red.

    The percentages keep the figure font's size: by default Plotly shrinks text beside a bar to the
    bar's thickness (about 11 px at 300 px high), too small for a projector. The x axis leaves room
    for "100%" beyond the longest bar. ``narrow`` (side-by-side columns) leaves out the axes' titles
    and the probability ticks, which the percentages beside the bars already say: in a column a
    quarter of a laptop's screen wide, they took half the room from the bars and turned on their side.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    highlight = {int(probabilities.argmax())} if highlight is None else set(highlight)
    colours = ["#d62728" if index in highlight else "#9ecae1" for index in range(len(labels))]
    figure = go.Figure(go.Bar(
        x=probabilities, y=list(labels), orientation="h", marker_color=colours,
        text=[f"{p:.0%}" for p in probabilities], textposition="outside", constraintext="none", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    figure.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    figure.update_xaxes(title_text=None if narrow else "probability", range=[0, 1.3],
                        tickvals=[] if narrow else [0, 0.5, 1], tickformat=".0%")
    figure.update_yaxes(title_text=None if narrow else y_title, autorange="reversed")
    return readable(figure)


def window_edges(starts_s: np.ndarray, window_seconds: float, end_s: float | None = None) -> np.ndarray:
    """Edges of the time bins that represent overlapping windows: halfway between window centres.

    The first bin starts where the first window starts; the last ends where the last window ends
    (or at ``end_s`` when that is earlier, e.g. a short last unit).
    """
    starts_s = np.asarray(starts_s, dtype=float)
    centres = starts_s + window_seconds / 2
    last = starts_s[-1] + window_seconds if end_s is None else min(starts_s[-1] + window_seconds, end_s)
    inner = (centres[:-1] + centres[1:]) / 2
    return np.concatenate([[starts_s[0]], inner, [max(last, starts_s[-1] + 1e-3)]])


def timeline_figure(window_probabilities: np.ndarray, starts_s: np.ndarray, window_seconds: float, *,
                    end_s: float | None = None, title: str | None = None, height: int = 300) -> go.Figure:
    """How a model's opinion moves through the clip: genre by time, coloured by probability."""
    edges = window_edges(starts_s, window_seconds, end_s)
    figure = heatmap_figure(
        np.asarray(window_probabilities, dtype=float).T, edges, list(GENRES), x_title="time (s)",
        y_title="genre", colour_title="probability", title=title, colorscale=PROBABILITY_CMAP, height=height,
        hover="%{y} around %{x:.1f} s: %{z:.0%}<extra></extra>",
    )
    figure.update_traces(zmin=0.0, zmax=1.0)
    figure.update_yaxes(autorange="reversed")
    return figure


# ----------------------------------------------------------------------------- plain words
def window_votes(prediction) -> tuple[int, int]:
    """How many of a prediction's windows chose its clip-level genre, out of how many."""
    chosen = GENRES.index(prediction.genre)
    votes = np.asarray(prediction.window_probabilities).argmax(axis=1)
    return int((votes == chosen).sum()), int(len(votes))


def is_clear(predictions: Mapping[str, object], low: float = LOW_CONFIDENCE, close: float = CLOSE_SECOND) -> bool:
    """Whether the models agree and each is confident, with no close runner-up."""
    if len({prediction.genre for prediction in predictions.values()}) != 1:
        return False
    for prediction in predictions.values():
        (_, p_first), (_, p_second) = prediction.ranked()[:2]
        if p_first < low or p_first - p_second < close:
            return False
    return True


def agreement_sentences(predictions: Mapping[str, object], low: float = LOW_CONFIDENCE,
                        close: float = CLOSE_SECOND) -> list[str]:
    """Plain sentences on whether the models agree and how sure each one is.

    ``predictions`` maps model names to ``ModelPrediction``-like objects (``genre``,
    ``probabilities``, ``confidence``, ``ranked()``).
    """
    genres = {name: prediction.genre for name, prediction in predictions.items()}
    sentences = []
    if len(set(genres.values())) == 1:
        genre = next(iter(genres.values()))
        sentences.append(f"All {len(genres)} models agree: **{genre}**." if len(genres) > 1
                         else f"The model says **{genre}**.")
    else:
        backers: dict[str, list[str]] = {}
        for name, genre in genres.items():
            backers.setdefault(genre, []).append(f"the {short_title(name)}")
        opinions = "; ".join(f"{' and '.join(names)} {'say' if len(names) > 1 else 'says'} **{genre}**"
                             for genre, names in backers.items())
        sentences.append(f"The models disagree: {opinions}.")
    for name, prediction in predictions.items():
        (first, p_first), (second, p_second) = prediction.ranked()[:2]
        if prediction.confidence < low:
            sentences.append(f"The {short_title(name)} is unsure: its top genre, {first}, gets only "
                             f"{p_first:.0%}; {second} follows with {p_second:.0%}.")
        elif p_first - p_second < close:
            sentences.append(f"The {short_title(name)} hesitates between {first} ({p_first:.0%}) and "
                             f"{second} ({p_second:.0%}).")
    if not is_clear(predictions, low, close):
        sentences.append(
            "A low confidence or a disagreement means the clip is hard for these models: it may mix styles, "
            "sit between two genres, or be unlike anything in their training data (speech, noise, recent "
            "production, a genre outside the ten). The models cannot answer \"none of these\": they always "
            "pick one of the ten genres, so treat such an answer as a guess.")
    else:
        sentences.append("Agreement with high confidence means the clip looks typical of this genre *as GTZAN "
                         "defines it*; it is not a proof of the genre.")
    return sentences


def verdict_sentences(verdict, predictions: Mapping[str, object], weights: Mapping[str, float]) -> list[str]:
    """Which models back the combined verdict, which do not, and how it was combined."""
    backing = [f"the {short_title(name)}" for name, prediction in predictions.items() if prediction.genre == verdict.genre]
    others = [f"the {short_title(name)} says {prediction.genre}" for name, prediction in predictions.items()
              if prediction.genre != verdict.genre]
    if not others:
        first = f"Every model says **{verdict.genre}**."
    elif backing:
        backers = joined(backing)
        first = f"{backers[0].upper()}{backers[1:]} {'agree' if len(backing) > 1 else 'agrees'}; {joined(others)}."
    else:
        first = (f"No single model puts {verdict.genre} first ({joined(others)}), but it is the genre they find "
                 "most likely together.")
    used = {name: weight for name, weight in weights.items() if name in predictions and weight > 0}
    total = sum(used.values()) or 1.0
    how = ", ".join(f"{short_title(name)} {weight / total:.0%}" for name, weight in
                    sorted(used.items(), key=lambda item: -item[1]))
    return [first, f"The verdict averages the models' probabilities with weights chosen on GTZAN's validation list "
                   f"and on real recordings (grouped cross-validation): {how}."]


def joined(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ----------------------------------------------------------------------------- the examples gallery
RIGHT, WRONG = "✅", "❌"


def answer_cell(answer: dict) -> str:
    """``"✅ blues 62%"`` or ``"❌ jazz 41%"``."""
    return f"{RIGHT if answer['right'] else WRONG} {answer['genre']} {answer['confidence']:.0%}"


def gallery_table(examples: list[Example], gallery: Gallery):
    """One row per example: the clip, GTZAN's label and, when the gallery is fresh, each column's answer.

    Returns the table (pandas) and the help text of each column header (the full titles).
    """
    rows = []
    for example in examples:
        row = {"Clip": example.clip.split("/")[-1], "GTZAN label": example.genre}
        if gallery.fresh:
            answers = gallery.answers.get(example.clip, {})
            for name in gallery.columns:
                row[column_title(name)] = answer_cell(answers[name]) if name in answers else ""
        rows.append(row)
    help_texts = {"Clip": "The GTZAN clip", "GTZAN label": "The genre GTZAN gives this clip"}
    if gallery.fresh:
        help_texts |= {column_title(name): TITLES.get(name, name) for name in gallery.columns}
    return pd.DataFrame(rows, columns=list(help_texts)), help_texts
