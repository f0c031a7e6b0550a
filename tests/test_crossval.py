"""Learning real music: grouped folds, heads that never see the fold they predict, the verdict's choice."""

import json

import numpy as np
import pytest

from core.learn import crossval, realhead, realworld
from core.learn.transfer import PatchTable
from core.serve.artifacts import ARTIFACTS_DIR, EVALUATION_FILE, TRAINING_FILE
from core.serve.config import GENRES
from core.serve.pretrained import HeadSettings, TransferHead, softmax

TAGS = json.loads((ARTIFACTS_DIR / "musicnn.json").read_text())["tags"]
REAL_DIR = realworld.default_realworld_dir()


def _rows(n_clips: int, seed: int, prefix: str, kinds=("audio", "audio captured"), signal: float = 2.0):
    """Clip rows whose tag logits carry their genre (so heads can learn), two versions a clip."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(GENRES), n_clips)
    clips, row_kinds, row_labels, tags = [], [], [], []
    for index, label in enumerate(labels):
        for kind in kinds:
            clips.append(f"{GENRES[label]}/{prefix}{index}")
            row_kinds.append(kind)
            row_labels.append(label)
            logits = rng.normal(size=len(TAGS))
            logits[label] += signal
            tags.append(logits)
    tags = np.array(tags)
    return realhead.ClipRows({"tags": tags, "penultimate": rng.normal(size=(len(tags), 200))}, np.array(clips),
                             np.array(row_kinds), np.array(row_labels))


@pytest.fixture(scope="module")
def synthetic():
    gtzan = _rows(60, 0, "g", kinds=("image", "audio"))
    real = _rows(50, 1, "r")
    folds = np.array([int(clip[-1]) % 5 for clip in real.clips])     # grouped: a clip's versions share its fold
    return gtzan, real, folds


# ----------------------------------------------------------------------------- folds
@pytest.mark.skipif(REAL_DIR is None, reason="data/realworld is not here")
def test_realworld_folds_are_grouped_and_cover_every_clip():
    clips = realworld.read_clips(REAL_DIR)
    realworld.check_grouped(clips)
    assert sorted({clip.fold for clip in clips}) == [0, 1, 2, 3, 4]
    assert len(clips) == len({clip.file for clip in clips})


def test_a_group_in_two_folds_is_refused():
    clips = [realworld.RealClip("rock/a.mp3", "rock", 0, "Band", "high"),
             realworld.RealClip("rock/b.mp3", "rock", 1, "Band", "high")]
    with pytest.raises(ValueError, match="Band"):
        realworld.check_grouped(clips)


def test_labels_without_folds_are_refused(tmp_path):
    (tmp_path / "LABELS.csv").write_text("file,genre\nrock/a.mp3,rock\n")
    with pytest.raises(ValueError, match="fold"):
        realworld.read_clips(tmp_path)


# ----------------------------------------------------------------------------- no fold sees itself
def test_fold_predictions_come_from_heads_that_never_saw_the_fold(synthetic, monkeypatch):
    gtzan, real, folds = synthetic
    seen = []
    fit = realhead.fit_clip_head

    def recording(gtzan_rows, real_rows, *args, **kwargs):
        seen.append(set(real_rows.clips))
        return fit(gtzan_rows, real_rows, *args, **kwargs)

    monkeypatch.setattr(realhead, "fit_clip_head", recording)
    heads = realhead.FoldHeads(gtzan, real, folds, TAGS)
    rows = np.concatenate([heads.predict(realhead.HeadChoice(), [f for f in [1, 2, 3, 4] if f != fold], fold)[0]
                           for fold in [1, 2, 3, 4]])
    heads.accuracy(realhead.HeadChoice(), [1, 2, 3, 4])           # the same fits again: remembered, not refitted
    assert len(seen) == 4
    with pytest.raises(AssertionError, match="never predicted"):
        heads.predict(realhead.HeadChoice(), [0, 1], 1)
    for fold, trained_on in zip([1, 2, 3, 4], seen):
        assert not trained_on & set(real.clips[folds == fold])        # never its own fold
        assert not trained_on & set(real.clips[folds == 0])           # never the held-out outer fold
    assert set(folds[rows]) == {1, 2, 3, 4} and set(real.kinds[rows]) == {"audio"}


def test_the_inner_choice_does_not_read_the_outer_fold(synthetic):
    gtzan, real, folds = synthetic
    grid = realhead.head_grid(features=("tags",), l2=(1e-2, 1.0), priors=("none", "anchor"), real_weights=(1.0, 16.0),
                              mixes=("audio and images",))
    scrambled = realhead.ClipRows(dict(real.outputs), real.clips, real.kinds, real.labels.copy())
    scrambled.labels[folds == 0] = (scrambled.labels[folds == 0] + 3) % len(GENRES)   # fold 0 relabelled
    choice, trials = realhead.FoldHeads(gtzan, real, folds, TAGS).choose(grid, within=[1, 2, 3, 4])
    choice_scrambled, trials_scrambled = realhead.FoldHeads(gtzan, scrambled, folds, TAGS).choose(grid, within=[1, 2, 3, 4])
    assert choice == choice_scrambled and trials == trials_scrambled


def test_no_choice_or_fit_made_for_an_outer_fold_reads_it(synthetic, monkeypatch):
    """Nested CV under ``core.learn.audit``: each outer fold's head choice (and every head fitted for it) reads
    real clips of the other folds only; outside ``recording()`` nothing is kept."""
    from core.learn import audit

    gtzan, real, folds = synthetic
    fit = realhead.fit_clip_head

    def fit_and_say(gtzan_rows, real_rows, *args, **kwargs):
        audit.chose_on("fitted head", real_rows.clips)
        return fit(gtzan_rows, real_rows, *args, **kwargs)

    monkeypatch.setattr(realhead, "fit_clip_head", fit_and_say)
    grid = [realhead.HeadChoice(features="tags", prior="none", real_weight=weight) for weight in (1.0, 4.0)]
    with audit.recording() as choices:
        realhead.FoldHeads(gtzan, real, folds, TAGS).nested(grid)
    fold_of = dict(zip(real.clips, folds))
    assert {choice.held_out for choice in choices if choice.step == "real-world head"} == {0, 1, 2, 3, 4}
    for choice in choices:
        seen = sorted(clip for clip in choice.clips if fold_of.get(clip) == choice.held_out)
        assert choice.held_out is not None and not seen, f"{choice.step} for fold {choice.held_out} read {seen}"
    audit.chose_on("outside", ["rock/r0"])
    assert all(choice.step != "outside" for choice in choices)


def test_nested_cv_learns_real_music_that_gtzan_alone_cannot_teach():
    """GTZAN rows carry a genre in one tag, real rows in another: only real clips teach the second."""
    gtzan = _rows(80, 2, "g", kinds=("image", "audio"))
    real = _rows(60, 3, "r", signal=0.0)
    shifted = real.outputs["tags"].copy()
    shifted[np.arange(len(real.labels)), 20 + real.labels] += 4.0
    real = realhead.ClipRows({"tags": shifted, "penultimate": real.outputs["penultimate"]}, real.clips, real.kinds,
                             real.labels)
    folds = np.array([int(clip[-1]) % 5 for clip in real.clips])
    grid = [realhead.HeadChoice(features="tags", prior="none", real_weight=weight) for weight in (0.0, 4.0)]
    gtzan_only = realhead.FoldHeads(gtzan, real, folds, TAGS).nested(grid[:1])
    with_real = realhead.FoldHeads(gtzan, real, folds, TAGS).nested(grid)
    assert with_real["oof_accuracy"] > gtzan_only["oof_accuracy"] + 0.3
    assert with_real["clips"] == 60 and set(with_real["choices"]) == {0, 1, 2, 3, 4}


# ----------------------------------------------------------------------------- the head's arithmetic
def test_a_tag_anchored_head_adds_the_genre_tags_to_its_logits():
    anchor = realhead.anchor_matrix(TAGS)
    settings = HeadSettings(features="tags", pooling="clip", anchor=1.0)
    head = TransferHead(settings, np.zeros(50), np.ones(50), np.zeros((10, 50)), np.arange(10) * 0.1,
                        anchor_weights=anchor)
    tags = np.zeros((2, 50))
    tags[:, TAGS.index("blues")] = [3.0, 1.0]               # mean 2.0 over the two patches
    tags[:, TAGS.index("metal")] = 2.0
    tags[:, TAGS.index("heavy metal")] = 0.0                 # metal's two tags average to 1.0
    expected = np.arange(10) * 0.1
    expected[GENRES.index("blues")] += 2.0
    expected[GENRES.index("metal")] += 1.0
    np.testing.assert_allclose(head.clip_probabilities(tags, np.zeros((2, 200))), softmax(expected[None])[0])
    patches = head.probabilities(tags, np.zeros((2, 200)))
    assert patches.shape == (2, 10) and patches[0].argmax() == GENRES.index("blues")


def test_a_clip_pooled_head_reads_the_mean_outputs_and_a_patch_pooled_one_averages_answers():
    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(10, 50)), rng.normal(size=10)
    tags = rng.normal(size=(4, 50))
    pooled = TransferHead(HeadSettings(features="tags", pooling="clip"), np.zeros(50), np.ones(50), weights, bias)
    averaged = TransferHead(HeadSettings(features="tags"), np.zeros(50), np.ones(50), weights, bias)
    np.testing.assert_allclose(pooled.clip_probabilities(tags, np.zeros((4, 200))),
                               softmax((tags.mean(axis=0) @ weights.T + bias)[None])[0])
    np.testing.assert_allclose(averaged.clip_probabilities(tags, np.zeros((4, 200))),
                               softmax(tags @ weights.T + bias).mean(axis=0))


def test_a_saved_anchored_head_loads_back_the_same(tmp_path):
    head = TransferHead(HeadSettings(features="tags", pooling="clip", anchor=1.0), np.zeros(50), np.ones(50),
                        np.ones((10, 50)), np.zeros(10), {"tags": TAGS}, realhead.anchor_matrix(TAGS))
    head.save(tmp_path / "head.json")
    loaded = TransferHead.load(tmp_path / "head.json")
    tags = np.random.default_rng(1).normal(size=(3, 50))
    np.testing.assert_allclose(loaded.clip_probabilities(tags, np.zeros((3, 200))),
                               head.clip_probabilities(tags, np.zeros((3, 200))))


def test_a_real_clip_weighs_real_weight_average_gtzan_clips(synthetic):
    gtzan, real, _ = synthetic
    weights = realhead.row_weights(gtzan, real, 4.0)
    gtzan_part, real_part = weights[:len(gtzan.clips)], weights[len(gtzan.clips):]
    per_gtzan_clip = gtzan_part.sum() / len(set(gtzan.clips))
    per_real_clip = real_part.sum() / len(set(real.clips))
    assert per_real_clip == pytest.approx(4.0 * per_gtzan_clip)


def test_captured_versions_become_rows_of_their_own():
    kinds = ["audio"] * 3 + ["audio captured"] * 6 + ["audio"] * 2 + ["audio captured"] * 4
    owners = [0] * 9 + [1] * 6
    table = PatchTable(["rock/a", "pop/b"], np.arange(15.0)[:, None] * np.ones((15, 50)), np.zeros((15, 200)),
                       np.array(owners), np.array(kinds), np.array([9, 7]))
    rows = realhead.clip_rows({"msd": table}, patches_per_unit=3)
    assert list(rows.kinds) == ["audio", "audio captured", "audio captured", "audio", "audio captured", "audio captured"]
    np.testing.assert_allclose(rows.outputs["tags"][:, 0], [1.0, 4.0, 7.0, 9.5, 11.5, 13.5])


# ----------------------------------------------------------------------------- the verdict
def test_the_verdict_weighs_gtzan_validation_and_real_out_of_fold_as_documented():
    """Validation favours model a, the real clips favour b: no weighting gets both right (worked by hand)."""
    soft, confident_wrong = np.eye(10)[0] * 0.6 + np.eye(10)[1] * 0.4, np.eye(10)[1]
    views = {"audio": {"labels": np.array([0, 0]), "models": {"a": np.stack([soft, soft]),
                                                               "b": np.stack([confident_wrong] * 2)}}}
    records = [{"label": "blues", "models": {"a": {"probabilities": dict(zip(GENRES, confident_wrong))},
                                             "b": {"probabilities": dict(zip(GENRES, soft))}}}] * 3
    chosen = crossval.choose_verdict(views, records)
    # a right on validation needs w_b < w_a / 6; b right on the real clips needs w_a < w_b / 5
    assert chosen["score"] == pytest.approx(crossval.VERDICT_REAL_SHARE * 1.0) == pytest.approx(0.5)
    assert chosen["weights"] == {"a": 0.0, "b": 1.0}          # the first best weighting on the grid
    assert (chosen["valid_mean"], chosen["real_oof"]) == (0.0, 1.0)
    assert chosen["weightings_tried"] == 11


# ----------------------------------------------------------------------------- what the artifacts say
EVALUATION = json.loads((ARTIFACTS_DIR / EVALUATION_FILE).read_text())


@pytest.mark.skipif("realworld_cv" not in EVALUATION, reason="no cross-validation in artifacts/evaluation.json")
def test_the_cross_validated_figure_covers_every_clip_and_no_fold_learned_from_itself():
    cv = EVALUATION["realworld_cv"]
    assert cv["folds"] == 5 and cv["clips"] == len(cv["records"])
    assert {"verdict", "musicnn", "cnn", "lstm"} <= set(cv["models"])
    for name, model in cv["models"].items():
        right = sum(record["predicted"][name] == record["label"] for record in cv["records"])
        assert model["clip_accuracy"] == pytest.approx(right / cv["clips"])
    for fold, choices in cv["fold_choices"].items():
        assert int(fold) not in choices["trained_on_folds"]
        assert sorted(choices["trained_on_folds"] + [int(fold)]) == [0, 1, 2, 3, 4]
    groups = {}
    for record in cv["records"]:
        groups.setdefault(record["group"], set()).add(record["fold"])
    assert all(len(folds) == 1 for folds in groups.values())


@pytest.mark.skipif("realworld_cv" not in EVALUATION, reason="no cross-validation in artifacts/evaluation.json")
def test_the_shipped_models_were_refitted_on_every_real_clip_after_the_choices():
    trained = json.loads((ARTIFACTS_DIR / TRAINING_FILE).read_text())
    assert trained["realworld"]["real_clips"] == EVALUATION["realworld_cv"]["clips"]
    head = TransferHead.load(ARTIFACTS_DIR / "transfer_head.json")
    assert head.extra["trained_on"] == "GTZAN training and validation lists and every real clip"
    assert head.extra["choice"] == trained["realworld"]["head_choice"]
    assert trained["verdict"]["real_share"] == crossval.VERDICT_REAL_SHARE


# ----------------------------------------------------------------------------- the command
@pytest.mark.parametrize("labels, message", [
    (None, "LABELS.csv with fold and group columns"),
    ("file,genre\nrock/a.mp3,rock\n", "no 'fold' column"),
    ("file,genre,fold,group\nrock/a.mp3,rock,0,Band\nrock/b.mp3,rock,1,Band\n", "groups in more than one fold: Band"),
])
def test_cross_validate_refuses_folders_without_grouped_folds(tmp_path, capsys, labels, message):
    from core.learn.commands import evaluate_main
    from core.learn.gtzan import default_data_dir

    if default_data_dir() is None:
        pytest.skip("the GTZAN folder is not here")
    if labels is not None:
        (tmp_path / "LABELS.csv").write_text(labels)
    with pytest.raises(SystemExit) as stopped:
        evaluate_main(["--data", str(tmp_path), "--cross-validate"])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_the_head_choice_weighs_gtzan_validation_without_fitting_on_it(synthetic, monkeypatch):
    gtzan, real, folds = synthetic
    valid = _rows(30, 9, "v", kinds=("image", "audio", "audio captured"))
    fitted_on = []
    fit = realhead.fit_clip_head

    def recording(gtzan_rows, *args, **kwargs):
        fitted_on.append(set(gtzan_rows.clips))
        return fit(gtzan_rows, *args, **kwargs)

    monkeypatch.setattr(realhead, "fit_clip_head", recording)
    grid = [realhead.HeadChoice(features="tags", prior="none", real_weight=4.0)]
    _, trials = realhead.FoldHeads(gtzan, real, folds, TAGS, valid=valid).choose(grid, within=[1, 2, 3, 4])
    trial = trials[0]
    assert set(trial["valid"]) == set(realhead.VALID_VIEWS)
    assert trial["score"] == pytest.approx(realhead.HEAD_REAL_SHARE * trial["accuracy"]
                                           + (1 - realhead.HEAD_REAL_SHARE) * np.mean(list(trial["valid"].values())))
    assert all(not clips & set(valid.clips) for clips in fitted_on)
