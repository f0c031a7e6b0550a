"""Audio to the GTZAN-image mel representation, in plain NumPy.

The GTZAN spectrogram images (``RECIPE.md``) were made with librosa 0.7.2 and matplotlib; this module
computes the very same 128-band, 256-level matrix from any audio without importing either, so the
serving path stays light. Tests check it against librosa and against the images themselves.

Vocabulary:
  unit     a stretch of audio analysed like one GTZAN clip (30 s), normalised on its own;
  levels   the unit's mel spectrogram as 256 levels (uint8, mel band x column), what an image shows;
  column   one of the STFT frames an image shows, about 11.1 per second.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator

import numpy as np

from core.serve.config import FeatureConfig, PretrainedConfig

# A unit up to this many times the reference length is analysed whole, like a GTZAN clip
# (29.98 s to 30.65 s); a longer signal is cut into reference-length units.
_WHOLE_UNIT_TOLERANCE = 1.05
# A unit at least this fraction of the reference length uses its own frame count for the column
# positions, as the images do; a shorter one keeps the reference column spacing.
_FULL_UNIT_FRACTION = 0.95
_STFT_BLOCK = 64             # frames per FFT batch
_MEL_BLOCK_BANDS = 4         # mel bands per block of the filter bank's product


# ----------------------------------------------------------------------------- mel filter bank
def _hz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa, ``htk=False``)."""
    frequencies = np.asanyarray(frequencies, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = frequencies / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    above = frequencies >= min_log_hz
    mels[above] = min_log_mel + np.log(frequencies[above] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asanyarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    above = mels >= min_log_mel
    freqs[above] = min_log_hz * np.exp(logstep * (mels[above] - min_log_mel))
    return freqs


@functools.lru_cache(maxsize=4)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-normalised triangular mel filters, identical to ``librosa.filters.mel`` defaults."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0],
                                       _hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    widths = np.diff(mel_edges)
    ramps = np.subtract.outer(mel_edges, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float32)
    for band in range(n_mels):
        lower = -ramps[band] / widths[band]
        upper = ramps[band + 2] / widths[band + 1]
        weights[band] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_edges[2:n_mels + 2] - mel_edges[:n_mels]))[:, np.newaxis]
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=4)
def _hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window('hann', n_fft)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)


# ----------------------------------------------------------------------------- spectrogram
def frames(samples: np.ndarray, config: FeatureConfig | PretrainedConfig, pad_mode: str = "reflect") -> np.ndarray:
    """Centred analysis frames (frames x n_fft, a read-only float32 view), reflect-padded like librosa 0.7.

    ``pad_mode="constant"`` pads with zeros instead, as librosa 0.10 and later do by default.
    """
    samples = np.asarray(samples, dtype=np.float32)
    pad = config.n_fft // 2
    padded = np.pad(samples, pad, mode=pad_mode)
    n_frames = 1 + (len(padded) - config.n_fft) // config.hop_length
    return np.lib.stride_tricks.as_strided(
        padded,
        shape=(n_frames, config.n_fft),
        strides=(padded.strides[0] * config.hop_length, padded.strides[0]),
        writeable=False,
    )


