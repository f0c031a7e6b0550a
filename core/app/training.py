"""What the Training page draws: the protocol in words, learning curves, architectures, settings, test
scores, the transfer head's trials and what each cross-validation fold chose."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.app.style import PROBABILITY_CMAP, heatmap_figure, readable
from core.serve.config import GENRES


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
    return readable(figure)


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


def head_variants_table(variants: Mapping[str, Mapping]) -> pd.DataFrame:
    """Each family of transfer heads by nested grouped CV on the real recordings, best first."""
    rows = [{"head family": name, "real world, nested CV (%)": 100 * result["oof_accuracy"], "clips": result["clips"]}
            for name, result in variants.items()]
    return pd.DataFrame(rows).sort_values("real world, nested CV (%)", ascending=False, kind="stable") \
        .reset_index(drop=True)
