"""What an analysed clip is, for everything that shows or counts it: the app, ``core.predict``, ``core.evaluate``.

``GenreClassifier.analyse`` (``core.serve.inference``) is the one path from a clip's bytes, file or
decoded samples to an :class:`Analysis`: what decoding found, every model's window and clip
probabilities, the combined verdict, the representation the pages draw (the waveform's envelope, the
mel spectrogram and the MFCCs as the models read them) and the tagger's mean outputs, so the pages only
cache and draw it.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from core.serve.catalog import VERDICT
from core.serve.config import GENRES, FeatureConfig
from core.serve.pretrained import TaggerHeard
from core.serve.representation import levels_to_db, mfcc_from_db

ENVELOPE_POINTS = 2000        # rows of a waveform's envelope: about one per pixel of a wide plot


@dataclasses.dataclass(frozen=True)
class ModelPrediction:
    """What one model says about a clip, and how its opinion moves through the clip."""

    model: str
    genre: str
    probabilities: np.ndarray          # (10,) the clip's: the windows' mean (the transfer head may pool its own way)
    window_probabilities: np.ndarray   # (windows, 10)
    window_starts_s: np.ndarray        # (windows,) start of each window in the clip
    window_seconds: float              # length of one window
    seconds: float                     # time this model took, input preparation included

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())

    def ranked(self) -> list[tuple[str, float]]:
        """Genres from most to least likely."""
        order = np.argsort(-self.probabilities)
        return [(GENRES[index], float(self.probabilities[index])) for index in order]


@dataclasses.dataclass(frozen=True)
class Envelope:
    """A waveform reduced to rows of (time, lowest, highest sample), for plotting."""

    time_s: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclasses.dataclass(frozen=True)
class Analysis:
    """A classified clip: what decoding found, every model's prediction, and what the models read.

    The decoded samples are not kept (a 10-minute file is 53 MB of float32); their envelope is.
    """

    predictions: dict[str, ModelPrediction]
    verdict: ModelPrediction | None    # the models combined (None without artifacts/verdict.json)
    unit_levels: list[np.ndarray]      # the mel representation of each analysed 30 s unit
    unit_starts_s: list[float]
    duration_s: float
    analysed_s: float
    truncated: bool
    notices: tuple[str, ...]
    feature_seconds: float             # representation of every unit
    format: str                        # of the source, e.g. "WAV (PCM 16-bit)", "MP3"
    channels: int
    source_sample_rate: int
    envelope: Envelope
    mel_db: np.ndarray                 # (n_mels, columns) every unit side by side, dB below its loudest point
    column_times_s: np.ndarray         # (columns,) time of every column in the clip
    mfcc: np.ndarray                   # (n_mfcc, columns) standardised with the training list's statistics
    heard: TaggerHeard | None          # the musicnn tagger's mean outputs (None without the transfer model)

    def outcomes(self) -> dict[str, ModelPrediction]:
        """Every model's prediction and, last, the combined verdict when there is one."""
        return self.predictions | ({VERDICT: self.verdict} if self.verdict is not None else {})


def waveform_envelope(samples: np.ndarray, sample_rate: int, points: int = ENVELOPE_POINTS) -> Envelope:
    """The waveform reduced to at most ``points`` (time, min, max) rows, for plotting.

    Each row covers an equal stretch of samples and keeps its lowest and highest value, so peaks
    survive the reduction. A signal of at most ``points`` samples is kept sample by sample.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) <= points:
        return Envelope(np.arange(len(samples)) / sample_rate, samples, samples)
    edges = np.linspace(0, len(samples), points + 1).astype(np.int64)
    low = np.minimum.reduceat(samples, edges[:-1])
    high = np.maximum.reduceat(samples, edges[:-1])
    return Envelope((edges[:-1] + edges[1:]) / 2 / sample_rate, low, high)


def clip_db(unit_levels: Sequence[np.ndarray], unit_starts_s: Sequence[float],
            config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """The analysed units' mel spectrogram in dB side by side, and the time of every column (s).

    This is the representation the models saw (``Analysis.unit_levels``), nothing is recomputed.
    """
    db = np.concatenate([levels_to_db(levels, config) for levels in unit_levels], axis=1)
    times = np.concatenate([start + np.arange(levels.shape[1]) / config.column_rate_hz
                            for levels, start in zip(unit_levels, unit_starts_s)])
    return db, times


def standardised_mfcc(db: np.ndarray, config: FeatureConfig, normalisation) -> np.ndarray:
    """The MFCCs of a dB mel spectrogram standardised with the training list's statistics, as the LSTM reads them."""
    return (mfcc_from_db(db, config) - normalisation.mfcc_mean[:, None]) / normalisation.mfcc_std[:, None]
