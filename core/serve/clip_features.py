"""The 57 clip statistics of GTZAN's ``features_30_sec.csv``, computed from audio in NumPy and SciPy.

The feature baseline model is trained on that table, so at inference a clip must be described by the
very same numbers. They were made with librosa's default features; this module recomputes them
without importing librosa, whose numba JIT costs seconds and tens of MB on the first call. They read
the unit's ``representation.Spectrogram``, the very magnitude and mel power its image levels come
from, so serving computes those once per unit (only the harmonic/percussive statistics, which
serving does not ask for, recompute the complex STFT); every statistic is then a few vectorised
operations, the ones on the magnitude in a single pass over it.

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
import itertools

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
_TEMPOGRAM_SCALE = 1e6                       # the tempo's scores: log1p(1e6 * mean tempogram) + log prior
_UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2
# The fast tempogram's lag must win by this much beyond its error bound, a hundred times what the
# FFT tempogram's own rounding (about 1e-14 of a strength, times the score's slope of at most 1e6)
# can move a score: when the exact scores are closer, the FFT tempogram decides as it always did.
_TEMPO_MARGIN = 1e-6
_BLOCK_BINS = 64                             # bins per block of the pass over the magnitude: it stays in the CPU cache
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
    mel_db = _power_to_db(spectrogram.mel, config)       # the tempo and MFCCs read it while it is in the CPU cache
    values = {"tempo": _tempo(mel_db, config)}
    mfcc = scipy.fft.dct(mel_db, type=2, norm="ortho", axis=0)[:_N_MFCC]
    for k, mean, variance in zip(range(1, _N_MFCC + 1), mfcc.mean(axis=1), mfcc.var(axis=1)):
        values[f"mfcc{k}_mean"], values[f"mfcc{k}_var"] = float(mean), float(variance)
    chroma, centroid, bandwidth, rolloff = _spectrum_features(magnitude, config)
    frame_features = {
        "chroma_stft": chroma, "rms": _rms(samples, config), "spectral_centroid": centroid,
        "spectral_bandwidth": bandwidth, "rolloff": rolloff,
        "zero_crossing_rate": _zero_crossing_rate(samples, config),
    }
    if any(name.startswith(("harmony_", "perceptr_")) for name in names):
        spectrum = stft(samples, config)
        frame_features["harmony"], frame_features["perceptr"] = _hpss(spectrum, np.abs(spectrum), magnitude,
                                                                      len(samples), config)
    values |= {f"{name}_{stat}": value for name, series in frame_features.items()
               for stat, value in zip(("mean", "var"), _mean_var(series))}
    return np.array([values[name] for name in names], dtype=np.float64)


def _mean_var(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.var(values))


def _power_to_db(power: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.power_to_db(power)``: dB re 1.0, floored at 1e-10 (the square of the amplitude floor
    ``amin``) and at ``top_db`` below the peak."""
    db = np.maximum(power, config.amin ** 2)
    np.log10(db, out=db)
    db *= 10.0
    return np.maximum(db, db.max() - config.top_db, out=db)


def _fft_frequencies(config: FeatureConfig) -> np.ndarray:
    return np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)


# ----------------------------------------------------------------------------- spectrum features
def _spectrum_features(magnitude: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, ...]:
    """Chroma (12 x frames), spectral centroid, bandwidth and 85% rolloff of each frame, as librosa
    computes them from the magnitude spectrum (bins x frames).

    Once the tuning is known (``_estimate_tuning``), all four read the magnitude in one pass,
    ``_BLOCK_BINS`` bins at a time while the block is in the CPU cache: fetching this large array from
    memory costs more than the arithmetic, and the power spectrum the chroma filters read (the
    magnitudes squared, as librosa squares them) is made a block at a time and never fetched whole.
    Each block is

    * added to the three sums per frame of the magnitudes times 1, f and f squared (float64), which
      give the centroid and the bandwidth (``_centroid_bandwidth``);
    * squared and put through its columns of the tuned chroma filters (float32, as librosa);
    * copied for the rolloff's running sums (``_rolloff_bins``), with the running total at its end.

    Each frame's chroma is then scaled to a peak of 1.
    """
    freqs = _fft_frequencies(config)
    powers = np.vander(freqs, 3, increasing=True).T          # 1, f and f squared
    filters = _chroma_filterbank(config.sample_rate, config.n_fft, _estimate_tuning(magnitude, config))
    n_frames = magnitude.shape[1]
    sums = np.zeros((3, n_frames))
    chroma = np.zeros((_N_CHROMA, n_frames), dtype=np.float32)
    power = np.empty((_BLOCK_BINS, n_frames), dtype=np.float32)
    cumulative = np.empty(magnitude.shape, dtype=magnitude.dtype)      # C order: np.sum adds its rows one at a time
    block_totals = []
    for start in range(0, len(magnitude), _BLOCK_BINS):
        bins = slice(start, start + _BLOCK_BINS)
        block = magnitude[bins]
        sums += powers[:, bins] @ block.astype(np.float64)
        block_totals.append(sums[0].copy())
        chroma += filters[:, bins] @ np.square(block, out=power[:len(block)])
        cumulative[bins] = block
    peak = chroma.max(axis=0)
    chroma /= np.where(peak < _TINY32, 1.0, peak)
    centroid, bandwidth = _centroid_bandwidth(*sums)
    return chroma, centroid, bandwidth, freqs[_rolloff_bins(cumulative, np.array(block_totals))]


