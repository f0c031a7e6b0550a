"""Figures and tables for the app, as plain functions of explicit inputs (no Streamlit here).

Every function takes what it draws as arguments (arrays, the dicts ``core.serve.results`` reads from
``artifacts/``, a ``FeatureConfig``) and returns a plotly figure, a pandas DataFrame or plain text,
so the pages stay short scripts and everything here can be tested without a browser. Nothing here
types in a measured figure: numbers come from the arguments.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.serve.config import GENRES, FeatureConfig, PretrainedConfig
from core.serve.catalog import MODEL_NAMES, MODEL_TITLES, SHORT_TITLES, TITLES
from core.serve.examples import Example, Gallery
from core.serve.representation import levels_to_db, mel_filterbank

LOW_CONFIDENCE = 0.5          # below this, a model's top genre is called uncertain
CLOSE_SECOND = 0.1            # a runner-up this close to the top genre is mentioned
SPECTROGRAM_CMAP = "Magma"    # the colour table of the GTZAN images
SIGNED_CMAP = "RdBu_r"        # for standardised inputs, centred on 0
PROBABILITY_CMAP = "Blues"
_HZ_TICKS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
MIN_TICK_BANDS = 14           # mel-axis labels closer than this many bands would overlap
# Projector-friendly text for every figure: one place, applied by every figure builder through ``_readable``.
FONT = {"size": 15, "color": "#111827"}
TITLE_FONT = {"size": 17, "color": "#111827"}


def _readable(figure: go.Figure) -> go.Figure:
    """Large, dark text everywhere in ``figure``: ticks, axis titles, legend, bar text, colour bars, annotations.

    Set explicitly (not only through ``layout.font``) so Streamlit's chart theme cannot shrink or grey it.
    """
    figure.update_layout(font=FONT, title_font=TITLE_FONT, legend_font=FONT, hoverlabel_font_size=FONT["size"])
    figure.update_xaxes(tickfont=FONT, title_font=FONT)
    figure.update_yaxes(tickfont=FONT, title_font=FONT)
    figure.update_annotations(font=FONT)
    for trace in figure.data:
        if trace.type == "bar":
            trace.update(textfont=FONT)
        elif trace.type == "heatmap":
            trace.update(colorbar={"tickfont": FONT, "title": {"font": FONT}}, textfont=FONT)
    return figure


def short_title(name: str) -> str:
    """'CNN', 'LSTM', 'feature baseline' (or the name itself for an unknown model)."""
    return SHORT_TITLES.get(name, name)


# ----------------------------------------------------------------------------- a classified clip
@dataclasses.dataclass(frozen=True)
class ClipView:
    """What the app keeps of a classified clip: the analysis and a small waveform for plotting.

    The decoded samples are not kept (a 10-minute file is 53 MB of float32); the envelope is.
    """

    analysis: object             # core.serve.inference.Analysis
    envelope: pd.DataFrame       # time_s, low, high
    format: str
    source_sample_rate: int
    channels: int


def analyse_clip(classifier, source, points: int = 2000) -> ClipView:
    """Decode ``source`` (bytes, path or file object), classify it and keep its envelope.

    Raises ``core.serve.errors.AudioError`` (one plain sentence) when the input cannot be analysed.
    """
    from core.serve.audio import decode

    audio = decode(source, classifier.config)
    analysis = classifier.analyse(audio)
    return ClipView(analysis=analysis, envelope=waveform_envelope(audio.samples, audio.sample_rate, points),
                    format=audio.format, source_sample_rate=audio.source_sample_rate, channels=audio.channels)


def waveform_envelope(samples: np.ndarray, sample_rate: int, points: int = 2000) -> pd.DataFrame:
    """The waveform reduced to at most ``points`` (time, min, max) rows, for plotting.

    Each row covers an equal stretch of samples and keeps its lowest and highest value, so peaks
    survive the reduction. A signal of at most ``points`` samples is kept sample by sample.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) <= points:
        times = np.arange(len(samples)) / sample_rate
        return pd.DataFrame({"time_s": times, "low": samples, "high": samples})
    edges = np.linspace(0, len(samples), points + 1).astype(np.int64)
    low = np.minimum.reduceat(samples, edges[:-1])
    high = np.maximum.reduceat(samples, edges[:-1])
    centres = (edges[:-1] + edges[1:]) / 2 / sample_rate
    return pd.DataFrame({"time_s": centres, "low": low, "high": high})


