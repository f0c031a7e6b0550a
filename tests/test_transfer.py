"""The capture simulation, the transfer model's training pieces, the verdict and labelled-folder evaluation."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.learn.capture import MEASUREMENT_ROOMS, augment_db, capture, measurement_capture, random_capture
from core.serve.config import GENRES, FeatureConfig, PretrainedConfig
from core.serve.pretrained import HeadSettings, TransferHead
from core.learn.transfer import band_map, fit_head, image_log_mel, prior_weights, train_head
from core.learn.verdict import accuracy, choose, weight_grid

CONFIG = FeatureConfig()
TAGS = json.loads((Path(__file__).parents[1] / "artifacts" / "musicnn.json").read_text())["tags"]


def _music(seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * CONFIG.sample_rate)) / CONFIG.sample_rate
    notes = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)) * (1 + np.sin(2 * np.pi * 2 * t))
    return (0.2 * notes + 0.01 * rng.normal(size=t.size)).astype(np.float32)


# ----------------------------------------------------------------------------- capture
def test_capture_keeps_length_and_changes_the_sound():
    clean = _music()
    recorded = capture(clean, CONFIG.sample_rate, MEASUREMENT_ROOMS[0], np.random.default_rng(0))
    assert recorded.shape == clean.shape and recorded.dtype == np.float32
    assert np.isfinite(recorded).all() and np.abs(recorded).max() <= 1.0
    assert abs(np.corrcoef(clean, recorded)[0, 1]) < 0.95       # a room and a codec are not a copy


def test_measurement_capture_is_fixed_and_random_capture_varies():
    clean = _music(seconds=4.0)
    assert np.array_equal(measurement_capture(clean, CONFIG.sample_rate, "rock/rock.00005.wav"),
                          measurement_capture(clean, CONFIG.sample_rate, "rock/rock.00005.wav"))
    rng = np.random.default_rng(1)
    assert random_capture(rng) != random_capture(rng)


def test_room_decay_smears_a_click_over_time():
    click = np.zeros(CONFIG.sample_rate, dtype=np.float32)
    click[100] = 1.0
    dry = dataclasses.replace(MEASUREMENT_ROOMS[2], codec=None, snr_db=120.0, drive=1.0)
    recorded = capture(click, CONFIG.sample_rate, dry, np.random.default_rng(0))
    energy_late = np.sum(recorded[100 + CONFIG.sample_rate // 10:] ** 2)
    assert energy_late > 1e-3 * np.sum(recorded ** 2)       # a 1.2 s room rings long after 100 ms


def test_augment_db_stays_an_image_representation():
    rng = np.random.default_rng(0)
    db = np.clip(rng.normal(-40, 15, size=(CONFIG.n_mels, CONFIG.image_columns)), -80, 0).astype(np.float32)
    db[5, 5] = 0.0
    out = augment_db(db, rng, CONFIG)
    assert out.shape == db.shape and out.dtype == np.float32
    assert out.max() <= 0 and out.min() >= -CONFIG.top_db
    step = CONFIG.top_db / CONFIG.levels                      # level centres, as serving reads images back
    assert np.allclose(((out + CONFIG.top_db) / step - 0.5) % 1, 0, atol=1e-3)
    assert not np.allclose(out, db)
    assert np.allclose(augment_db(db, np.random.default_rng(0), CONFIG, strength=0.0).mean(), db.mean(), atol=1.0)


# ----------------------------------------------------------------------------- image-derived tagger input
def test_band_map_is_non_negative_and_covers_every_band():
    mapping = band_map()
    assert mapping.shape == (PretrainedConfig().n_mels, CONFIG.n_mels)
    assert (mapping >= 0).all() and (mapping.sum(axis=1) > 0).all()
    # Low musicnn bands draw on low image bands, high ones on high image bands.
    centres = (mapping * np.arange(CONFIG.n_mels)).sum(axis=1) / mapping.sum(axis=1)
    assert np.all(np.diff(centres) > -1.0) and centres[0] < 10 < 100 < centres[-1]


def test_image_log_mel_has_musicnn_frame_rate_and_follows_level():
    rng = np.random.default_rng(2)
    db = np.clip(rng.normal(-30, 10, size=(CONFIG.n_mels, CONFIG.image_columns)), -80, 0)
    quiet, loud = image_log_mel(db, 1.0), image_log_mel(db, 100.0)
    seconds = CONFIG.unit_samples / CONFIG.sample_rate
    expected = 1 + int(seconds * PretrainedConfig().sample_rate) // PretrainedConfig().hop_length
    assert quiet.shape == (expected, PretrainedConfig().n_mels) == loud.shape
    assert (loud > quiet).all() and (quiet >= 0).all()


def test_levelled_image_input_ignores_the_gain_and_sits_at_the_level():
    from core.serve.musicnn_input import level_db

    rng = np.random.default_rng(2)
    db = np.clip(rng.normal(-30, 10, size=(CONFIG.n_mels, CONFIG.image_columns)), -80, 0)
    first, second = image_log_mel(db, 1.0, target_db=-25.0), image_log_mel(db, 100.0, target_db=-25.0)
    np.testing.assert_allclose(first, second, atol=1e-5)
    power = (10.0 ** first.astype(np.float64) - 1.0) / PretrainedConfig().log_gain
    assert abs(level_db(power) - -25.0) < 1.5        # interpolated to musicnn's frame rate in the log domain


# ----------------------------------------------------------------------------- the head
def test_head_learns_separable_classes_and_prior_pulls_towards_tags():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(GENRES)), 20)
    logits = rng.normal(size=(len(labels), 50))
    logits[np.arange(len(labels)), labels] += 4.0             # tag i marks genre i
    head = train_head(logits, np.zeros((len(labels), 200)), labels, np.arange(len(labels)), TAGS,
                      HeadSettings(features="tags", l2=1e-3, prior_strength=0.0))
    assert np.mean(head.probabilities(logits, np.zeros((len(labels), 200))).argmax(1) == labels) > 0.9
    # With no data to speak of and a strong pull, the weights stay at the prior.
    prior = np.ones((2, 3))
    weights, _ = fit_head(np.zeros((4, 3)), np.array([0, 1, 0, 1]), np.ones(4), prior, l2=10.0)
    assert np.allclose(weights, prior, atol=1e-3)


def test_prior_links_genres_to_their_own_tags():
    weights = prior_weights(TAGS, len(TAGS), 1.0)
    assert weights[GENRES.index("jazz"), TAGS.index("jazz")] == 1.0
    assert weights[GENRES.index("classical")].sum() == 0       # no MSD tag names classical


def test_head_round_trips_through_json(tmp_path):
    rng = np.random.default_rng(0)
    head = TransferHead(HeadSettings(features="both", patches_per_unit=4), rng.normal(size=250), rng.random(250) + 1,
                        rng.normal(size=(10, 250)), rng.normal(size=10), {"image_gain": 3.0})
    head.save(tmp_path / "head.json")
    loaded = TransferHead.load(tmp_path / "head.json")
    x, y = rng.normal(size=(3, 50)), rng.normal(size=(3, 200))
    assert loaded.settings == head.settings and loaded.extra["image_gain"] == 3.0
    old = json.loads((tmp_path / "head.json").read_text())
    del old["settings"]["level_db"]                                     # a head written before levelling
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert TransferHead.load(tmp_path / "old.json").settings.level_db is None
    assert np.allclose(loaded.probabilities(x, y), head.probabilities(x, y))


# ----------------------------------------------------------------------------- the verdict
def test_weight_grid_covers_the_simplex():
    grid = weight_grid(["a", "b", "c"])
    assert len(grid) == 66 and all(abs(sum(w.values()) - 1) < 1e-9 for w in grid)


def test_verdict_prefers_the_model_that_is_right():
    labels = np.array([1, 2, 3, 4])
    right, wrong = np.eye(10)[labels], np.eye(10)[labels - 1]     # ties go to the wrong (lower) genre
    views = {"v": {"labels": labels, "models": {"good": right, "bad": wrong}}}
    result = choose(views)
    assert result["weights"]["good"] > result["weights"]["bad"] and result["valid"]["v"] == 1.0
    assert accuracy({"bad": 1.0}, views["v"]) == 0.0


# ----------------------------------------------------------------------------- labelled folders
@pytest.fixture
def labelled_folder(tmp_path):
    for genre in ("jazz", "rock"):
        (tmp_path / genre).mkdir()
        sf.write(tmp_path / genre / "clip one.wav", _music(4.0, seed=len(genre)), CONFIG.sample_rate)
    (tmp_path / "rock" / "cover.jpg").write_bytes(b"not audio")
    return tmp_path


def test_labelled_files_from_folders_and_from_labels_csv(labelled_folder):
    from core.learn.evaluate import labelled_files

    assert labelled_files(labelled_folder) == [("jazz/clip one.wav", "jazz"), ("rock/clip one.wav", "rock")]
    (labelled_folder / "LABELS.csv").write_text("file,genre,notes\nrock/clip one.wav,Rock,x\n")
    assert labelled_files(labelled_folder) == [("rock/clip one.wav", "rock")]
    (labelled_folder / "LABELS.csv").write_text("file,genre\nrock/clip one.wav,polka\n")
    with pytest.raises(ValueError, match="polka"):
        labelled_files(labelled_folder)


def test_evaluate_folder_reports_every_model_and_the_verdict(classifier, labelled_folder):
    from core.learn.evaluate import evaluate_folder

    records = []
    summary = evaluate_folder(classifier, labelled_folder, capture=True, on_record=records.append)
    assert [record["clip"] for record in records] == ["jazz/clip one.wav", "rock/clip one.wav"]
    assert summary["clips"] == 2 and summary["capture"]
    expected = set(classifier.model_names) | ({"verdict"} if classifier.verdict_weights else set())
    assert set(summary["models"]) == expected
    for scores in summary["models"].values():
        assert np.array(scores["confusion_matrix"]).sum() == 2


def test_evaluate_folder_plays_the_clips_quieter_when_asked(classifier, labelled_folder):
    from core.learn.evaluate import evaluate_folder

    normal, quiet = [], []
    evaluate_folder(classifier, labelled_folder, on_record=normal.append)
    summary = evaluate_folder(classifier, labelled_folder, on_record=quiet.append, gain_db=-30.0)
    assert summary["gain_db"] == -30.0 and "gain_db" not in evaluate_folder(classifier, labelled_folder)
    first, second = (records[0]["models"]["baseline"]["probabilities"] for records in (normal, quiet))
    assert first != second          # the clip statistics see the level: the clips were really played quieter


def test_verdict_sentences_name_who_backs_it():
    from core.app.clip_views import verdict_sentences

    class Said:
        def __init__(self, genre):
            self.genre = genre

    predictions = {"cnn": Said("rock"), "lstm": Said("rock"), "musicnn": Said("country")}
    first, how = verdict_sentences(Said("rock"), predictions, {"cnn": 0.6, "lstm": 0.0, "musicnn": 0.3})
    assert first == "The CNN and the LSTM agree; the pretrained musicnn says country."
    assert how.endswith("CNN 67%, pretrained musicnn 33%.")
    assert verdict_sentences(Said("jazz"), predictions, {"cnn": 1.0})[0].startswith("No single model puts jazz first")


def test_a_short_clip_is_heard_whole_by_the_transfer_model(classifier):
    """A 10 s clip gets every patch a 30 s unit gets, spread over it; a long file's tail, proportionally fewer."""
    from core.serve.audio import decode
    from core.serve.examples import example_clips

    audio = decode(example_clips()[0].path, classifier.config)
    per_unit = classifier.transfer_head.settings.patches_per_unit
    rate = classifier.config.sample_rate
    short = dataclasses.replace(audio, samples=audio.samples[:10 * rate])
    starts = classifier.analyse(short).predictions["musicnn"].window_starts_s
    assert len(starts) == per_unit > 1 and starts[0] == 0 and starts[-1] > 6.0
    long = dataclasses.replace(audio, samples=np.concatenate([audio.samples[:30 * rate], audio.samples[:6 * rate]]))
    starts = classifier.analyse(long).predictions["musicnn"].window_starts_s
    assert len(starts) == per_unit + max(1, round(per_unit * 6 / 30)) and (starts[per_unit:] >= 30).all()


