"""What the Experiments page draws from ``artifacts/experiments.json``: the variants as a table, accuracy
against cost, and one sentence per future-work item of the original report."""

from __future__ import annotations

from typing import Mapping

import pandas as pd
import plotly.graph_objects as go

from core.app.style import readable

EXPERIMENT_VIEWS = {"test_accuracy": "test (%)", "mp3_accuracy": "test MP3s (%)", "mic_accuracy": "speaker → mic (%)",
                    "realworld_dev_accuracy": "real world, earlier dev set (%)"}


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
    return readable(figure)


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
