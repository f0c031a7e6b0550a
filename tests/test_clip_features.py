"""The 57 clip features: equal to GTZAN's ``features_30_sec.csv`` on the original audio and to
librosa's own functions on generated audio, computed without librosa."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.learn import gtzan
from core.serve import clip_features as clip_features_module
from core.serve.clip_features import FEATURE_NAMES, clip_features
from core.serve.config import GENRES, FeatureConfig

CONFIG = FeatureConfig()
SAMPLE_RATE = CONFIG.sample_rate
LOSSLESS = [f"{genre}/{genre}.0000{index}" for genre in GENRES for index in (0, 1)]

# Errors are measured against each statistic's scale (see _scale). The float32 pipeline, like
# librosa's, reproduces the table to at most 5e-7 of it; the spectral centroid and bandwidth, float64
# statistics, to 3e-9; the tempo exactly.
TOLERANCE = 1e-6
FLOAT64_FEATURES = ("spectral_centroid_mean", "spectral_centroid_var", "spectral_bandwidth_mean",
                    "spectral_bandwidth_var")
FLOAT64_TOLERANCE = 1e-8
TEMPO = FEATURE_NAMES.index("tempo")


def _scale(statistics: np.ndarray) -> np.ndarray:
    """The size each statistic's error is measured against: the statistic itself, and for a mean at
    least the feature's standard deviation, since a mean near zero (the HPSS signals, some MFCCs)
    carries the float32 rounding noise of values a whole spread away from it."""
    scale = np.abs(statistics)
    for index, name in enumerate(FEATURE_NAMES):
        if name.endswith("_mean"):
            scale[index] = max(scale[index], np.sqrt(statistics[index + 1]))
    return scale


def _assert_close(ours: np.ndarray, expected: np.ndarray, tolerance: np.ndarray) -> None:
    assert ours.shape == expected.shape == (57,)
    error = np.abs(ours - expected) / _scale(expected)
    failing = {name: f"{ours[i]:.9g} vs {expected[i]:.9g} (error {error[i]:.1e})"
               for i, name in enumerate(FEATURE_NAMES) if not error[i] <= tolerance[i]}
    assert not failing
    assert ours[TEMPO] == expected[TEMPO]


TABLE_TOLERANCE = np.array([FLOAT64_TOLERANCE if name in FLOAT64_FEATURES else TOLERANCE
                            for name in FEATURE_NAMES])


@pytest.fixture(scope="module")
def table(data_dir):
    return gtzan.load_features_table(data_dir)


def test_feature_names_are_the_table_columns(table):
    assert FEATURE_NAMES == tuple(c for c in table.columns if c not in ("filename", "length", "label"))


@pytest.mark.parametrize("clip", LOSSLESS)
def test_features_equal_the_published_table(clip, data_dir, table):
    genre, stem = clip.split("/")
    path = data_dir / "lossless" / genre / f"{stem}.flac"
    if not path.exists():
        pytest.skip(f"lossless copy {path} not in the data folder")
    samples, rate = sf.read(path, dtype="float32")
    assert rate == SAMPLE_RATE
    expected = table.loc[clip, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    _assert_close(clip_features(samples, CONFIG), expected, TABLE_TOLERANCE)


# ----------------------------------------------------------------------------- against librosa
def _librosa_features(samples: np.ndarray) -> np.ndarray:
    """The table's recipe with librosa 0.11: its default features, with the older librosa's reflect
    padding, HPSS inverted without ``length`` and median onset strength (see core.serve.clip_features)."""
    librosa = pytest.importorskip("librosa")
    pad = {"pad_mode": "reflect"}
    harmonic_stft, percussive_stft = librosa.decompose.hpss(librosa.stft(samples, **pad))
    harmonic, percussive = (librosa.util.fix_length(librosa.istft(part, dtype=samples.dtype), size=len(samples))
                            for part in (harmonic_stft, percussive_stft))
    frame_features = [
        librosa.feature.chroma_stft(y=samples, sr=SAMPLE_RATE, **pad),
        librosa.feature.rms(y=samples, **pad),
        librosa.feature.spectral_centroid(y=samples, sr=SAMPLE_RATE, **pad),
        librosa.feature.spectral_bandwidth(y=samples, sr=SAMPLE_RATE, **pad),
        librosa.feature.spectral_rolloff(y=samples, sr=SAMPLE_RATE, **pad),
        librosa.feature.zero_crossing_rate(samples),
        harmonic, percussive,
    ]
    onset = librosa.onset.onset_strength(y=samples, sr=SAMPLE_RATE, aggregate=np.median, **pad)
    mfcc = librosa.feature.mfcc(y=samples, sr=SAMPLE_RATE, **pad)
    statistics = [s for feature in frame_features for s in (np.mean(feature), np.var(feature))]
    statistics.append(librosa.feature.tempo(onset_envelope=onset, sr=SAMPLE_RATE)[0])
    statistics += [s for coefficient in mfcc for s in (np.mean(coefficient), np.var(coefficient))]
    return np.array(statistics, dtype=np.float64)


def _chord_with_clicks() -> np.ndarray:
    """Ten seconds of a slightly vibrating chord, noisy clicks every half second and a little noise."""
    rng = np.random.default_rng(7)
    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    vibrato = 1 + 0.002 * np.sin(2 * np.pi * 0.5 * t)
    chord = sum(np.sin(2 * np.pi * f * t * vibrato) / (k + 1) for k, f in enumerate([220, 277.2, 329.6, 440, 554.4]))
    impulses = np.zeros_like(t)
    impulses[(np.arange(0, 10, 0.5) * SAMPLE_RATE).astype(int)] = 1.0
    clicks = np.convolve(impulses, np.exp(-np.arange(2000) / 200) * rng.standard_normal(2000), mode="same")
    return (0.2 * chord + 0.5 * clicks + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _tremolo_chirp() -> np.ndarray:
    """Ten seconds of a rising chirp (100 Hz to 8 kHz) with a 2 Hz tremolo."""
    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * (100 * t + 395 * t ** 2)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("make", [_chord_with_clicks, _tremolo_chirp], ids=["chord_with_clicks", "tremolo_chirp"])
def test_features_equal_librosa(make):
    samples = make()
    _assert_close(clip_features(samples, CONFIG), _librosa_features(samples), np.full(57, TOLERANCE))


# ----------------------------------------------------------------------------- edge cases
def _short_tone() -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def _quiet_noise() -> np.ndarray:
    return (1e-4 * np.random.default_rng(2).standard_normal(30 * SAMPLE_RATE)).astype(np.float32)


def _silence() -> np.ndarray:
    return np.zeros(30 * SAMPLE_RATE, dtype=np.float32)


@pytest.mark.parametrize("make", [_short_tone, _quiet_noise, _silence], ids=["short_3s", "quiet_noise", "silence"])
def test_features_are_finite(make):
    features = clip_features(make(), CONFIG)
    assert features.shape == (len(FEATURE_NAMES),) == (57,)
    assert features.dtype == np.float64
    assert np.all(np.isfinite(features))


def test_serving_path_does_not_import_librosa():
    code = ("import sys, numpy as np; from core.serve.clip_features import clip_features; from core.serve.config import FeatureConfig;"
            "clip_features(np.zeros(22050, np.float32), FeatureConfig());"
            "print(sorted(m for m in ('librosa', 'numba') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "[]"


def test_a_subset_of_names_gives_those_statistics_and_skips_nothing_else():
    """The baseline asks for fewer statistics (no harmonic/percussive ones); the values must not change."""
    rng = np.random.default_rng(7)
    samples = (0.2 * rng.normal(size=5 * 22050)).astype(np.float32)
    full = dict(zip(FEATURE_NAMES, clip_features(samples, CONFIG)))
    subset = clip_features(samples, CONFIG, CONFIG.baseline_features)
    assert len(subset) == len(CONFIG.baseline_features) == 53
    assert set(CONFIG.baseline_features) <= set(FEATURE_NAMES)
    assert np.array_equal(subset, [full[name] for name in CONFIG.baseline_features])


# ----------------------------------------------------------------------------- the fast paths
LAGS = 344          # the tempogram's lags at the configured rate and hop


def _onsets() -> dict[str, np.ndarray]:
    """Onset strengths of several kinds, among them ones whose windows hold almost no energy."""
    rng = np.random.default_rng(11)
    steady = rng.gamma(2.0, 1.0, 1293).astype(np.float32)
    beats = np.zeros(1293, dtype=np.float32)
    beats[5::21] = 4.0
    late_start = steady.copy()
    late_start[:900] = 0.0
    sparse = np.where(rng.random(1293) < 0.05, steady, 0.0).astype(np.float32)
    return {"steady": steady, "beats": beats, "late_start": late_start, "sparse": sparse, "short": steady[:40],
            "silent": np.zeros(1293, dtype=np.float32)}


ONSETS = _onsets()


@pytest.mark.parametrize("name", ONSETS)
def test_fast_tempogram_is_within_its_bound_of_the_fft_one(name):
    strength, bound = clip_features_module._mean_tempogram(ONSETS[name], LAGS)
    exact = clip_features_module._mean_tempogram_by_fft(ONSETS[name], LAGS)
    assert np.all(np.abs(strength - exact) <= bound + 1e-13)       # 1e-13: the FFT's own rounding
    if name in ("steady", "beats"):
        assert bound < 1e-9


def test_tempo_falls_back_to_the_fft_tempogram_when_the_bound_leaves_doubt(monkeypatch):
    mel_db = np.random.default_rng(3).normal(-40.0, 10.0, (CONFIG.n_mels, 1293)).astype(np.float32)
    fast = clip_features_module._tempo(mel_db, CONFIG)
    calls = []
    by_fft = clip_features_module._mean_tempogram_by_fft
    monkeypatch.setattr(clip_features_module, "_mean_tempogram_by_fft", lambda *args: calls.append(1) or by_fft(*args))
    monkeypatch.setattr(clip_features_module, "_TEMPO_MARGIN", np.inf)
    assert clip_features_module._tempo(mel_db, CONFIG) == fast
    assert calls


def test_a_clear_winner_needs_its_lead_beyond_both_errors_and_the_margin():
    scores, errors = np.array([-np.inf, 1.0, 1.5]), np.array([0.0, 0.1, 0.1])
    assert clip_features_module._clear_winner(scores, errors, 2)
    assert not clip_features_module._clear_winner(scores, np.array([0.0, 0.25, 0.25]), 2)


def _magnitudes() -> dict[str, np.ndarray]:
    """Magnitude spectra whose rolloff lies low, in the middle or near the top, and frames that are
    silent or all in the top bin."""
    rng = np.random.default_rng(5)
    noise = rng.random((1025, 60)).astype(np.float32)
    steep = (noise * np.exp(-np.arange(1025) / 60.0)[:, np.newaxis]).astype(np.float32)
    treble = noise.copy()
    treble[:900] *= 1e-3
    gaps = noise.copy()
    gaps[:, :4] = 0.0
    gaps[1024, 5] = 1e3
    return {"noise": noise, "steep": steep, "treble": treble, "silent_and_single_bin_frames": gaps}


MAGNITUDES = _magnitudes()


@pytest.mark.parametrize("name", MAGNITUDES)
def test_rolloff_is_the_first_bin_of_the_running_sums_at_the_threshold(name):
    magnitude = MAGNITUDES[name]
    running = np.cumsum(magnitude, axis=0)
    expected = clip_features_module._fft_frequencies(CONFIG)[np.argmax(running >= 0.85 * running[-1], axis=0)]
    _, _, _, rolloff = clip_features_module._spectrum_features(magnitude, CONFIG)
    assert np.array_equal(rolloff, expected)


@pytest.mark.parametrize("width", [512, 13, 2048])
def test_true_values_are_counted_per_row(width):
    flags = np.random.default_rng(width).random((7, width)) < 0.3
    assert np.array_equal(clip_features_module._count_true(flags), np.count_nonzero(flags, axis=1))