def clip_db(unit_levels: Sequence[np.ndarray], unit_starts_s: Sequence[float],
            config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The analysed units' mel spectrogram in dB side by side, and the time of every column (s).

    This is the representation the models saw (``Analysis.unit_levels``), nothing is recomputed.
    """
    db = np.concatenate([levels_to_db(levels, config) for levels in unit_levels], axis=1)
    times = np.concatenate([start + np.arange(levels.shape[1]) / config.column_rate_hz
                            for levels, start in zip(unit_levels, unit_starts_s)])
    return db, times


def standardise_rows(matrix: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Rows standardised with given statistics (e.g. MFCCs with the training-list statistics)."""
    return (matrix - np.asarray(mean)[:, None]) / np.asarray(std)[:, None]


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


def mel_band_hz(config: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of every mel band: where its filter in the filter bank peaks."""
    weights = mel_filterbank(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    frequencies = np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)
    return frequencies[weights.argmax(axis=1)]


def hz_label(hz: float) -> str:
    """'64 Hz', '512 Hz', '2 kHz', '1.5 kHz'."""
    if hz < 1000:
        return f"{hz:.0f} Hz"
    return f"{hz / 1000:.1f}".rstrip("0").rstrip(".") + " kHz"


def mel_ticks(config: FeatureConfig, min_bands: int = MIN_TICK_BANDS) -> tuple[list[int], list[str]]:
    """Mel band indices near round frequencies, and their labels in Hz, for a band axis.

    Low frequencies crowd into few bands, so going down from the top, a label closer than
    ``min_bands`` bands to the one above it is left out (the labels would overlap).
    """
    centres = mel_band_hz(config)
    values, labels = [], []
    for hz in sorted(_HZ_TICKS, reverse=True):
        if centres[0] <= hz <= centres[-1]:
            band = int(np.abs(centres - hz).argmin())
            if not values or values[-1] - band >= min_bands:
                values.append(band)
                labels.append(hz_label(hz))
    return values[::-1], labels[::-1]


# ----------------------------------------------------------------------------- generic heatmap
def rgb_colorscale(name: str) -> list[list]:
    """A named plotly colour scale with every colour as ``rgb(...)``.

    Streamlit 1.67's chart frontend draws some hex colours wrongly (Magma's first colour ``#000004``
    came out pink), so the stops are handed over as ``rgb()`` strings.
    """
    import plotly.colors

    scale = []
    for position, colour in plotly.colors.get_colorscale(name):
        if colour.startswith("#"):
            colour = "rgb({}, {}, {})".format(*plotly.colors.hex_to_rgb(colour))
        scale.append([position, colour])
    return scale


def heatmap_figure(z: np.ndarray, x, y, *, x_title: str, y_title: str, colour_title: str,
                   title: str | None = None, colorscale: str = SPECTROGRAM_CMAP, zmid: float | None = None,
                   hover: str | None = None, height: int = 320, y_ticks: tuple[list, list] | None = None,
                   text: np.ndarray | None = None) -> go.Figure:
    """A labelled heatmap: ``z`` is rows (``y``) by columns (``x``)."""
    trace = go.Heatmap(z=z, x=x, y=y, colorscale=rgb_colorscale(colorscale), zmid=zmid,
                       colorbar={"title": {"text": colour_title}},
                       hovertemplate=hover or (f"{x_title}: %{{x}}<br>{y_title}: %{{y}}<br>"
                                               f"{colour_title}: %{{z:.2f}}<extra></extra>"))
    if text is not None:
        trace.update(text=text, texttemplate="%{text}")
    figure = go.Figure(trace)
    figure.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    figure.update_xaxes(title_text=x_title)
    figure.update_yaxes(title_text=y_title)
    if y_ticks is not None:
        figure.update_yaxes(tickmode="array", tickvals=y_ticks[0], ticktext=y_ticks[1])
    return _readable(figure)


# ----------------------------------------------------------------------------- clip figures
def waveform_figure(envelope: pd.DataFrame, title: str | None = None, height: int = 220,
                    highlight_s: tuple[float, float] | None = None) -> go.Figure:
    """The waveform as its min/max envelope over time (s); ``highlight_s`` shades a stretch."""
    figure = go.Figure([
        go.Scatter(x=envelope["time_s"], y=envelope["high"], mode="lines", line={"width": 0.6, "color": "#1f77b4"},
                   name="highest", hovertemplate="%{x:.2f} s: %{y:.3f}<extra></extra>"),
        go.Scatter(x=envelope["time_s"], y=envelope["low"], mode="lines", line={"width": 0.6, "color": "#1f77b4"},
                   fill="tonexty", name="lowest", hovertemplate="%{x:.2f} s: %{y:.3f}<extra></extra>"),
    ])
    figure.update_layout(title=title, height=height, showlegend=False,
                         margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    figure.update_xaxes(title_text="time (s)")
    figure.update_yaxes(title_text="amplitude", range=[-1.05, 1.05])
    if highlight_s is not None:
        _shade(figure, highlight_s)
    return _readable(figure)


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


def probability_figure(probabilities: np.ndarray, genres: Sequence[str] = GENRES, *, title: str | None = None,
                       height: int = 300) -> go.Figure:
    """Horizontal bars: the probability of every genre, the chosen one highlighted.

    The percentages keep the figure font's size: by default Plotly shrinks text beside a bar to the
    bar's thickness (about 11 px at 300 px high), too small for a projector. The x axis leaves room
    for "100%" beyond the longest bar.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    top = int(probabilities.argmax())
    colours = ["#d62728" if index == top else "#9ecae1" for index in range(len(genres))]
    figure = go.Figure(go.Bar(
        x=probabilities, y=list(genres), orientation="h", marker_color=colours,
        text=[f"{p:.0%}" for p in probabilities], textposition="outside", constraintext="none", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    figure.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10})
    figure.update_xaxes(title_text="probability", range=[0, 1.3], tickvals=[0, 0.5, 1], tickformat=".0%")
    figure.update_yaxes(title_text="genre", autorange="reversed")
    return _readable(figure)


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
        backers = _joined(backing)
        first = f"{backers[0].upper()}{backers[1:]} {'agree' if len(backing) > 1 else 'agrees'}; {_joined(others)}."
    else:
        first = (f"No single model puts {verdict.genre} first ({_joined(others)}), but it is the genre they find "
                 "most likely together.")
    used = {name: weight for name, weight in weights.items() if name in predictions and weight > 0}
    total = sum(used.values()) or 1.0
    how = ", ".join(f"{short_title(name)} {weight / total:.0%}" for name, weight in
                    sorted(used.items(), key=lambda item: -item[1]))
    return [first, f"The verdict averages the models' probabilities with weights chosen on GTZAN's validation list "
                   f"and on real recordings (grouped cross-validation): {how}."]


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def split_name(split: str) -> str:
    """The protocol of ``training.json``'s ``split`` in a few words."""
    return {"filtered": "fault-filtered, artist-conditional", "random": "random track-level"}.get(split, split)


def split_description(split: str) -> str:
    """The test protocol of ``evaluation.json``'s ``split`` in words, for a caption."""
    return {
        "filtered": "the **fault-filtered test list** (Kereliuk, Sturm & Larsen 2015), whose artists appear nowhere "
                    "in training",
        "random": "a **random track-level test list** (artists can be on both sides, so the figure is inflated)",
    }.get(split, f"the **{split}** test list")


# ----------------------------------------------------------------------------- training
def history_figure(history: Sequence[Mapping[str, float]], best_epoch: int | None = None,
                   title: str | None = None, height: int = 340) -> go.Figure:
    """Loss and accuracy per epoch, training and validation side by side; the kept epoch marked."""
    frame = pd.DataFrame(history)
    figure = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    curves = (
        (1, "loss", "training (windows)", "#1f77b4", "solid"),
        (1, "val_loss", "validation (windows)", "#ff7f0e", "solid"),
        (2, "accuracy", "training (windows)", "#1f77b4", "solid"),
        (2, "val_accuracy", "validation (windows)", "#ff7f0e", "solid"),
        (2, "val_clip_accuracy", "validation (whole clips)", "#2ca02c", "dash"),
    )
    shown = set()
    for column, key, name, colour, dash in curves:
        if key in frame:
            figure.add_trace(go.Scatter(x=frame["epoch"], y=frame[key], mode="lines+markers", name=name,
                                        legendgroup=name, showlegend=name not in shown,
                                        line={"color": colour, "dash": dash}), row=1, col=column)
            shown.add(name)
    if best_epoch is not None:
        for column in (1, 2):
            figure.add_vline(x=best_epoch, line_dash="dot", line_color="grey", row=1, col=column)
        # Low in the accuracy panel, right of the line: the curves are high there, and the panel's
        # title is not.
        figure.add_annotation(x=best_epoch, y=0.02, yref="y2 domain", xref="x2", text=f"kept: epoch {best_epoch}",
                              showarrow=False, xanchor="left", yanchor="bottom", xshift=4)
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="categorical cross-entropy", row=1, col=1)
    figure.update_yaxes(title_text="accuracy", tickformat=".0%", row=1, col=2)
    figure.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    return _readable(figure)


