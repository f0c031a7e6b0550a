"""The 57 clip statistics of GTZAN's ``features_30_sec.csv``, computed from audio in NumPy and SciPy.

The feature baseline model is trained on that table, so at inference a clip must be described by the
very same numbers. They were made with librosa's default features; this module recomputes them
without importing librosa, whose numba JIT costs seconds and tens of MB on the first call. They read
the unit's ``representation.Spectrogram``, the very magnitude, power and mel power its image levels
come from, so serving computes those once per unit (only the harmonic/percussive statistics, which
serving does not ask for, recompute the complex STFT); every statistic is then a few whole-array
operations.

The table was made with an older librosa than 0.11, and three of its choices differ from 0.11's defaults
(checked on the lossless clips, where each reproduces the table to float32 precision):

* frames are reflect-padded (``pad_mode='reflect'``), not zero-padded;
* the HPSS signals come from an inverse STFT without ``length``, zero-padded to the clip's length,
  so their last ``len % hop_length`` samples are silent;
* the tempo's onset strength is the median over mel bands (what ``librosa.beat.beat_track`` uses),
  not the mean.

Each statistic is the mean and the population variance over all values of a frame-wise feature
(or of the samples of the HPSS signals).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft
import scipy.ndimage

from core.serve.config import FeatureConfig
from core.serve.representation import Spectrogram, _hann_window, stft

_SPECTRAL_STATISTICS = (
    "chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth", "rolloff",
    "zero_crossing_rate", "harmony", "perceptr",
)
_N_MFCC = 20                                 # the table's MFCCs (librosa's default)
FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"{name}_{stat}" for name in _SPECTRAL_STATISTICS for stat in ("mean", "var"))
    + ("tempo",)
    + tuple(f"mfcc{k}_{stat}" for k in range(1, _N_MFCC + 1) for stat in ("mean", "var"))
)

# librosa's defaults for each feature.
_TINY32 = np.finfo(np.float32).tiny          # librosa.util.tiny of float32 data: "no energy"
_N_CHROMA = 12
_PITCH_FMIN, _PITCH_FMAX, _PITCH_THRESHOLD = 150.0, 4000.0, 0.1   # piptrack
_TUNING_RESOLUTION = 0.01                                          # estimate_tuning, in bins
_ROLL_PERCENT = 0.85
_ZERO_THRESHOLD = np.float32(1e-10)          # zero_crossings: |x| at or below this counts as zero
_HPSS_KERNEL = 31
_START_BPM, _STD_OCTAVES, _MAX_BPM = 120.0, 1.0, 320.0
_AUTOCORRELATION_SECONDS = 8.0
_SHAPE_FRAMES = 128                          # frames per float64 block of the spectral moments
_TEMPOGRAM_FRAMES = 64                       # onset windows per FFT batch: its arrays stay in the CPU cache


def clip_features(samples: np.ndarray, config: FeatureConfig, names: tuple[str, ...] = FEATURE_NAMES,
                  spectrogram: Spectrogram | None = None) -> np.ndarray:
    """The statistics ``names`` (default: all 57 of the table) for one unit of mono audio (float64).

    The harmonic/percussive separation, most of the cost, runs only when a ``harmony_*`` or
    ``perceptr_*`` statistic is asked for. ``spectrogram`` is the samples' ``Spectrogram`` when the
    caller already has it.
    """
    samples = np.asarray(samples, dtype=np.float32)
    spectrogram = Spectrogram.of(samples, config) if spectrogram is None else spectrogram
    magnitude = spectrogram.magnitude                           # bins x frames, as librosa holds it
    mel_db = _power_to_db(spectrogram.mel, config)
    centroid, bandwidth, rolloff = _spectral_shape(magnitude, config)
    frame_features = {
        "chroma_stft": _chroma(spectrogram.power, config), "rms": _rms(samples, config), "spectral_centroid": centroid,
        "spectral_bandwidth": bandwidth, "rolloff": rolloff,
        "zero_crossing_rate": _zero_crossing_rate(samples, config),
    }
    if any(name.startswith(("harmony_", "perceptr_")) for name in names):
        spectrum = stft(samples, config)
        frame_features["harmony"], frame_features["perceptr"] = _hpss(spectrum, np.abs(spectrum), magnitude,
                                                                      len(samples), config)
    values = {f"{name}_{stat}": value for name, series in frame_features.items()
              for stat, value in zip(("mean", "var"), _mean_var(series))}
    values["tempo"] = _tempo(mel_db, config)
    mfcc = scipy.fft.dct(mel_db, type=2, norm="ortho", axis=0)[:_N_MFCC]
    for k, mean, variance in zip(range(1, _N_MFCC + 1), mfcc.mean(axis=1), mfcc.var(axis=1)):
        values[f"mfcc{k}_mean"], values[f"mfcc{k}_var"] = float(mean), float(variance)
    return np.array([values[name] for name in names], dtype=np.float64)


def _mean_var(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.var(values))


def _power_to_db(power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.power_to_db(power)``: dB re 1.0, floored at 1e-10 (the square of the amplitude floor
    ``amin``) and at ``top_db`` below the peak."""
    db = 10.0 * np.log10(np.maximum(config.amin ** 2, power))
    return np.maximum(db, db.max() - config.top_db)


