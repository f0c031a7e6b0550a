"""What the Comparison page draws (and Home's accuracy table): published results beside this product's,
the honest and the leaky protocol, every view's accuracy, real music per genre, and serving cost."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from core.app.style import readable, short_title
from core.serve.catalog import MODEL_NAMES, MODEL_TITLES


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
    return readable(figure)


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


ACCURACY_HEADINGS = {"test": "test images", "mp3": "test MP3s", "captured": "speaker → mic", "realworld": "real world"}


def accuracy_table(rows: Sequence[Mapping], clips: Mapping[str, int]) -> tuple[pd.DataFrame, dict[str, str]]:
    """``core.serve.results.accuracy_rows`` as a table: one row per model and the verdict, a column per view (%);
    and each column's help, what its view measures.

    The headings are short ("real world (115)"): the table must fit a laptop's page, where a long heading
    widened its column beyond the page's edge and hid the figures, right-aligned, with it.
    """
    from core.serve.results import VIEWS

    columns = {key: f"{ACCURACY_HEADINGS[key]} ({clips[key]})" for key in ACCURACY_HEADINGS if key in clips}
    table = pd.DataFrame([{"model": row["model"], **{title: None if row.get(key) is None else 100 * row[key]
                                                      for key, title in columns.items()}} for row in rows],
                         columns=["model", *columns.values()])
    described = dict(VIEWS)
    return table, {title: f"Accuracy (%) on the {described[key]} ({clips[key]} clips)" for key, title in columns.items()}


def realworld_genre_frame(rows: Sequence[Mapping]) -> pd.DataFrame:
    """``core.serve.results.realworld_per_genre`` as a table: genre, clips, the verdict's recall (%)."""
    return pd.DataFrame([{"genre": row["genre"], "clips": row["clips"], "combined verdict right (%)": 100 * row["recall"]}
                         for row in rows])


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
        ("the feature baseline's 53 clip statistics of 30 s, one thread (ms)", "clip_statistics_ms"),
    ]
    table = [{"measure": label, "this app": ours.get(key), "common way (librosa + Keras)": common.get(key)}
             for label, key in rows if key in ours or key in common]
    library = benchmark.get("library", {})
    if "ms_per_clip_after_first" in library:
        table.append({"measure": f"python -m core.predict, per clip after the first ({library.get('source', 'the bundled examples')}, ms)",
                      "this app": library["ms_per_clip_after_first"], "common way (librosa + Keras)": None})
    if "ten_minutes" in benchmark:
        table.append({"measure": "a 10-minute file, whole analysis (s)",
                      "this app": benchmark["ten_minutes"].get("seconds"), "common way (librosa + Keras)": None})
    return pd.DataFrame([{column: value if column == "measure" else _measured(value)
                          for column, value in row.items()} for row in table])