def stft(samples: np.ndarray, config: FeatureConfig | PretrainedConfig, pad_mode: str = "reflect") -> np.ndarray:
    """Complex spectra of the Hann-windowed frames (frames x bins, complex64).

    The numbers of ``librosa.stft(y, pad_mode=pad_mode).T``: float64 FFTs rounded to complex64.
    """
    framed = frames(samples, config, pad_mode)
    spectrum = np.empty((len(framed), config.n_fft // 2 + 1), dtype=np.complex64)
    for start, block in _spectrum_blocks(framed, config):
        spectrum[start:start + len(block)] = block
    return spectrum


def magnitudes(samples: np.ndarray, config: FeatureConfig | PretrainedConfig, pad_mode: str = "reflect") -> np.ndarray:
    """``np.abs(stft(samples, config, pad_mode)).T`` (bins x frames, float32, laid out as librosa holds
    it), each block of frames turned while it is in the CPU cache and no complex spectrum kept."""
    framed = frames(samples, config, pad_mode)
    magnitude = np.empty((config.n_fft // 2 + 1, len(framed)), dtype=np.float32)
    for start, block in _spectrum_blocks(framed, config):
        magnitude[:, start:start + len(block)] = np.abs(block).T
    return magnitude


def _spectrum_blocks(framed: np.ndarray, config: FeatureConfig | PretrainedConfig) -> Iterator[tuple[int, np.ndarray]]:
    """(first frame, complex64 spectra) of ``_STFT_BLOCK`` frames at a time: the float64 temporaries
    stay in the CPU cache, and a 10-minute file never has all its frames in float64."""
    window = _hann_window(config.n_fft)
    for start in range(0, len(framed), _STFT_BLOCK):
        yield start, np.fft.rfft(framed[start:start + _STFT_BLOCK] * window, axis=1).astype(np.complex64)


@dataclasses.dataclass(frozen=True)
class Spectrogram:
    """A stretch of audio's STFT magnitude and mel power, computed once for everything that reads them:
    serving makes each unit's image levels and the baseline's clip statistics from one."""

    magnitude: np.ndarray        # (bins, frames) float32: |stft|, laid out as librosa holds it
    mel: np.ndarray              # (n_mels, frames) float32: the mel power spectrogram

    @classmethod
    def of(cls, samples: np.ndarray, config: FeatureConfig | PretrainedConfig,
           pad_mode: str = "reflect") -> "Spectrogram":
        """The spectrogram of ``samples``, their frames centred and padded with ``pad_mode``."""
        magnitude = magnitudes(samples, config, pad_mode)
        return cls(magnitude, _mel_bands(magnitude * magnitude, config))


def _mel_bands(power: np.ndarray, config: FeatureConfig | PretrainedConfig) -> np.ndarray:
    """``mel_filterbank(...) @ power``: the mel power (n_mels x frames, float32) of a power spectrogram
    (bins x frames), each block of bands multiplied with only the bins its filters cover.

    A filter is zero outside a few bins, so the blocks hold about a twentieth of the full product's
    terms; leaving the zeros out changes a value by float32 rounding only (a few units in its last place).
    """
    mel = np.empty((config.n_mels, power.shape[1]), dtype=np.float32)
    for bands, bins, weights in _mel_blocks(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax):
        np.matmul(weights, power[bins], out=mel[bands])
    return mel


@functools.lru_cache(maxsize=4)
def _mel_blocks(sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                fmax: float) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """The mel filter bank cut into ``_MEL_BLOCK_BANDS`` bands at a time: (bands, the bins their
    filters cover, those weights)."""
    basis = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    blocks = []
    for first in range(0, n_mels, _MEL_BLOCK_BANDS):
        bands = slice(first, min(first + _MEL_BLOCK_BANDS, n_mels))
        covered = np.flatnonzero(basis[bands].any(axis=0))
        bins = slice(int(covered[0]), int(covered[-1]) + 1) if len(covered) else slice(0, 0)
        blocks.append((bands, bins, np.ascontiguousarray(basis[bands, bins])))
    return tuple(blocks)


def mel_power(samples: np.ndarray, config: FeatureConfig | PretrainedConfig, pad_mode: str = "reflect") -> np.ndarray:
    """Mel power spectrogram (n_mels x frames, float32) of centred frames padded with ``pad_mode``."""
    return Spectrogram.of(samples, config, pad_mode).mel


def power_as_db(mel: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.amplitude_to_db(mel, ref=np.max)`` as the images used it (power taken as amplitude)."""
    magnitude = np.abs(mel)
    ref = magnitude.max()
    squared = np.square(magnitude)
    amin = config.amin ** 2
    db = 10.0 * np.log10(np.maximum(amin, squared))
    db -= 10.0 * np.log10(np.maximum(amin, ref ** 2))
    return np.maximum(db, db.max() - config.top_db)


def quantise(db: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Per-unit min-max normalisation to ``config.levels`` levels, as matplotlib coloured the images."""
    low, high = float(db.min()), float(db.max())
    if high <= low:
        return np.zeros(db.shape, dtype=np.uint8)
    scaled = (db - np.float32(low)) / np.float32(high - low)
    levels = np.floor(scaled * np.float32(config.levels))
    return np.clip(levels, 0, config.levels - 1).astype(np.uint8)


def _snap(value: np.ndarray) -> np.ndarray:
    """The renderer's pixel snapping: ``floor(round(256 v) / 256)``."""
    return np.floor(np.round(256.0 * value) / 256.0)


def column_frames(n_frames: int, config: FeatureConfig) -> np.ndarray:
    """Indices of the STFT frames an image shows, one per data column.

    A unit of at least 95% of the reference length is drawn like a GTZAN image: ``image_columns``
    columns spread over its own ``n_frames``. A shorter unit keeps the reference spacing and simply
    has fewer columns, so time runs at the same rate in every unit.
    """
    full = n_frames >= _FULL_UNIT_FRACTION * config.reference_frames
    spread = n_frames if full else config.reference_frames
    left_edges = _snap(config.image_x0 + np.arange(spread) * config.image_plot_width / spread)
    columns = np.arange(config.image_x0 + 1, config.image_x0 + 1 + config.image_columns)
    # Frame shown at column x: the last frame whose left edge is at or before x.
    frames = np.searchsorted(left_edges, columns, side="right") - 1
    return frames[frames < n_frames]


def unit_levels(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """One unit of audio to its image levels (uint8, n_mels x columns)."""
    return mel_levels(mel_power(samples, config), config)


def mel_levels(mel: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """A unit's mel power spectrogram to its image levels (uint8, n_mels x columns)."""
    frames = column_frames(mel.shape[1], config)
    return quantise(power_as_db(mel, config), config)[:, frames]


def unit_bounds(n_samples: int, config: FeatureConfig) -> list[tuple[int, int]]:
    """Split a signal into analysis units: ``(start, stop)`` sample indices.

    Up to 1.05 units (every GTZAN clip) is one unit. Longer signals are cut into consecutive
    reference-length units; a remaining tail shorter than one model window is dropped, since the
    windows of the previous unit already cover the music around it.
    """
    if n_samples <= _WHOLE_UNIT_TOLERANCE * config.unit_samples:
        return [(0, n_samples)]
    window_samples = int(config.window_seconds * config.sample_rate)
    bounds = []
    for start in range(0, n_samples, config.unit_samples):
        stop = min(start + config.unit_samples, n_samples)
        if stop - start >= window_samples or start == 0:
            bounds.append((start, stop))
    return bounds


# ----------------------------------------------------------------------------- model inputs
def levels_to_db(levels: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Levels back to dB relative to the unit's maximum, at the centre of each level's bin."""
    return (config.top_db * (levels.astype(np.float32) + 0.5) / config.levels - config.top_db).astype(np.float32)


@functools.lru_cache(maxsize=4)
def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II basis (``scipy.fft.dct(..., type=2, norm='ortho')``), n_mfcc x n_mels."""
    k = np.arange(n_mfcc)[:, np.newaxis]
    n = np.arange(n_mels)[np.newaxis, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def mfcc_from_db(db: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """MFCCs (n_mfcc x columns) of a dB mel spectrogram, as ``librosa.feature.mfcc(S=db)``."""
    return dct_matrix(config.n_mfcc, db.shape[0]) @ db


def window_starts(n_columns: int, window: int, hop: int) -> np.ndarray:
    """Start columns of the analysis windows; the last window ends at the last column."""
    if n_columns <= window:
        return np.array([0])
    starts = np.arange(0, n_columns - window + 1, hop)
    if starts[-1] + window < n_columns:
        starts = np.append(starts, n_columns - window)
    return starts


def fit_columns(matrix: np.ndarray, width: int) -> np.ndarray:
    """Loop a matrix (features x columns) along time until it is at least ``width`` columns wide.

    Clips shorter than one model window are repeated rather than padded with silence: the models
    never saw silence inside a clip, and a repeated bar of music still sounds like its genre.
    """
    if matrix.shape[1] >= width:
        return matrix
    repeats = -(-width // matrix.shape[1])
    return np.tile(matrix, (1, repeats))[:, :width]