def _fft_frequencies(config: FeatureConfig) -> np.ndarray:
    return np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)


# ----------------------------------------------------------------------------- chroma
def _chroma(power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.feature.chroma_stft`` (12 x frames): tuned chroma filters, each frame scaled to a
    peak of 1."""
    tuning = _estimate_tuning(power, config)
    raw = _chroma_filterbank(config.sample_rate, config.n_fft, tuning) @ power
    peak = raw.max(axis=0)
    return raw / np.where(peak < _TINY32, 1.0, peak)


def _estimate_tuning(power: np.ndarray, config: FeatureConfig) -> float:
    """``librosa.estimate_tuning``: the commonest deviation from A440, in fractions of a semitone,
    of the stronger half of the spectral peaks."""
    pitches, magnitudes = _spectral_peaks(power, config)
    if len(pitches) == 0:
        return 0.0
    strong = pitches[magnitudes >= np.median(magnitudes)]
    octaves = np.log2(strong / (440.0 / 16))
    residual = np.mod(_N_CHROMA * octaves, 1.0)
    residual[residual >= 0.5] -= 1.0
    edges = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / _TUNING_RESOLUTION)) + 1)
    counts, _ = np.histogram(residual, edges)
    return float(edges[np.argmax(counts)])


def _spectral_peaks(power: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.piptrack`` on the power spectrum (bins x frames): the parabolically interpolated
    frequency and height (float32) of each local maximum between 150 Hz and 4 kHz that exceeds a
    tenth of its frame's maximum."""
    freqs = _fft_frequencies(config)
    in_range = np.flatnonzero((_PITCH_FMIN <= freqs) & (freqs < _PITCH_FMAX))
    first, last = in_range[0], in_range[-1]
    band = power[first - 1:last + 2]                     # the range and one neighbour either side
    below, centre, above = band[:-2], band[1:-1], band[2:]
    # librosa zeroes the values at or below the threshold, then keeps each value above the one below it
    # and at least the one above it. A value above the threshold is above a zeroed neighbour anyway, so
    # the peaks are the values above the threshold and above (at least) their neighbours as they are.
    # The peaks' order does not matter (a median and a histogram read them): np.divmod of the flat
    # indices finds them several times faster than np.nonzero of the 2-D mask.
    peak = centre > _PITCH_THRESHOLD * power.max(axis=0)
    peak &= centre > below
    peak &= centre >= above
    offset, frame = np.divmod(np.flatnonzero(peak), power.shape[1])
    left, middle, right = band[offset, frame], band[offset + 1, frame], band[offset + 2, frame]

    # The arithmetic of librosa's numba stencil: float64 from float32 neighbours.
    curvature = (right + left).astype(np.float64) - 2 * middle.astype(np.float64)
    slope = (right - left) / np.float64(2)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(slope) >= np.abs(curvature), 0.0, -slope / curvature).astype(np.float32)
    pitches = ((first + offset + shift) * float(config.sample_rate) / config.n_fft).astype(np.float32)
    magnitudes = middle + 0.5 * ((right - left) / 2.0) * shift    # np.gradient's slope, in float32
    return pitches, magnitudes