def architecture_table(architecture: Sequence[Mapping]) -> pd.DataFrame:
    """Layers, output shapes (batch left out) and parameter counts, with a total row."""
    rows = [{"layer": layer["name"], "type": layer["type"],
             "output shape": " × ".join(str(size) for size in layer["output_shape"][1:]),
             "parameters": int(layer["parameters"])} for layer in architecture]
    rows.append({"layer": "total", "type": "", "output shape": "",
                 "parameters": sum(row["parameters"] for row in rows)})
    return pd.DataFrame(rows)


def settings_table(model: Mapping) -> pd.DataFrame:
    """The training settings of one model (a ``training.json`` model entry) as setting/value rows."""
    settings = model.get("settings", {})
    augmentation = list(model.get("augmentation", []))
    rows = [
        ("optimizer", model.get("optimizer")),
        ("loss", model.get("loss")),
        ("learning rate (start)", settings.get("learning_rate")),
        ("learning rate halved after epochs without progress", settings.get("plateau_epochs")),
        ("batch size", settings.get("batch_size")),
        ("maximum epochs", settings.get("max_epochs")),
        ("early stopping patience (epochs)", settings.get("patience")),
        ("epochs run", len(model.get("history", [])) or None),
        ("epoch kept (best on validation clips)", model.get("best_epoch")),
        ("dropout", settings.get("dropout")),
        ("each band's mean over the window removed first (a fixed EQ cancels out)",
         "yes" if settings.get("centre_over_time") else None),
        ("augmentation", ", ".join(augmentation) if augmentation else "none"),
    ]
    if augmentation:
        rows += [
            ("random windows per clip and epoch", settings.get("windows_per_clip")),
            ("level noise (standard deviation, of 256 levels)", settings.get("noise_levels")),
            ("frequency masks / time masks", _pair(settings.get("freq_masks"), settings.get("time_masks"))),
            ("mask width (fraction)", settings.get("mask_fraction")),
            ("mixup alpha", settings.get("mixup_alpha")),
            ("share of clips heard as simulated recordings each epoch (speaker, room, microphone, codec)",
             settings.get("capture_probability") or None),
        ]
    return pd.DataFrame([(name, _text(value)) for name, value in rows if value is not None],
                        columns=["setting", "value"])