def test_the_verdict_is_the_weighted_average_worked_by_hand():
    """0.2 x CNN (blues .9, classical .1) + 0.8 x musicnn (blues .3, classical .7) = blues .42, classical .58."""
    from core.serve.inference import GenreClassifier, ModelPrediction

    def prediction(name, values):
        probabilities = np.zeros(len(GENRES))
        probabilities[:len(values)] = values
        return ModelPrediction(name, GENRES[int(probabilities.argmax())], probabilities, probabilities[None],
                               np.zeros(1), 3.0, 0.01)

    classifier = GenreClassifier.__new__(GenreClassifier)
    classifier.verdict_weights = {"cnn": 0.2, "lstm": 0.0, "musicnn": 0.8}
    predictions = {"cnn": prediction("cnn", [0.9, 0.1]), "lstm": prediction("lstm", [0.0, 0.0, 1.0]),
                   "musicnn": prediction("musicnn", [0.3, 0.7])}
    verdict = classifier.verdict(predictions, 30.0)
    expected = np.zeros(len(GENRES))
    expected[:2] = [0.42, 0.58]
    np.testing.assert_allclose(verdict.probabilities, expected)
    assert verdict.genre == "classical" and verdict.model == "verdict"


def test_the_head_adds_its_bias_worked_by_hand():
    bias = np.log(np.arange(1, 11, dtype=float))            # softmax(log k) = k / 55
    head = TransferHead(HeadSettings(features="tags"), np.zeros(50), np.ones(50), np.zeros((10, 50)), bias)
    np.testing.assert_allclose(head.probabilities(np.ones((1, 50)), np.zeros((1, 200)))[0], np.arange(1, 11) / 55)


def test_a_clips_room_follows_from_its_name_and_tuning_rooms_never_measure():
    """Every command hears a clip through the same room, whatever list it is in; choosing and measuring
    use disjoint rooms."""
    from core.learn.capture import TUNING_ROOMS

    clean = _music(seconds=3.0)
    alone = measurement_capture(clean, CONFIG.sample_rate, "jazz/jazz.00042.wav")
    for _ in range(2):                       # other clips measured before it change nothing
        measurement_capture(clean, CONFIG.sample_rate, "pop/pop.00001.wav")
    np.testing.assert_array_equal(measurement_capture(clean, CONFIG.sample_rate, "jazz/jazz.00042.wav"), alone)
    assert not set(TUNING_ROOMS) & set(MEASUREMENT_ROOMS)
    tuned = measurement_capture(clean, CONFIG.sample_rate, "jazz/jazz.00042.wav", "tuning")
    assert not np.allclose(tuned, alone)