@functools.lru_cache(maxsize=16)
def _chroma_filterbank(sample_rate: int, n_fft: int, tuning: float) -> np.ndarray:
    """``librosa.filters.chroma`` (12 x bins, float32): Gaussian bumps around each pitch class,
    weighted by a Gaussian over octaves centred on C5."""
    frequencies = np.linspace(0, sample_rate, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / _N_CHROMA)
    frqbins = _N_CHROMA * np.log2(frequencies / (a440 / 16))
    frqbins = np.concatenate(([frqbins[0] - 1.5 * _N_CHROMA], frqbins))   # 0 Hz: 1.5 octaves below bin 1
    binwidths = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    distance = np.subtract.outer(frqbins, np.arange(0, _N_CHROMA, dtype="d")).T
    half = np.round(float(_N_CHROMA) / 2)
    distance = np.remainder(distance + half + 10 * _N_CHROMA, _N_CHROMA) - half
    weights = np.exp(-0.5 * (2 * distance / np.tile(binwidths, (_N_CHROMA, 1))) ** 2)
    weights /= np.sqrt(np.sum(weights ** 2, axis=0, keepdims=True))
    weights *= np.tile(np.exp(-0.5 * (((frqbins / _N_CHROMA - 5.0) / 2) ** 2)), (_N_CHROMA, 1))
    weights = np.roll(weights, -3 * (_N_CHROMA // 12), axis=0)           # start at C, not A
    weights = np.ascontiguousarray(weights[:, :1 + n_fft // 2], dtype=np.float32)
    weights.setflags(write=False)
    return weights


# ----------------------------------------------------------------------------- frame-wise features
def _rms(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.feature.rms(y)``: root mean square of each centred, reflect-padded frame."""
    padded = np.pad(samples, config.n_fft // 2, mode="reflect")
    squares = np.sum(np.square(_hop_blocks(padded, config)), axis=1)
    return np.sqrt(_frame_sums(squares, config) / np.float32(config.n_fft))


def _zero_crossing_rate(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y)``: sign changes per sample in edge-padded frames.

    Values within 1e-10 of zero count as positive. The changes are counted once per hop-long block;
    a frame's count is its blocks' less the change from its last sample to the next frame's.
    """
    padded = np.pad(samples, config.n_fft // 2, mode="edge")
    negative = padded < -_ZERO_THRESHOLD
    changes = np.zeros(len(padded), dtype=bool)          # changes[i]: samples i and i + 1 differ in sign
    np.not_equal(negative[1:], negative[:-1], out=changes[:-1])
    counts = _frame_sums(np.count_nonzero(_hop_blocks(changes, config), axis=1), config)
    last = np.arange(len(counts)) * config.hop_length + config.n_fft - 1
    return (counts - changes[last]) / config.n_fft


def _hop_blocks(padded: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``padded`` cut into the hop-long blocks its centred frames are made of (a view, one block a row):
    frame ``t`` is blocks ``t`` to ``t + n_fft / hop_length - 1``."""
    n_frames = 1 + (len(padded) - config.n_fft) // config.hop_length
    blocks = n_frames + config.n_fft // config.hop_length - 1
    return padded[:blocks * config.hop_length].reshape(blocks, config.hop_length)


def _frame_sums(block_sums: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Every frame's sum from its blocks' sums (``_hop_blocks``), neighbours added in pairs, then pairs
    of pairs: the additions of NumPy's pairwise sum over a whole frame, so a float32 sum comes out
    exactly as ``np.sum`` of the frame would, without materialising the frames."""
    blocks = config.n_fft // config.hop_length
    if blocks & (blocks - 1):
        raise ValueError("a frame must be a power-of-two number of hops long")
    step = 1
    while step < blocks:
        block_sums = block_sums[:-step] + block_sums[step:]
        step *= 2
    return block_sums


def _spectral_shape(magnitude: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral centroid, bandwidth and 85% rolloff of each frame, as librosa computes them from
    the magnitude spectrum (bins x frames).

    librosa normalises each frame to a sum of 1 and weighs the frequencies (centroid) and their
    squared distances to the centroid (bandwidth) with it. Both come here from three sums per frame,
    of the magnitudes times 1, f and f squared, in one float64 matrix product: each frame's values
    to within 1e-8 of librosa's (which rounds the normalised frame to float32 first), several times
    faster than normalising every frame.
    """
    freqs = _fft_frequencies(config)
    powers = np.vander(freqs, 3, increasing=True).T          # 1, f and f squared
    total, first, second = np.concatenate(               # a block of frames at a time: float64 copies stay small
        [powers @ magnitude[:, start:start + _SHAPE_FRAMES].astype(np.float64)
         for start in range(0, magnitude.shape[1], _SHAPE_FRAMES)], axis=1)
    total[total < _TINY32] = 1.0                 # a silent frame stays unnormalised, as librosa leaves it
    centroid = first / total
    bandwidth = np.sqrt(np.maximum(second / total - centroid ** 2, 0.0))
    return centroid, bandwidth, freqs[_rolloff_bins(magnitude)]


def _rolloff_bins(magnitude: np.ndarray) -> np.ndarray:
    """For each frame of ``magnitude`` (bins x frames), the first bin at which the running float32 sum
    of the magnitudes reaches ``_ROLL_PERCENT`` of the whole sum: the bin ``librosa.feature.spectral_rolloff``
    finds with ``np.cumsum(magnitude, axis=0)``.

    The running sums are added up one row of bins at a time, the same float32 additions in the same
    order as ``np.cumsum``, which walks down each frame's column and is about four times slower. A
    running sum of non-negative values never decreases, so the first bin at the threshold is found
    by a binary search down each column.
    """
    cumulative = magnitude.copy()
    for previous, row in zip(cumulative[:-1], cumulative[1:]):
        row += previous
    return _first_at_least(cumulative, _ROLL_PERCENT * cumulative[-1])


def _first_at_least(ascending: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For each column of ``ascending`` (rows x columns, never decreasing down a column), the number of
    its values below the column's threshold: a branch-free binary search of every column at once, a
    few gathers instead of a comparison of every value."""
    columns = np.arange(ascending.shape[1])
    first, remaining = np.zeros(len(columns), dtype=np.intp), len(ascending)
    while remaining > 1:
        half = remaining // 2
        first = np.where(ascending[first + half, columns] < thresholds, first + half, first)
        remaining -= half
    return first + (ascending[first, columns] < thresholds)


# ----------------------------------------------------------------------------- HPSS
def _hpss(spectrum: np.ndarray, magnitude: np.ndarray, magnitude_by_bin: np.ndarray, n_samples: int,
          config: FeatureConfig) -> list[np.ndarray]:
    """``librosa.effects.hpss(y)``: harmonic and percussive signals (float32, ``n_samples`` each).

    Median filters across time (harmonic) and across frequency (percussive) set soft masks; each
    masked spectrum (frames x bins) is inverted on its own.
    """
    masks = _soft_masks(
        np.ascontiguousarray(_median_filter_rows(magnitude_by_bin, _HPSS_KERNEL).T),
        _median_filter_rows(magnitude, _HPSS_KERNEL),
    )
    # librosa masks the magnitude and multiplies by the unit phase (librosa.magphase); so do we, to
    # round as it does.
    phase_real, phase_imag = _unit_phase(spectrum, magnitude)
    signals = []
    for mask in masks:
        mask *= magnitude
        masked = np.empty(spectrum.shape, dtype=np.complex64)
        np.multiply(mask, phase_real, out=masked.real)
        np.multiply(mask, phase_imag, out=masked.imag)
        signals.append(_inverse_stft(masked, n_samples, config))
    return signals


def _unit_phase(spectrum: np.ndarray, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts of ``spectrum / magnitude``, 1 where the magnitude is 0 (librosa.magphase)."""
    zero = magnitude == 0
    safe = magnitude + zero
    return spectrum.real / safe + zero, spectrum.imag / safe


def _median_filter_rows(values: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.median_filter(values, size=(1, size), mode='reflect')`` of non-negative float32
    values (a contiguous array), about 12x faster and with the same result.

    SciPy's fast median filter is one-dimensional only, so the rows, each padded symmetrically
    (SciPy's 'reflect'), are filtered as one long signal; no window reaches across a row boundary.
    Non-negative floats order like their bit patterns, and SciPy filters int64 faster than float32.
    """
    half = size // 2
    padded = np.pad(values, ((0, 0), (half, half)), mode="symmetric")
    keys = padded.view(np.int32).astype(np.int64).ravel()
    filtered = scipy.ndimage.median_filter(keys, size=size, mode="reflect").astype(np.int32)
    return filtered.view(np.float32).reshape(padded.shape)[:, half:-half]


def _soft_masks(harmonic: np.ndarray, percussive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.util.softmask`` for both parts (power 2, margin 1): each part's share of the squared
    medians, scaled by the larger one first as librosa does; half each where both are zero."""
    larger = np.maximum(harmonic, percussive)
    silent = larger < _TINY32
    larger[silent] = 1.0
    harmonic_share = (harmonic / larger) ** 2
    percussive_share = (percussive / larger) ** 2
    total = harmonic_share + percussive_share
    total[silent] = 1.0
    for share in (harmonic_share, percussive_share):
        share /= total
        share[silent] = 0.5
    return harmonic_share, percussive_share


def _inverse_stft(spectrum: np.ndarray, n_samples: int, config: FeatureConfig) -> np.ndarray:
    """``librosa.util.fix_length(librosa.istft(spectrum), size=n_samples)``, float32.

    Windowed overlap-add divided by the summed squared window; the centred padding is cut off and
    the signal, ``hop * (frames - 1)`` samples long, is zero-padded to ``n_samples``.
    """
    window = _hann_window(config.n_fft)
    signal = _overlap_add(scipy.fft.irfft(spectrum, n=config.n_fft, axis=1), window, config.hop_length)
    norm = _window_power_sum(len(spectrum), config.n_fft, config.hop_length)
    np.divide(signal, norm, out=signal, where=norm > _TINY32)
    pad = config.n_fft // 2
    signal = signal[pad:len(signal) - pad]
    return np.pad(signal, (0, n_samples - len(signal)))


@functools.lru_cache(maxsize=4)
def _window_power_sum(n_frames: int, n_fft: int, hop: int) -> np.ndarray:
    """``librosa.filters.window_sumsquare``: the squared Hann windows overlap-added (float32)."""
    ones = np.broadcast_to(np.float32(1.0), (n_frames, n_fft))
    norm = _overlap_add(ones, _hann_window(n_fft) ** 2, hop)
    norm.setflags(write=False)
    return norm


def _overlap_add(segments: np.ndarray, window: np.ndarray, hop: int) -> np.ndarray:
    """Sum of the windowed segments (frames x n_fft), each ``hop`` after the previous, into float32.

    Like librosa, every sample accumulates its frames in time order, rounding to float32 after each
    addition. The segments' quarters (for hop = n_fft / 4) are added one quarter position at a time,
    last quarter first, which keeps that order while staying vectorised.
    """
    n_frames, n_fft = segments.shape
    signal = np.zeros(n_fft + hop * (n_frames - 1), dtype=np.float32)
    blocks = signal.reshape(-1, hop)
    for part in reversed(range(n_fft // hop)):
        columns = slice(part * hop, (part + 1) * hop)
        blocks[part:part + n_frames] += segments[:, columns] * window[columns]
    return signal


# ----------------------------------------------------------------------------- tempo
def _tempo(mel_db: np.ndarray, config: FeatureConfig) -> float:
    """``librosa.feature.tempo`` on the median onset strength: the lag of the averaged onset
    autocorrelation that is strongest under a log-normal prior around 120 BPM, in BPM."""
    lags = int(_AUTOCORRELATION_SECONDS * config.sample_rate) // config.hop_length
    strength = _mean_tempogram(_onset_strength(mel_db, config), lags)
    bpms = np.full(lags, np.inf)
    bpms[1:] = 60.0 * config.sample_rate / (config.hop_length * np.arange(1.0, lags))
    log_prior = -0.5 * ((np.log2(bpms) - np.log2(_START_BPM)) / _STD_OCTAVES) ** 2
    log_prior[:np.argmax(bpms < _MAX_BPM)] = -np.inf
    return float(bpms[np.argmax(np.log1p(1e6 * strength) + log_prior)])


def _onset_strength(mel_db: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.onset.onset_strength(..., aggregate=np.median)``: median rise in dB across mel
    bands from one frame to the next, delayed to line up with the centred frames.

    The median is that of ``np.median`` (the middle value, or the mean of the two middle values),
    read from each frame's rises sorted in one call, which NumPy's vectorised sort does several
    times faster than ``np.median`` selects.
    """
    rises = np.ascontiguousarray(np.maximum(0.0, mel_db[:, 1:] - mel_db[:, :-1]).T)   # frames x bands
    rises.sort(axis=1)
    bands = rises.shape[1]
    median = np.mean(rises[:, (bands - 1) // 2:bands // 2 + 1], axis=1)
    delay = 1 + config.n_fft // (2 * config.hop_length)
    strength = np.concatenate((np.zeros(delay, dtype=rises.dtype), median))
    return strength[:mel_db.shape[1]]


def _mean_tempogram(onset: np.ndarray, lags: int) -> np.ndarray:
    """``librosa.feature.tempogram`` averaged over time: the autocorrelation (``lags`` lags) of the
    onset strength in a centred Hann window at every frame, each scaled to a peak of 1.

    An autocorrelation peaks at lag 0, the window's energy, and the inverse FFT is linear, so the
    scaled power spectra are summed first and inverted once. The windows go through the FFT
    ``_TEMPOGRAM_FRAMES`` at a time, which is about twice as fast as all at once.
    """
    padded = np.pad(onset, lags // 2, mode="linear_ramp", end_values=0)
    every_window = np.lib.stride_tricks.sliding_window_view(padded, lags)[:len(onset)]
    n_fft = scipy.fft.next_fast_len(2 * lags - 1, real=True)
    summed = np.zeros(n_fft // 2 + 1)
    for start in range(0, len(onset), _TEMPOGRAM_FRAMES):
        windows = every_window[start:start + _TEMPOGRAM_FRAMES] * _hann_window(lags)
        energy = np.einsum("ij,ij->i", windows, windows)
        spectrum = scipy.fft.rfft(windows, n=n_fft, axis=1)
        power = spectrum.real ** 2
        power += spectrum.imag ** 2
        summed += (1.0 / np.where(energy < np.finfo(np.float64).tiny, 1.0, energy)) @ power
    return scipy.fft.irfft(summed / len(onset), n=n_fft)[:lags]