def _pair(first, second) -> str | None:
    return None if first is None and second is None else f"{first} / {second}"


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def confusion_figure(matrix: Sequence[Sequence[int]], genres: Sequence[str] = GENRES, *,
                     title: str | None = None, height: int = 460) -> go.Figure:
    """Confusion matrix: true genre (rows) by predicted genre (columns), counts written in."""
    z = np.asarray(matrix, dtype=int)
    figure = heatmap_figure(z, list(genres), list(genres), x_title="predicted genre", y_title="true genre",
                            colour_title="clips", title=title, colorscale=PROBABILITY_CMAP, height=height,
                            hover="true %{y}, predicted %{x}: %{z} clips<extra></extra>", text=z)
    figure.update_yaxes(autorange="reversed")
    return figure


def per_genre_table(per_genre: Mapping[str, Mapping[str, float]], genres: Sequence[str] = GENRES) -> pd.DataFrame:
    """Precision, recall, F1 and support per genre."""
    return pd.DataFrame([{"genre": genre, "precision": per_genre[genre]["precision"],
                          "recall": per_genre[genre]["recall"], "F1": per_genre[genre]["f1"],
                          "test clips": int(per_genre[genre]["support"])} for genre in genres if genre in per_genre])


# ----------------------------------------------------------------------------- comparison
def comparison_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """``core.serve.results.comparison_rows()`` as a table: accuracy as a number, ours flagged."""
    frame = pd.DataFrame([{
        "system": row["system"], "protocol": row["protocol"], "accuracy (%)": float(row["accuracy"]),
        "year": str(row["year"]), "representation": row["representation"], "source": row["source"],
        "measured here": bool(row.get("ours", False)),
    } for row in rows])
    return frame


def highlight_ours(frame: pd.DataFrame, colour: str = "#fff3b0", keep_flag: bool = True):
    """A pandas Styler that shades this product's rows; ``keep_flag=False`` leaves the flag column out."""
    flags = frame["measured here"]
    shown = frame if keep_flag else frame.drop(columns="measured here")

    def shade(row):
        return [f"background-color: {colour}; font-weight: bold" if flags[row.name] else ""] * len(row)
    return shown.style.apply(shade, axis=1).format({"accuracy (%)": "{:.1f}"})


def protocol_table(evaluation: Mapping | None, leaky: Mapping | None) -> pd.DataFrame:
    """The same models under the honest and the leaky protocol, one row per model and measure."""
    rows = []
    for name in ("cnn", "lstm"):
        if evaluation and name in evaluation["test"]["models"]:
            scores = evaluation["test"]["models"][name]
            rows.append({"model": short_title(name), "protocol": "fault-filtered test list (honest)",
                         "measure": "whole clips", "accuracy (%)": 100 * scores["clip_accuracy"]})
            rows.append({"model": short_title(name), "protocol": "fault-filtered test list (honest)",
                         "measure": "single windows", "accuracy (%)": 100 * scores["window_accuracy"]})
        if leaky and name in leaky["models"]:
            rows.append({"model": short_title(name), "protocol": "random segment split (leaky)",
                         "measure": "single windows",
                         "accuracy (%)": 100 * leaky["models"][name]["test_segment_accuracy"]})
    return pd.DataFrame(rows, columns=["model", "protocol", "measure", "accuracy (%)"])


