"""The mel representation: identical to the GTZAN images, and shaped as the models expect."""

import numpy as np
import pytest
import soundfile as sf

from core.learn import gtzan
from core.serve.config import GENRES, FeatureConfig
from core.serve.representation import (
    column_frames, fit_columns, levels_to_db, mel_filterbank, mfcc_from_db, unit_bounds, unit_levels, window_starts,
)

CONFIG = FeatureConfig()
LOSSLESS = [f"{genre}/{genre}.0000{index}" for genre in GENRES for index in (0, 1)]


def test_config_round_trip(tmp_path):
    changed = FeatureConfig(window_columns=48, max_duration_s=120.0)
    changed.save(tmp_path / "config.json")
    assert FeatureConfig.load(tmp_path / "config.json") == changed
    with pytest.raises(ValueError, match="unknown"):
        FeatureConfig.from_dict({**CONFIG.to_dict(), "colour": "red"})


def test_reference_unit_has_the_images_geometry():
    assert CONFIG.reference_frames == 1293
    frames = column_frames(1293, CONFIG)
    assert len(frames) == 334
    # RECIPE.md: x=55 shows frame 7, x=56 frame 11, x=388 frame 1292.
    assert (frames[0], frames[1], frames[-1]) == (7, 11, 1292)
    assert 11.0 < CONFIG.column_rate_hz < 11.2


def test_short_units_keep_the_reference_column_spacing():
    frames = column_frames(400, CONFIG)
    assert np.all(frames < 400)
    assert np.array_equal(frames, column_frames(1293, CONFIG)[: len(frames)])


def test_mel_filterbank_equals_librosa():
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=22050, n_fft=2048, n_mels=128)
    assert np.array_equal(mel_filterbank(22050, 2048, 128, 0.0, 11025.0), expected)


def test_levels_equal_librosa_pipeline():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(0)
    t = np.arange(5 * 22050) / 22050
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=samples, sr=22050, pad_mode="reflect")
    db = librosa.amplitude_to_db(mel, ref=np.max)
    ours = unit_levels(samples, CONFIG)
    scaled = (db - db.min()) / (db.max() - db.min())
    expected = np.minimum(np.floor(scaled * 256), 255).astype(np.uint8)[:, column_frames(mel.shape[1], CONFIG)]
    assert ours.shape == expected.shape
    assert np.mean(ours == expected) > 0.999


@pytest.mark.parametrize("clip", LOSSLESS)
def test_lossless_audio_reproduces_the_image(data_dir, clip):
    samples, rate = sf.read(gtzan.find_audio(data_dir, clip), dtype="float32")
    assert rate == CONFIG.sample_rate
    computed = unit_levels(samples, CONFIG)
    image = gtzan.read_image_levels(gtzan.image_path(data_dir, clip), CONFIG)
    assert computed.shape == image.shape == (128, 334)
    assert np.mean(computed == image) >= 0.999


@pytest.mark.parametrize("clip", ["blues/blues.00010", "jazz/jazz.00042", "classical/classical.00005"])
def test_mp3_audio_is_within_a_few_levels_of_the_image(data_dir, clip):
    samples, _ = sf.read(gtzan.find_audio(data_dir, clip, lossless_first=False), dtype="float32")
    computed = unit_levels(samples, CONFIG).astype(int)
    image = gtzan.read_image_levels(gtzan.image_path(data_dir, clip), CONFIG).astype(int)
    difference = np.abs(computed - image)
    # README: from the 64 kbit/s MP3s most values are within 1-3 levels, correlation 0.996-0.999.
    assert np.median(difference) == 0
    assert difference.mean() <= 1.5
    assert np.corrcoef(computed.ravel(), image.ravel())[0, 1] > 0.995


def test_image_reader_rejects_other_pictures(tmp_path):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.new("RGB", (432, 288), (12, 200, 40)).save(path)
    with pytest.raises(ValueError, match="not a GTZAN spectrogram"):
        gtzan.read_image_levels(path, CONFIG)


def test_unit_bounds():
    assert unit_bounds(661_794, CONFIG) == [(0, 661_794)]
    assert unit_bounds(690_000, CONFIG) == [(0, 690_000)]          # a long GTZAN clip stays whole
    ten_minutes = 600 * 22050
    bounds = unit_bounds(ten_minutes, CONFIG)
    assert bounds[0] == (0, CONFIG.unit_samples)
    assert all(stop - start <= CONFIG.unit_samples for start, stop in bounds)
    assert bounds[-1][1] == ten_minutes
    # A tail shorter than one window is dropped.
    assert unit_bounds(2 * CONFIG.unit_samples + 100, CONFIG)[-1][1] == 2 * CONFIG.unit_samples


def test_levels_to_db_and_mfcc():
    levels = np.array([[0, 255]], dtype=np.uint8).repeat(128, axis=0)
    db = levels_to_db(levels, CONFIG)
    assert db.min() > -80 and db.max() < 0
    scipy_fft = pytest.importorskip("scipy.fft")
    rng = np.random.default_rng(1)
    db = rng.uniform(-80, 0, size=(128, 40)).astype(np.float32)
    expected = scipy_fft.dct(db, axis=0, type=2, norm="ortho")[:20]
    assert np.allclose(mfcc_from_db(db, CONFIG), expected, atol=1e-3)


def test_windows_cover_the_whole_unit():
    starts = window_starts(334, 32, 16)
    assert starts[0] == 0 and starts[-1] + 32 == 334
    assert np.all(np.diff(starts) <= 16)
    assert list(window_starts(20, 32, 16)) == [0]


def test_fit_columns_loops_short_clips():
    matrix = np.arange(10, dtype=np.float32)[None, :].repeat(3, axis=0)
    looped = fit_columns(matrix, 25)
    assert looped.shape == (3, 25)
    assert np.array_equal(looped[:, 10:20], matrix)
    assert fit_columns(matrix, 5) is matrix
