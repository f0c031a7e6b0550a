"""What How it works draws: each model's path from waveform to genre, from the real configuration, and
exactly what the CNN and the LSTM read for one window."""

from __future__ import annotations

import dataclasses
import html
from typing import Mapping, Sequence

import numpy as np

from core.serve.config import GENRES, FeatureConfig, PretrainedConfig


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