def protocol_figure(table: pd.DataFrame, height: int = 360) -> go.Figure:
    """Grouped bars of ``protocol_table``: per model, honest clips, honest windows, leaky windows."""
    figure = go.Figure()
    colours = {"whole clips, fault-filtered test list (honest)": "#2ca02c",
               "single windows, fault-filtered test list (honest)": "#98df8a",
               "single windows, random segment split (leaky)": "#d62728"}
    for (measure, protocol), part in table.groupby(["measure", "protocol"], sort=False):
        label = f"{measure}, {protocol}"
        figure.add_trace(go.Bar(x=part["model"], y=part["accuracy (%)"], name=label,
                                marker_color=colours.get(label), text=[f"{v:.1f}%" for v in part["accuracy (%)"]],
                                textposition="outside"))
    figure.update_layout(barmode="group", height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                         legend={"orientation": "h", "y": -0.2})
    figure.update_yaxes(title_text="test accuracy (%)", range=[0, 105])
    figure.update_xaxes(title_text="model")
    return _readable(figure)


def benchmark_model_ms(benchmark: Mapping | None) -> dict[str, float]:
    """Warm milliseconds of every model on a 30 s clip from ``benchmark.json`` (empty if absent)."""
    if not benchmark:
        return {}
    return {name: float(ms) for name, ms in benchmark.get("ours", {}).get("per_model_ms", {}).items()}


def tradeoff_table(training: Mapping | None, evaluation: Mapping | None, benchmark: Mapping | None,
                   models: Sequence[str] = MODEL_NAMES) -> pd.DataFrame:
    """Per model: test accuracy, parameters, model size, inference time, training time.

    A measure whose file is missing stays empty (None), so the page can say which file to make.
    """
    trained = (training or {}).get("models", {})
    tested = (evaluation or {}).get("test", {}).get("models", {})
    timed = benchmark_model_ms(benchmark)
    rows = []
    for name in models:
        if name not in trained and name not in tested:
            continue
        model = trained.get(name, {})
        rows.append({
            "model": MODEL_TITLES.get(name, name),
            "test accuracy (%)": 100 * tested[name]["clip_accuracy"] if name in tested else None,
            "parameters": model.get("parameters"),
            "file (KB)": model["size_bytes"] / 1024 if "size_bytes" in model else None,
            "ms per 30 s clip": timed.get(name),
            "training (s)": model.get("training_seconds"),
            "epochs": len(model.get("history", [])) or None,
        })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- how it works
def baseline_inputs(config: FeatureConfig, architecture: Sequence[Mapping] | None = None) -> int | None:
    """How many clip statistics the baseline reads: its input layer's width, else the configuration's list."""
    if architecture:
        return int(architecture[0]["output_shape"][-1])
    return len(getattr(config, "baseline_features", ())) or None


def pipeline_steps(name: str, config: FeatureConfig, architecture: Sequence[Mapping] | None = None,
                   levelled: bool = False) -> list[str]:
    """One model's path from waveform to genre, step by step, from the real configuration.

    Layer counts come from ``architecture`` (a ``training.json`` entry) when it is given; ``levelled``
    says the transfer model brings every recording to one loudness. A step's lines are separated by
    newlines.
    """
    def count(kind: str) -> int:
        return sum(1 for layer in architecture or [] if layer["type"] == kind)

    steps = [f"waveform\n{config.sample_rate:,} numbers/s"]
    if name == "musicnn":
        pretrained = PretrainedConfig()
        patch_s = pretrained.patch_frames * pretrained.hop_length / pretrained.sample_rate
        steps += [f"resampled\n{pretrained.sample_rate:,} numbers/s",
                  f"mel spectrogram\n{pretrained.n_mels} bands, "
                  f"{pretrained.sample_rate / pretrained.hop_length:.1f} columns/s",
                  *(["one loudness for every recording\n(quiet ones raised, loud ones lowered)"] if levelled else []),
                  "log scale\n(like our hearing)",
                  f"patches of {patch_s:.0f} s\nspread over the clip",
                  "musicnn (pretrained)\n50 tags: rock, jazz, 80s, ...",
                  "genre head\ntags to genres", "average over patches",
                  f"one of {len(GENRES)} genres"]
        return steps
    if name == "baseline":
        hidden = max(count("Dense") - 1, 0)
        steps += [f"{baseline_inputs(config, architecture) or 'clip'} statistics\n"
                  f"of the whole {config.unit_samples / config.sample_rate:.0f} s clip",
                  f"{hidden or 'stacked'} dense layers"]
    else:
        hop_s = config.window_hop_columns / config.column_rate_hz
        steps += [f"mel spectrogram\n{config.n_mels} bands, {config.column_rate_hz:.1f} columns/s",
                  f"windows of {config.window_seconds:.1f} s\none every {hop_s:.1f} s"]
        centred = ["each row minus its average\n(a speaker's EQ cancels out)"] if centres_over_time(architecture) else []
        if name == "cnn":
            steps += [f"picture\n{config.n_mels} × {config.window_columns}", *centred,
                      f"{count('Conv2D') or 'stacked'} convolution blocks\n3 × 3 filters", "average over time"]
        else:
            steps += [f"{config.window_columns} steps\nof {config.n_mfcc} MFCCs", *centred]
            if count("Conv1D"):
                steps.append("short patterns\n(a convolution over time)")
            steps.append(f"{count('LSTM') or 'stacked'} LSTM layers\n(with memory)")
        steps += ["genre per window", "average over windows"]
    steps.append(f"one of {len(GENRES)} genres")
    return steps


