"""Where the CNN listened: an occlusion map of its answer over a clip's mel spectrogram.

One patch of the spectrogram at a time (``BAND_ROWS`` mel bands by about ``PATCH_SECONDS``) is hidden
from every CNN window that sees it, and the fall of the CNN's clip probability for its answer is that
patch's importance. A hidden patch takes each band's mean over the window: the CNN first removes that
mean (``centred_over_time`` in training), so what it sees there is about zero, neither loud nor quiet.
The masked windows go through the CNN in batches; a 30 s clip needs about a thousand of them.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Sequence

import numpy as np

from core.serve.config import GENRES, FeatureConfig
from core.serve.inputs import Normalisation, cnn_batch, db_windows

BAND_ROWS = 16            # mel bands hidden at once: 128 bands make 8 rows of patches
PATCH_SECONDS = 0.5       # about this long (a whole number of spectrogram columns)
MASKED_AT_ONCE = 256      # masked windows built and run together (4 MB of input)


@dataclasses.dataclass(frozen=True)
class OcclusionMap:
    """How much the CNN's clip probability for its answer falls when each patch is hidden."""

    genre: str                 # the CNN's answer
    probability: float         # its clip probability, nothing hidden
    drops: np.ndarray          # (band rows, time patches) the fall with that patch hidden (negative: it rose)
    band_edges: np.ndarray     # (band rows + 1,) first mel band of each row, then the number of bands
    time_edges_s: np.ndarray   # (time patches + 1,) in the clip's time, on the spectrogram's column grid
    seconds: float             # time taken


def occlusion_map(run: Callable[[np.ndarray], np.ndarray], unit_levels: Sequence[np.ndarray],
                  unit_starts_s: Sequence[float], window_probabilities: np.ndarray, config: FeatureConfig,
                  normalisation: Normalisation, progress: Callable[[float], None] | None = None) -> OcclusionMap:
    """The occlusion map of a clip's units (``Analysis.unit_levels``), given the CNN's window probabilities
    with nothing hidden (its ``ModelPrediction.window_probabilities``) and ``run``, which takes a batch of
    CNN inputs to probabilities. ``progress`` gets the fraction done after every batch.
    """
    started = time.perf_counter()
    genre = int(window_probabilities.mean(axis=0).argmax())
    base = window_probabilities[:, genre]
    patch_columns = max(1, round(PATCH_SECONDS * config.column_rate_hz))
    band_row = np.arange(config.n_mels) // BAND_ROWS
    rows = int(band_row[-1]) + 1
    units, edges, first_window, first_patch = [], [], 0, 0
    for levels, start_s in zip(unit_levels, unit_starts_s):
        windows, starts = db_windows(levels, config)
        columns = levels.shape[1]
        # The patch under every column of every window (a unit shorter than a window is looped to fill it).
        patch = (starts[:, None] + np.arange(config.window_columns)) % columns // patch_columns
        hidden = [(window, row, first_patch + seen) for window in range(len(windows))
                  for seen in np.unique(patch[window]) for row in range(rows)]
        units.append((cnn_batch(windows, normalisation)[..., 0], patch + first_patch, first_window, hidden))
        column_edges = np.append(np.arange(0, columns, patch_columns), columns)
        edges.append(start_s + (column_edges - 0.5) / config.column_rate_hz)
        first_window += len(windows)
        first_patch += len(column_edges) - 1
    drops = np.zeros((rows, first_patch))
    total, done = sum(len(hidden) for *_, hidden in units), 0
    for inputs, patch, offset, hidden in units:
        for chunk in range(0, len(hidden), MASKED_AT_ONCE):
            window, row, column_patch = np.array(hidden[chunk:chunk + MASKED_AT_ONCE]).T
            clean = inputs[window]
            mask = ((band_row[None, :, None] == row[:, None, None])
                    & (patch[window][:, None, :] == column_patch[:, None, None]))
            masked = np.where(mask, clean.mean(axis=2, keepdims=True), clean)
            fallen = base[offset + window] - run(masked[..., np.newaxis])[:, genre]
            np.add.at(drops, (row, column_patch), fallen / len(base))
            done += len(window)
            if progress is not None:
                progress(done / total)
    time_edges = np.concatenate([unit_edges[:-1] for unit_edges in edges] + [edges[-1][-1:]])
    band_edges = np.append(np.arange(rows) * BAND_ROWS, config.n_mels)
    return OcclusionMap(GENRES[genre], float(base.mean()), drops, band_edges, time_edges, time.perf_counter() - started)