def _centroid_bandwidth(total: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectral centroid and bandwidth of each frame from its sums of the magnitudes times 1, f and f
    squared.

    librosa normalises each frame to a sum of 1 and weighs the frequencies (centroid) and their
    squared distances to the centroid (bandwidth) with it. From the three float64 sums each frame's
    values come to within 1e-8 of librosa's (which rounds the normalised frame to float32 first),
    several times faster than normalising every frame.
    """
    total = np.where(total < _TINY32, 1.0, total)        # a silent frame stays unnormalised, as librosa leaves it
    centroid = first / total
    bandwidth = np.sqrt(np.maximum(second / total - centroid ** 2, 0.0))
    return centroid, bandwidth


def _rolloff_bins(cumulative: np.ndarray, block_totals: np.ndarray) -> np.ndarray:
    """For each frame of the magnitude spectrum (bins x frames), the first bin at which the running
    float32 sum of the magnitudes reaches ``_ROLL_PERCENT`` of the whole sum: the bin
    ``librosa.feature.spectral_rolloff`` finds with ``np.cumsum(magnitude, axis=0)``. ``cumulative`` is
    a copy of the magnitudes, which this turns into running sums; ``block_totals`` are the running
    sums in float64 at the end of each block of ``_BLOCK_BINS`` bins.

    The running sums are added up one row of bins at a time, the same float32 additions in the same
    order as ``np.cumsum``, which walks down each frame's column and is about four times slower; but
    only as far as ``_rolloff_rows`` says any frame's threshold can lie, and ``np.sum`` down the rest
    (which adds the rows one at a time too: NumPy sums pairwise only along the fast axis) carries
    them on to the whole sum. A running sum of non-negative values never decreases, so the first
    bin at the threshold is found by a binary search down each column.
    """
    rows = _rolloff_rows(block_totals, len(cumulative))
    for previous, row in itertools.pairwise(cumulative[:rows]):
        np.add(previous, row, out=row)
    whole = np.sum(cumulative[rows - 1:], axis=0)
    return _first_at_least(cumulative[:rows], _ROLL_PERCENT * whole)


def _rolloff_rows(block_totals: np.ndarray, n_bins: int) -> int:
    """How many rows of running sums hold every frame's rolloff bin: up to the end of the first block
    whose running sum in float64 (``block_totals``) is past ``_ROLL_PERCENT`` of the whole for every
    frame by more than float32 rounding can make up. Rounding moves a float32 running sum of ``n``
    non-negative values by at most ``(n - 1) u / (1 - (n - 1) u)`` of the exact sum (``u`` = 2**-24),
    the threshold by as much and ``u`` more: a margin of ``4 n_bins u`` covers both, and the float64
    sums' own rounding."""
    share = float(np.float32(_ROLL_PERCENT)) * (1.0 + 4.0 * n_bins * 2.0 ** -24)    # the float32 threshold's share
    past = block_totals >= share * block_totals[-1]
    return min((int(np.argmax(past, axis=0).max()) + 1) * _BLOCK_BINS, n_bins)


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


# ----------------------------------------------------------------------------- chroma
def _estimate_tuning(magnitude: np.ndarray, config: FeatureConfig) -> float:
    """``librosa.estimate_tuning``: the commonest deviation from A440, in fractions of a semitone,
    of the stronger half of the spectral peaks."""
    pitches, magnitudes = _spectral_peaks(magnitude, config)
    if len(pitches) == 0:
        return 0.0
    strong = pitches[magnitudes >= np.median(magnitudes)]
    octaves = np.log2(strong / (440.0 / 16))
    residual = np.mod(_N_CHROMA * octaves, 1.0)
    residual[residual >= 0.5] -= 1.0
    edges = np.linspace(-0.5, 0.5, int(np.ceil(1.0 / _TUNING_RESOLUTION)) + 1)
    counts, _ = np.histogram(residual, edges)
    return float(edges[np.argmax(counts)])


def _spectral_peaks(magnitude: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.piptrack`` on the power spectrum of ``magnitude`` (bins x frames): the parabolically
    interpolated frequency and height (float32) of each local maximum between 150 Hz and 4 kHz that
    exceeds a tenth of its frame's maximum."""
    freqs = _fft_frequencies(config)
    in_range = np.flatnonzero((_PITCH_FMIN <= freqs) & (freqs < _PITCH_FMAX))
    first, last = in_range[0], in_range[-1]
    band = np.square(magnitude[first - 1:last + 2])      # the power of the range and one neighbour either side
    loudest = magnitude.max(axis=0)                      # squaring keeps the order: the loudest power is its square
    below, centre, above = band[:-2], band[1:-1], band[2:]
    # librosa zeroes the values at or below the threshold, then keeps each value above the one below it
    # and at least the one above it. A value above the threshold is above a zeroed neighbour anyway, so
    # the peaks are the values above the threshold and above (at least) their neighbours as they are.
    # The peaks' order does not matter (a median and a histogram read them): np.divmod of the flat
    # indices finds them several times faster than np.nonzero of the 2-D mask.
    peak = centre > _PITCH_THRESHOLD * (loudest * loudest)
    peak &= centre > below
    peak &= centre >= above
    offset, frame = np.divmod(np.flatnonzero(peak), magnitude.shape[1])
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
    blocks = _hop_blocks(np.pad(samples, config.n_fft // 2, mode="reflect"), config)
    squares = np.sum(np.square(blocks, out=blocks), axis=1)
    return np.sqrt(_frame_sums(squares, config) / np.float32(config.n_fft))


def _zero_crossing_rate(samples: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y)``: sign changes per sample in edge-padded frames.

    Values within 1e-10 of zero count as positive. The changes are counted once per hop-long block;
    a frame's count is its blocks' less the change from its last sample to the next frame's. The
    padding repeats the end samples, so it holds no change.
    """
    pad = config.n_fft // 2
    negative = samples < -_ZERO_THRESHOLD
    changes = np.zeros(len(samples) + 2 * pad, dtype=bool)    # changes[i]: padded samples i and i + 1 differ in sign
    np.not_equal(negative[1:], negative[:-1], out=changes[pad:pad + len(samples) - 1])
    counts = _frame_sums(_count_true(_hop_blocks(changes, config)), config)
    last = np.arange(len(counts)) * config.hop_length + config.n_fft - 1
    return (counts - changes[last]) / config.n_fft


def _count_true(flags: np.ndarray) -> np.ndarray:
    """``np.count_nonzero(flags, axis=1)`` of a contiguous bool array, several times faster when its
    rows are a multiple of 8 and at most 2040 long: the bytes (each 0 or 1) are added eight at a
    time in uint64 words, each byte position's count staying below 256, and the eight counts summed."""
    length = flags.shape[1]
    if length % 8 or length > 8 * 255:
        return np.count_nonzero(flags, axis=1)
    byte_counts = np.add.reduce(flags.view(np.uint64), axis=1)
    return byte_counts.view(np.uint8).reshape(-1, 8).sum(axis=1, dtype=np.intp)


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
    autocorrelation that is strongest under a log-normal prior around 120 BPM, in BPM.

    The fast tempogram decides the lag when its error bound leaves no doubt which score is highest;
    otherwise (no unit of GTZAN or of the real-world set so far) the FFT tempogram decides, as before.
    """
    lags = int(_AUTOCORRELATION_SECONDS * config.sample_rate) // config.hop_length
    bpms, log_prior = _tempo_prior(config.sample_rate, config.hop_length, lags)
    onset = _onset_strength(mel_db, config)
    strength, error = _mean_tempogram(onset, lags)
    scores = np.log1p(_TEMPOGRAM_SCALE * np.maximum(strength, 0.0)) + log_prior   # exact strengths are >= 0
    best = int(np.argmax(scores))
    if not _clear_winner(scores, _score_errors(strength, error), best):
        best = int(np.argmax(np.log1p(_TEMPOGRAM_SCALE * _mean_tempogram_by_fft(onset, lags)) + log_prior))
    return float(bpms[best])


@functools.lru_cache(maxsize=4)
def _tempo_prior(sample_rate: int, hop_length: int, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """The BPM of each lag and librosa's log-normal prior over them, -inf at 320 BPM and faster."""
    bpms = np.full(lags, np.inf)
    bpms[1:] = 60.0 * sample_rate / (hop_length * np.arange(1.0, lags))
    log_prior = -0.5 * ((np.log2(bpms) - np.log2(_START_BPM)) / _STD_OCTAVES) ** 2
    log_prior[:np.argmax(bpms < _MAX_BPM)] = -np.inf
    for array in (bpms, log_prior):
        array.setflags(write=False)
    return bpms, log_prior


def _score_errors(strength: np.ndarray, error: float) -> np.ndarray:
    """How far each score ``log1p(1e6 * strength)`` can be from the exact one when each strength is
    within ``error`` of the exact strength: the slope of ``log1p`` at the smallest strength it can be."""
    return _TEMPOGRAM_SCALE * error / (1.0 + _TEMPOGRAM_SCALE * np.maximum(strength - error, 0.0))


def _clear_winner(scores: np.ndarray, errors: np.ndarray, best: int) -> bool:
    """Whether ``best`` has the highest exact score whatever the errors, by ``_TEMPO_MARGIN`` to spare."""
    others = np.delete(scores + errors, best)
    return bool(scores[best] - errors[best] - _TEMPO_MARGIN > others.max(initial=-np.inf))


def _onset_strength(mel_db: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``librosa.onset.onset_strength(..., aggregate=np.median)``: median rise in dB across mel
    bands from one frame to the next (a fall counts as 0), delayed to line up with the centred frames.

    The median is that of ``np.median`` (the middle value, or the mean of the two middle values),
    read from each frame's changes sorted in one call, which NumPy's vectorised sort does several
    times faster than ``np.median`` selects. Falls become 0 after sorting, which orders them the same.
    """
    by_frame = np.ascontiguousarray(mel_db.T)                   # frames x bands: each frame's changes contiguous
    changes = by_frame[1:] - by_frame[:-1]
    changes.sort(axis=1)
    bands = changes.shape[1]
    median = np.mean(np.maximum(changes[:, (bands - 1) // 2:bands // 2 + 1], 0.0), axis=1)
    delay = 1 + config.n_fft // (2 * config.hop_length)
    strength = np.concatenate((np.zeros(delay, dtype=median.dtype), median))
    return strength[:mel_db.shape[1]]


def _mean_tempogram_by_fft(onset: np.ndarray, lags: int) -> np.ndarray:
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


def _mean_tempogram(onset: np.ndarray, lags: int) -> tuple[np.ndarray, float]:
    """``_mean_tempogram_by_fft`` from six correlations over the whole onset instead of an FFT per
    window, and a bound on how far any of its values can be from the exact value.

    Window ``t`` of the padded onset ``y`` holds ``y[t]`` to ``y[t + L - 1]`` (``L = lags``) under the Hann
    window ``w``; its autocorrelation is ``a_t[k] = sum_n w[n] w[n+k] y[t+n] y[t+n+k]``, and the mean
    tempogram is ``sum_t c_t a_t[k] / T`` with ``c_t = 1 / a_t[0]`` (0 for a silent window). The Hann
    window is three complex exponentials, ``w[n] = sum_p alpha_p z**(p n)`` (``alpha_0 = 1/2``,
    ``alpha_(+-1) = -1/4``, ``z = exp(2 pi i / L)``). Written so in both factors, with ``m = t + n``,
    the windows that hold samples ``m`` and ``m + k`` (``t`` from ``m + k - L + 1`` to ``m``) sum their
    ``c_t z**(-r t)`` to a difference of the prefix sums ``F_r[s] = sum_(t < s) c_t z**(-r t)``, which
    leaves ``sum_t c_t a_t[k] =``

        sum_q alpha_q sum_m (y_q[m + k] up_q[m] - y_q[m - k] low_q[m]),   y_q[m] = y[m] z**(q m),
        up_q[m] = y[m] sum_p alpha_p z**(p m) F_(p+q)[m + 1],   low_q[m]: the same with F_(p+q)[m - L + 1],

    six real correlations of ``L`` lags (``q = -1`` is the conjugate of ``q = 1``).

    The bound: with ``C = sum_t c_t`` and ``Y = sum_m y[m]**2``, every prefix sum is at most ``C``,
    ``sum_p |alpha_p| = 1`` and ``sum_m y[m] y[m + k] <= Y``, so every correlation, and the sum of the
    sizes of its terms, is at most ``C Y``. The prefix sums add ``T`` terms, the correlations ``M = T + L``,
    the energies ``L``; with the twiddle factors and the Hann window a few tens of units in the last
    place off, every sum before the division by ``T`` is within ``(2 M + 3 T + L + 300) u C Y`` of the
    exact one (``u`` the unit roundoff), which ``(8 M + 512) u C Y`` covers with room to spare. Typically
    that is 1e-11 of a strength; the prefix sums cancel, and a window of almost no energy (its onset
    all in the taper, after seconds of silence) makes ``C``, and the bound, large.
    """
    n_windows = len(onset)
    y = np.pad(onset, lags // 2, mode="linear_ramp", end_values=0).astype(np.float64)
    energy = np.correlate(y * y, _hann_window(lags) ** 2, "valid")[:n_windows]
    weights = np.zeros(n_windows)
    np.divide(1.0, energy, out=weights, where=energy >= np.finfo(np.float64).tiny)   # 0 for a silent window

    turns = _unit_roots(lags)
    prefix = np.zeros((3, n_windows + 1), dtype=np.complex128)     # F_0, F_1, F_2; F_-r is F_r's conjugate
    rotations = (-np.arange(3)[:, np.newaxis] * np.arange(n_windows)) % lags
    np.cumsum(weights * turns[rotations], axis=1, out=prefix[:, 1:])
    samples = np.arange(len(y))
    turn = turns[samples % lags]                                     # z**m
    up_0, up_1 = _hann_terms(y, turn, prefix[:, np.minimum(samples + 1, n_windows)])
    low_0, low_1 = _hann_terms(y, turn, prefix[:, np.clip(samples - lags + 1, 0, n_windows)])

    y_cos, y_sin = y * turn.real, y * turn.imag                     # y_1
    total = 0.5 * (_lagged_products(y, up_0, lags) - _lagged_products(low_0, y, lags))
    total -= 0.5 * (_lagged_products(y_cos, up_1.real, lags) - _lagged_products(y_sin, up_1.imag, lags)
                    - _lagged_products(low_1.real, y_cos, lags) + _lagged_products(low_1.imag, y_sin, lags))
    bound = (8 * len(y) + 512) * _UNIT_ROUNDOFF * np.sum(weights) * np.dot(y, y)
    return total / n_windows, bound / n_windows


def _hann_terms(y: np.ndarray, turn: np.ndarray, prefix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y[m] sum_p alpha_p z**(p m) F_(p+q)`` for ``q = 0`` (real) and ``q = 1``, given ``z**m`` and the
    prefix sums ``F_0, F_1, F_2`` (rows of ``prefix``) where ``_mean_tempogram`` reads them."""
    f0, f1, f2 = prefix
    return (y * (0.5 * f0.real - 0.5 * (turn * f1).real),
            y * (0.5 * f1 - 0.25 * turn * f2 - 0.25 * turn.conj() * f0))


def _lagged_products(leading: np.ndarray, trailing: np.ndarray, lags: int) -> np.ndarray:
    """``sum_m leading[m + k] trailing[m]`` for ``k < lags`` (``leading`` read as 0 past its end)."""
    return np.correlate(np.concatenate((leading, np.zeros(lags - 1))), trailing, "valid")


@functools.lru_cache(maxsize=4)
def _unit_roots(n: int) -> np.ndarray:
    """``exp(2 pi i j / n)`` for ``j < n``."""
    roots = np.exp(2j * np.pi * np.arange(n) / n)
    roots.setflags(write=False)
    return roots