def pipeline_html(steps: Sequence[str]) -> str:
    """Steps as a column of boxes joined by arrows, in HTML, so the text is as large as the page's.

    (Streamlit scales a Graphviz drawing down to its column, which made the labels too small for a
    projector.)
    """
    box_style = ("border:1px solid #9bb3cf; border-radius:10px; background:#eef4fb; padding:0.35rem 0.5rem; "
                 "text-align:center; font-size:1.2rem; line-height:1.35; color:#1f2937;")
    boxes = [f'<div style="{box_style}">{"<br>".join(html.escape(line) for line in step.splitlines())}</div>'
             for step in steps]
    arrow = ('<div style="text-align:center; font-size:1.3rem; line-height:1.4; color:#4b5563;" '
             'aria-hidden="true">↓</div>')
    return f'<div role="list">{arrow.join(boxes)}</div>'


def accuracy_table(rows: Sequence[Mapping], clips: Mapping[str, int]) -> pd.DataFrame:
    """``core.serve.results.accuracy_rows`` as a table: one row per model and the verdict, a column per view (%)."""
    from core.serve.results import VIEW_SHORT, column_title

    columns = {key: column_title(key, clips[key]) for key in VIEW_SHORT if key in clips}
    return pd.DataFrame([{"model": row["model"], **{title: None if row.get(key) is None else 100 * row[key]
                                                     for key, title in columns.items()}} for row in rows],
                        columns=["model", *columns.values()])


def head_trials_table(trials: Sequence[Mapping]) -> pd.DataFrame:
    """The transfer head's validation trials (``training.json``), best first."""
    rows = [{"trained on": trial["mix"], "reads": trial["settings"]["features"], "L2": trial["settings"]["l2"],
             "tag prior": trial["settings"]["prior_strength"],
             **{f"valid {view} (%)": 100 * value for view, value in trial["valid"].items()},
             "mean (%)": 100 * trial["mean"]} for trial in trials]
    return pd.DataFrame(rows).sort_values("mean (%)", ascending=False, kind="stable").reset_index(drop=True)


def describe_head_choice(choice: Mapping) -> str:
    """A real-music head's settings in words (``core.learn.realhead.HeadChoice``)."""
    reads = {"tags": "MSD tags", "penultimate": "MSD penultimate units", "both": "MSD tags and penultimate units"}
    prior = {"none": "no tag prior", "pull": "pulled towards the genre tags", "anchor": "anchored on the genre tags"}
    return (f"{reads.get(choice['features'], choice['features'].replace('+', ' + '))}, {prior[choice['prior']]}, "
            f"L2 {choice['l2']:g}, a real clip = {choice['real_weight']:g} GTZAN clips, GTZAN {choice['gtzan_mix']}")


def fold_choices_table(fold_choices: Mapping[str, Mapping]) -> pd.DataFrame:
    """What each cross-validation fold chose without its own clips (``realworld_cv.fold_choices``)."""
    rows = []
    for fold, choice in sorted(fold_choices.items()):
        rows.append({"fold": int(fold), "learned from folds": ", ".join(str(f) for f in choice["trained_on_folds"]),
                     "transfer head": describe_head_choice(choice["head"]),
                     "head, inner CV (%)": 100 * choice["head_inner_accuracy"],
                     "verdict weights": ", ".join(f"{name} {weight:.1f}" for name, weight in choice["verdict_weights"].items()
                                                  if weight),
                     **{f"{name.upper()} epoch": epoch for name, epoch in choice["window_best_epochs"].items()}})
    return pd.DataFrame(rows)


def realworld_genre_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    """``core.serve.results.realworld_per_genre`` as a table: genre, clips, the verdict's recall (%)."""
    return pd.DataFrame([{"genre": row["genre"], "clips": row["clips"], "combined verdict right (%)": 100 * row["recall"]}
                         for row in rows])


