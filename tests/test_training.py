"""Models, export and a tiny end-to-end training run on generated audio (seconds, no GTZAN needed)."""

import json

import numpy as np
import pytest
import soundfile as sf

from core.serve.config import GENRES, FeatureConfig

tf = pytest.importorskip("tensorflow", reason="training tests need TensorFlow (requirements-dev.txt)")

from core.learn.models import TrainingSettings, build_baseline, build_cnn, build_lstm  # noqa: E402

CONFIG = FeatureConfig()
SETTINGS = TrainingSettings()


@pytest.mark.parametrize("build, shape", [
    (lambda: build_cnn(CONFIG, SETTINGS), (CONFIG.n_mels, CONFIG.window_columns, 1)),
    (lambda: build_lstm(CONFIG, SETTINGS), (CONFIG.window_columns, CONFIG.n_mfcc)),
    (lambda: build_baseline(57, SETTINGS), (57,)),
])
def test_model_builds_and_learns_one_step(build, shape):
    model = build()
    assert model.output_shape == (None, len(GENRES))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16,) + shape).astype(np.float32)
    y = np.eye(len(GENRES), dtype=np.float32)[rng.integers(0, len(GENRES), 16)]
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss).all()
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert np.allclose(model.predict(x, verbose=0).sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("build, shape, per_band", [
    (build_cnn, (CONFIG.n_mels, CONFIG.window_columns, 1), (CONFIG.n_mels, 1, 1)),
    (build_lstm, (CONFIG.window_columns, CONFIG.n_mfcc), (1, CONFIG.n_mfcc)),
])
def test_networks_centred_over_time_do_not_hear_a_fixed_eq(build, shape, per_band):
    from core.learn.models import build_crnn

    rng = np.random.default_rng(1)
    x = rng.normal(size=(4,) + shape).astype(np.float32)
    eq = (4.0 * rng.normal(size=(4,) + per_band)).astype(np.float32)      # one constant per band and window
    centred = [build(CONFIG, TrainingSettings(centre_over_time=True))]
    if len(shape) == 3:
        centred.append(build_crnn(CONFIG, TrainingSettings(centre_over_time=True)))
    for model in centred:
        np.testing.assert_allclose(model.predict(x + eq, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    plain = build(CONFIG, SETTINGS)
    assert not np.allclose(plain.predict(x + eq, verbose=0), plain.predict(x, verbose=0), atol=1e-3)


def _synthetic_genre(genre_index: int, clip_index: int, seconds: float = 30.0) -> np.ndarray:
    """A clip whose spectrum depends on its genre: a few partials around a genre-specific pitch."""
    rng = np.random.default_rng(100 * genre_index + clip_index)
    t = np.arange(int(seconds * CONFIG.sample_rate)) / CONFIG.sample_rate
    base = 110.0 * 2 ** (genre_index / 2.5)
    tone = sum(np.sin(2 * np.pi * base * k * t) / k for k in range(1, 4))
    pulse = (np.sin(2 * np.pi * (1 + genre_index / 3) * t) > 0.7)
    return (0.2 * tone * (0.5 + pulse) + 0.02 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_gtzan(tmp_path_factory):
    """A GTZAN-layout audio folder (no images, no CSV) with its own split lists."""
    root = tmp_path_factory.mktemp("tiny_gtzan")
    (root / "splits").mkdir()
    lists = {"train": [], "valid": [], "test": []}
    for g, genre in enumerate(GENRES):
        (root / genre).mkdir()
        for index, part in enumerate(["train", "train", "valid", "test"]):
            name = f"{genre}.{index:05d}"
            sf.write(root / genre / f"{name}.wav", _synthetic_genre(g, index), CONFIG.sample_rate, subtype="PCM_16")
            lists[part].append(f"{genre}/{name}.wav")
    for part, file in {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}.items():
        (root / "splits" / file).write_text("\n".join(lists[part]) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny_run(tiny_gtzan, tmp_path_factory):
    """A 2-epoch training run on the tiny folder: its artifacts and every choice it made (``core.learn.audit``)."""
    from core.learn import audit
    from core.learn.commands import train_main as main

    out = tmp_path_factory.mktemp("artifacts")
    with audit.recording() as choices:
        assert main(["--data", str(tiny_gtzan), "--epochs", "2", "--out", str(out), "--no-leaky", "--no-cache"]) == 0
    return out, choices


@pytest.fixture(scope="module")
def tiny_artifacts(tiny_run):
    return tiny_run[0]


def test_training_writes_every_artifact(tiny_artifacts):
    for name in ("feature_config.json", "normalisation.json", "training.json", "evaluation.json", "MODEL_CARD.md",
                 "cnn.keras", "cnn.tflite", "lstm.keras", "lstm.tflite", "baseline.keras", "baseline.tflite",
                 "musicnn.tflite", "transfer_head.json", "verdict.json"):
        assert (tiny_artifacts / name).exists(), name
    summary = json.loads((tiny_artifacts / "training.json").read_text())
    assert summary["source"] == "audio"
    for name in ("cnn", "lstm", "baseline"):
        assert len(summary["models"][name]["history"]) == 2
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(summary["models"][name]["history"][0])
    transfer = summary["models"]["musicnn"]
    assert transfer["head_trials"] and transfer["settings"]["patches_per_unit"] >= 1
    assert set(transfer["training_kinds"]) <= {"audio", "audio captured", "image", "image captured"}
    verdict = json.loads((tiny_artifacts / "verdict.json").read_text())
    assert abs(sum(verdict["weights"].values()) - 1) < 1e-6 and set(verdict["weights"]) == {"cnn", "lstm", "baseline", "musicnn"}
    evaluation = json.loads((tiny_artifacts / "evaluation.json").read_text())
    assert evaluation["test"]["clips"] == len(GENRES)
    matrix = np.array(evaluation["test"]["models"]["cnn"]["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == len(GENRES)
    assert FeatureConfig.load(tiny_artifacts / "feature_config.json") == CONFIG


def test_exported_models_equal_keras(tiny_artifacts):
    """The LiteRT export serving uses computes what the Keras model computes."""
    import keras

    from core.serve.inference import GenreClassifier

    classifier = GenreClassifier(tiny_artifacts)
    rng = np.random.default_rng(3)
    for name, shape in [("cnn", (CONFIG.n_mels, CONFIG.window_columns, 1)),
                        ("lstm", (CONFIG.window_columns, CONFIG.n_mfcc)),
                        ("baseline", (len(CONFIG.baseline_features),))]:
        model = keras.models.load_model(tiny_artifacts / f"{name}.keras")
        x = rng.normal(size=(11,) + shape).astype(np.float32)   # 11: not a multiple of the LSTM's fixed batch
        assert np.allclose(classifier._run(name, x), model.predict(x, verbose=0), atol=1e-5), name


def test_trained_classifier_is_deterministic(tiny_artifacts):
    from core.serve.audio import decode
    from core.serve.inference import GenreClassifier

    classifier = GenreClassifier(tiny_artifacts)
    audio = decode(_wav_bytes(_synthetic_genre(3, 9)))
    first, second = classifier.analyse(audio), classifier.analyse(audio)
    for name in first.predictions:
        assert np.array_equal(first.predictions[name].probabilities, second.predictions[name].probabilities)
        assert abs(first.predictions[name].probabilities.sum() - 1) < 1e-5


def _wav_bytes(samples: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, samples, CONFIG.sample_rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_retraining_some_models_keeps_the_others_entries(tmp_path):
    from core.learn.train import _kept_models

    path = tmp_path / "training.json"
    path.write_text(json.dumps({"split": "filtered", "seed": 0, "models": {"cnn": {"best_epoch": 3}, "lstm": {}}}))
    assert _kept_models(path, "filtered", 0, ["lstm"]) == {"cnn": {"best_epoch": 3}}
    assert _kept_models(path, "filtered", 1, ["lstm"]) == {}          # another seed: nothing carried over
    assert _kept_models(tmp_path / "missing.json", "filtered", 0, ["lstm"]) == {}


def test_training_is_reproducible_with_a_fixed_seed():
    """Same data, same seed: the same history and the same weights."""
    import dataclasses

    from core.serve.inputs import Normalisation
    from core.learn.train import Split, train_window_model

    rng = np.random.default_rng(5)
    clips = [f"{genre}/{genre}.0000{i}" for genre in GENRES for i in range(2)]
    levels = [rng.integers(0, 256, size=(CONFIG.n_mels, 80), dtype=np.uint8) for _ in clips]
    split = Split(clips, levels, np.zeros((len(clips), 1)), CONFIG)
    norm = Normalisation.fit(split.db, np.zeros((len(clips), 1)), CONFIG)
    settings = dataclasses.replace(SETTINGS, max_epochs=2, windows_per_clip=2)
    runs = [train_window_model("lstm", split, split, norm, CONFIG, settings, seed=3) for _ in range(2)]
    assert [r["loss"] for r in runs[0][1]] == [r["loss"] for r in runs[1][1]]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0].get_weights(), runs[1][0].get_weights()))


@pytest.mark.parametrize("images_too", [True, False])
def test_captured_clips_use_their_recordings_and_images_only_when_asked(images_too):
    """With probability 1, a clip with recordings becomes one of them; an image-only clip is degraded
    in the mel domain, or left alone without ``images_too`` (the LSTM's ``capture_images=False``)."""
    from core.learn.train import Split, captured

    rng = np.random.default_rng(2)
    clips = ["blues/blues.00000", "jazz/jazz.00000"]
    levels = [rng.integers(0, 256, size=(CONFIG.n_mels, 80), dtype=np.uint8) for _ in clips]
    split = Split(clips, levels, np.zeros((2, 1)), CONFIG)
    recording = np.full_like(split.db[0], -30.0)
    split.recorded[0] = [recording]
    out = captured(split, 1.0, np.random.default_rng(0), CONFIG, images_too=images_too)
    assert out[0] is recording
    assert np.array_equal(out[1], split.db[1]) != images_too
    unchanged = captured(split, 0.0, np.random.default_rng(0), CONFIG, images_too=images_too)
    assert all(np.array_equal(a, b) for a, b in zip(unchanged, split.db))


def test_verdict_is_never_chosen_with_a_head_refit_on_validation(tiny_artifacts, tiny_gtzan, tmp_path, capsys):
    """The shipped head is refit on train+valid after the verdict is chosen: a later choice must refuse."""
    import shutil

    from core.learn.commands import train_main as main
    from core.learn.verdict import write_verdict

    out = tmp_path / "artifacts"
    shutil.copytree(tiny_artifacts, out)
    with pytest.raises(ValueError, match="refit on the validation list"):
        write_verdict(out, tiny_gtzan)
    with pytest.raises(SystemExit):
        main(["--data", str(tiny_gtzan), "--epochs", "1", "--out", str(out), "--models", "lstm", "--no-leaky"])
    assert "retrain the transfer model in the same run" in capsys.readouterr().err


# ----------------------------------------------------------------------------- split discipline
# Every choice of the GTZAN stage, as core.learn.audit names them.
GTZAN_CHOICES = {"best epoch (cnn)", "best epoch (lstm)", "best epoch (baseline)", "transfer head settings",
                 "transfer patches per clip", "verdict weights"}
SCORED_ONLY = {"transfer patches per clip", "verdict weights"}     # they fit nothing: validation clips alone


def assert_chosen_on_train_and_valid(choices, lists: dict[str, list[str]]) -> None:
    """Every GTZAN-stage choice was made on validation clips and, when it fits, training clips: never on a clip
    of the test list."""
    read: dict[str, set[str]] = {}
    for choice in choices:
        read.setdefault(choice.step, set()).update(choice.clips)
    assert set(read) == GTZAN_CHOICES
    test, valid, train = set(lists["test"]), set(lists["valid"]), set(lists["train"])
    for step, clips in read.items():
        assert not clips & test, f"{step} read test clips {sorted(clips & test)}"
        assert clips & valid and clips <= (valid if step in SCORED_ONLY else train | valid), step


def test_every_choice_of_a_training_run_reads_training_and_validation_clips_only(tiny_run, tiny_gtzan):
    """The best epochs, the transfer head's settings and patch count and the verdict's weights, under the
    fault-filtered protocol: never a clip of its test list."""
    from core.learn import gtzan

    assert_chosen_on_train_and_valid(tiny_run[1], gtzan.split_lists(tiny_gtzan, "filtered", 0))


@pytest.mark.slow
def test_a_random_split_chooses_on_its_own_lists(tiny_gtzan, tmp_path, monkeypatch):
    """Under --split random every choice reads that split's training and validation lists only, and the verdict's
    weights are chosen on its validation list (the random lists are made here from the tiny folder's 40 clips)."""
    from core.learn import audit, gtzan
    from core.learn.commands import train_main as main

    everything = gtzan.all_clips(tiny_gtzan)
    shuffled = [everything[i] for i in np.random.default_rng(3).permutation(len(everything))]
    random_lists = {"train": shuffled[:20], "valid": shuffled[20:30], "test": shuffled[30:]}
    filtered = gtzan.split_lists

    def lists(data_dir, protocol, seed):
        return random_lists if protocol == "random" else filtered(data_dir, protocol, seed)

    monkeypatch.setattr(gtzan, "split_lists", lists)
    out = tmp_path / "artifacts"
    with audit.recording() as choices:
        assert main(["--data", str(tiny_gtzan), "--split", "random", "--epochs", "1", "--out", str(out), "--no-leaky",
                     "--no-cache", "--no-evaluate"]) == 0
    assert_chosen_on_train_and_valid(choices, random_lists)
    chosen_on = json.loads((out / "verdict.json").read_text())["valid_list"]
    assert sorted(chosen_on) == sorted(random_lists["valid"])


@pytest.fixture
def tiny_realworld(tmp_path):
    """Nine short synthetic real recordings in three grouped folds, in ``data/realworld``'s layout."""
    from core.learn import realworld

    folder = tmp_path / "realworld"
    rows = ["file,genre,fold,group,label_confidence"]
    for index, genre in enumerate(GENRES[:9]):
        (folder / genre).mkdir(parents=True)
        sf.write(folder / genre / f"real{index}.wav", _synthetic_genre(index, 50 + index, seconds=8.0),
                 CONFIG.sample_rate, subtype="PCM_16")
        rows.append(f"{genre}/real{index}.wav,{genre},{index % 3},artist{index},high")
    (folder / realworld.LABELS_FILE).write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.slow
def test_no_choice_made_for_a_real_world_fold_reads_that_fold(tiny_artifacts, tiny_gtzan, tiny_realworld, tmp_path,
                                                               monkeypatch):
    """The real-music stage on the tiny run's GTZAN stage: everything chosen or fitted for predicting fold k (the
    head's settings and its fit, the fine-tuned networks' epochs, the verdict's weights, the nested study of head
    families) reads no clip of fold k, and nothing reads GTZAN's test list."""
    import shutil

    from core.learn import audit, crossval, gtzan, realhead, realworld

    artifacts = tmp_path / "artifacts"
    shutil.copytree(tiny_artifacts, artifacts)
    clips = realworld.read_clips(tiny_realworld)
    context = crossval.Context(artifacts, tiny_gtzan, tiny_realworld, clips, 0, tmp_path / "work")
    grid = [realhead.HeadChoice(features="tags", prior="none", real_weight=weight) for weight in (1.0, 4.0)]
    monkeypatch.setattr(realhead, "head_grid", lambda **_: grid)          # every head family: two settings
    monkeypatch.setattr(crossval, "FINE_TUNE_EPOCHS", 1)
    fit = realhead.fit_clip_head

    def fit_and_say(gtzan_rows, real_rows, *args, **kwargs):              # a fitted head, reported like a choice
        audit.chose_on("fitted head", [*gtzan_rows.clips, *real_rows.clips])
        return fit(gtzan_rows, real_rows, *args, **kwargs)

    monkeypatch.setattr(realhead, "fit_clip_head", fit_and_say)
    data = crossval.head_data(artifacts, tiny_gtzan, tiny_realworld, clips, 0, cache_dir=None)
    with audit.recording() as choices:
        cv = crossval.cross_validate(context, data, grid)
        crossval.head_variants(context, data)
        crossval.refit_shipped(context, data, grid)
    fold_of = {clip.file: clip.fold for clip in clips}
    lists = gtzan.split_lists(tiny_gtzan, "filtered", 0)
    for choice in choices:
        assert not choice.clips & set(lists["test"]), choice.step
        assert choice.clips <= set(lists["train"]) | set(lists["valid"]) | set(fold_of), choice.step
        if choice.held_out is not None:
            seen = sorted(clip for clip in choice.clips if fold_of.get(clip) == choice.held_out)
            assert not seen, f"{choice.step} for fold {choice.held_out} read {seen}"
    made_for = {fold: {choice.step for choice in choices if choice.held_out == fold} for fold in (0, 1, 2)}
    assert all(steps == {"real-world head", "fitted head", "best epoch (cnn)", "best epoch (lstm)", "verdict weights",
                         "real-world verdict"} for steps in made_for.values()), made_for
    shipped = {choice.step for choice in choices if choice.held_out is None}
    assert {"real-world head", "fitted head", "best epoch (cnn)", "best epoch (lstm)", "verdict weights",
            "real-world verdict"} == shipped
    assert cv["clips"] == len(clips) and {record["fold"] for record in cv["records"]} == {0, 1, 2}