def head_variants_table(variants: Mapping[str, Mapping]) -> pd.DataFrame:
    """Each family of transfer heads by nested grouped CV on the real recordings, best first."""
    rows = [{"head family": name, "real world, nested CV (%)": 100 * result["oof_accuracy"], "clips": result["clips"]}
            for name, result in variants.items()]
    return pd.DataFrame(rows).sort_values("real world, nested CV (%)", ascending=False, kind="stable") \
        .reset_index(drop=True)


NOT_MEASURED = "not measured"


def _measured(value) -> str:
    return NOT_MEASURED if value is None else f"{float(value):.1f}"


def benchmark_table(benchmark: Mapping | None) -> pd.DataFrame:
    """Serving cost from ``benchmark.json``: this app's path next to the common librosa + Keras way.

    Display strings: numbers to one decimal, "not measured" where a side has no figure.
    """
    if not benchmark:
        return pd.DataFrame(columns=["measure", "this app", "common way (librosa + Keras)"])
    ours, common = benchmark.get("ours", {}), benchmark.get("common", {})
    rows = [
        ("one 30 s clip, warm: decode + features + every model (ms)", "warm_ms"),
        ("from process start to the first result (s)", "cold_s"),
        ("peak memory (MB)", "peak_mb"),
    ]
    table = [{"measure": label, "this app": ours.get(key), "common way (librosa + Keras)": common.get(key)}
             for label, key in rows if key in ours or key in common]
    if "ten_minutes" in benchmark:
        table.append({"measure": "a 10-minute file, whole analysis (s)",
                      "this app": benchmark["ten_minutes"].get("seconds"), "common way (librosa + Keras)": None})
    return pd.DataFrame([{column: value if column == "measure" else _measured(value)
                          for column, value in row.items()} for row in table])


@dataclasses.dataclass(frozen=True)
class WindowInputs:
    """Exactly what the CNN and the LSTM read for one window of one unit."""

    start_s: float               # within the unit
    times_s: np.ndarray          # (window_columns,) time of every column within the unit
    cnn: np.ndarray              # (n_mels, window_columns) standardised dB, the CNN's picture
    lstm: np.ndarray             # (n_mfcc, window_columns) standardised MFCCs, the LSTM's sequence (time on x)


def centres_over_time(architecture: Sequence[Mapping] | None) -> bool:
    """Whether a network removes each band's average over the window first (``centred_over_time``)."""
    return any(layer["type"] == "Subtract" for layer in architecture or [])


def window_inputs(levels: np.ndarray, index: int, config: FeatureConfig, normalisation,
                  cnn_centred: bool = False, lstm_centred: bool = False) -> WindowInputs:
    """The model inputs of window ``index`` of a unit's levels, made by the serving code itself.

    With ``cnn_centred`` or ``lstm_centred`` each row is shown minus its average over the window,
    as that network's first layer reads it.
    """
    from core.serve.inputs import cnn_batch, db_windows, lstm_batch

    def as_read(rows: np.ndarray, centred: bool) -> np.ndarray:
        return rows - rows.mean(axis=1, keepdims=True) if centred else rows

    windows, starts = db_windows(levels, config)
    window = windows[index:index + 1]
    times = (starts[index] + np.arange(config.window_columns)) / config.column_rate_hz
    return WindowInputs(start_s=float(starts[index] / config.column_rate_hz), times_s=times,
                        cnn=as_read(cnn_batch(window, normalisation)[0, :, :, 0], cnn_centred),
                        lstm=as_read(lstm_batch(window, normalisation, config)[0].T, lstm_centred))


# ----------------------------------------------------------------------------- the examples gallery
RIGHT, WRONG = "✅", "❌"


def column_title(name: str) -> str:
    """A gallery column header: the short title with a capital (``"CNN"``, ``"Combined verdict"``)."""
    short = SHORT_TITLES.get(name, name)
    return short[:1].upper() + short[1:]


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


# ----------------------------------------------------------------------------- experiments
EXPERIMENT_VIEWS = {"test_accuracy": "test (%)", "mp3_accuracy": "test MP3s (%)", "mic_accuracy": "speaker → mic (%)",
                    "realworld_dev_accuracy": "real world (%)"}
# The original report's future work: (item, variant, the variant it is compared with).
FUTURE_WORK = (
    ("GRU instead of LSTM", "gru", "lstm"),
    ("Bidirectional LSTM", "bilstm", "lstm"),
    ("CRNN (convolutions, then a recurrent layer)", "crnn", "cnn"),
    ("Data augmentation, CNN", "cnn", "cnn_no_augmentation"),
    ("Data augmentation, LSTM", "lstm_recorded", "lstm_no_augmentation"),
    ("Simulated recordings for the LSTM", "lstm_recorded", "lstm"),
    ("Windows centred over time, CNN", "cnn_centred", "cnn"),
    ("Windows centred over time, LSTM", "lstm_centred", "lstm_recorded"),
    ("Transfer learning (pretrained musicnn)", "musicnn_frozen", "cnn_centred"),
    ("Fine-tuning the pretrained network (musicnn's backend)", "musicnn_finetuned", "musicnn_frozen"),
    ("Ensemble of the CNN and the LSTM", "cnn_plus_lstm", "cnn_centred"),
    ("Ensemble of every model (the shipped verdict)", "shipped_verdict", "cnn_centred"),
)


def _percent(value) -> float | None:
    return None if value is None else 100 * float(value)


def experiments_table(document: Mapping | None) -> pd.DataFrame:
    """``artifacts/experiments.json`` as a sortable table: validation mean ± spread over seeds, each view, cost."""
    rows = []
    for entry in (document or {}).get("variants", []):
        valid = entry.get("valid") or {}
        rows.append({
            "variant": entry["name"], "family": entry["family"],
            "valid mean (%)": _percent(valid.get("mean")),
            "± std (points)": _percent(valid.get("std")) if len(entry.get("valid_accuracy", [])) > 1 else None,
            "seeds": len(entry.get("valid_accuracy", [])),
            **{title: _percent(entry.get(key)) for key, title in EXPERIMENT_VIEWS.items()},
            "parameters": entry.get("parameters"), "ms per clip": entry.get("ms_per_clip"),
            "training (s)": entry.get("training_seconds"), "shipped": bool(entry.get("shipped")),
            "what it is": entry.get("description", ""),
        })
    return pd.DataFrame(rows)


def experiments_figure(table: pd.DataFrame) -> go.Figure:
    """Accuracy against cost: validation mean ± std over seeds (filled) and test (hollow), per variant."""
    figure = go.Figure()
    timed = table.dropna(subset=["ms per clip"])
    for family, rows in timed.groupby("family", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["ms per clip"], y=rows["valid mean (%)"], mode="markers+text", name=f"{family}: validation",
            text=rows["variant"], textposition="top center", marker={"size": 12}, cliponaxis=False,
            error_y={"type": "data", "array": rows["± std (points)"].fillna(0), "visible": True},
            hovertemplate="%{text}<br>%{x:.1f} ms per clip<br>validation %{y:.1f}%<extra></extra>"))
        figure.add_trace(go.Scatter(
            x=rows["ms per clip"], y=rows["test (%)"], mode="markers", name=f"{family}: test",
            marker={"size": 11, "symbol": "circle-open", "line": {"width": 2}}, text=rows["variant"],
            hovertemplate="%{text}<br>%{x:.1f} ms per clip<br>test %{y:.1f}%<extra></extra>"))
    ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]   # full-size labels only
    figure.update_layout(height=460, xaxis={"title": "ms per 30 s clip (model alone, log scale)", "type": "log",
                                            "tickvals": ticks, "ticktext": [str(value) for value in ticks]},
                         yaxis={"title": "clip accuracy (%)"}, legend={"orientation": "h", "y": -0.25},
                         margin={"l": 10, "r": 70, "t": 30, "b": 10})
    return _readable(figure)


def _difference(entry: Mapping, reference: Mapping) -> str:
    """Better, worse or within seed noise on validation: a gap larger than both variants' std over seeds."""
    a, b = entry.get("valid") or {}, reference.get("valid") or {}
    if not a or not b:
        return "not comparable on validation"
    noise = max(a.get("std", 0.0), b.get("std", 0.0), 0.01)
    gap = a["mean"] - b["mean"]
    if abs(gap) <= noise:
        return "within seed noise on validation"
    return f"{'better' if gap > 0 else 'worse'} on validation by {100 * abs(gap):.1f} points"


def future_work_sentences(document: Mapping | None) -> list[str]:
    """One sentence per future-work item of the original report that the file can answer, from its numbers."""
    entries = {entry["name"]: entry for entry in (document or {}).get("variants", [])}
    sentences = []
    for item, name, reference in FUTURE_WORK:
        if name not in entries or reference not in entries:
            continue
        entry, base = entries[name], entries[reference]
        views = "; ".join(
            f"{title.replace(' (%)', '')} {_measured_percent(entry.get(key))} against {_measured_percent(base.get(key))}"
            for key, title in EXPERIMENT_VIEWS.items())
        valid, seeds = entry.get("valid") or {}, len(entry.get("valid_accuracy", []))
        sentences.append(
            f"**{item}** (`{name}` against `{reference}`): {_difference(entry, base)} "
            f"({100 * valid.get('mean', float('nan')):.1f}% over {seeds} seed{'s' if seeds != 1 else ''}); "
            f"{views}.")
    return sentences


def _measured_percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
