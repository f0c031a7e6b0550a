"""Fine-tuning musicnn's backend (``core.learn.finetune``) and its entry in ``python -m core.experiments``."""

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="fine-tuning trains Keras layers (requirements-dev.txt)")

from core.learn import experiments  # noqa: E402
from core.learn.finetune import FinetuneSettings, PullTowards, build_top, finetune, load_port, with_pools  # noqa: E402
from core.learn.transfer import POOLED_WIDTH, PatchTable, fit_on, validation_scores  # noqa: E402
from core.serve.artifacts import ARTIFACTS_DIR, HEAD_FILE, TAGGER_FILE  # noqa: E402
from core.serve.pretrained import HeadSettings, TransferHead, tagger_outputs  # noqa: E402
from core.learn.musicnn_port import FIXTURE  # noqa: E402


@pytest.fixture(scope="module")
def port():
    return load_port()


@pytest.fixture(scope="module")
def fixture_outputs(port):
    """The port's tags, penultimate units and pools on the reference patches."""
    import keras

    patches = np.load(FIXTURE)["patches"]
    return {name: keras.ops.convert_to_numpy(value) for name, value in with_pools(port)(patches, training=False).items()}


def test_untrained_top_is_the_frozen_transfer_model(port, fixture_outputs):
    """From the pools, the rebuilt backend and head give the shipped head's probabilities, patch for patch."""
    head = TransferHead.load(ARTIFACTS_DIR / HEAD_FILE)
    top = build_top(port, head, head.extra["tags"], FinetuneSettings())
    expected = head.probabilities(fixture_outputs["tag_logits"], fixture_outputs["penultimate"])
    np.testing.assert_allclose(top.predict(fixture_outputs["pooled"], verbose=0), expected, atol=1e-5)
    trainable = {layer.name for layer in top.layers if layer.trainable_weights}
    assert trainable == {"penultimate_dense", "tag_logits", "genre"}      # batch normalisations stay frozen


def test_pull_is_zero_at_the_anchor_and_grows_with_the_distance():
    anchor = np.arange(6, dtype=np.float32).reshape(2, 3)
    pull = PullTowards(0.5, anchor)
    assert float(pull(anchor)) == 0.0
    assert float(pull(anchor + 2.0)) == pytest.approx(0.5 * 6 * 4.0)


def test_finetuning_without_steps_scores_like_the_frozen_head(port, fixture_outputs):
    """With a zero learning rate nothing moves: every epoch scores the validation views like the frozen head."""
    rng = np.random.default_rng(0)
    head_settings = HeadSettings(features="both", l2=0.01, prior_strength=1.0)
    tags = TransferHead.load(ARTIFACTS_DIR / HEAD_FILE).extra["tags"]

    def table(kinds):
        """Two clips per genre pair, their patches the reference pools with noise, tags and penultimate from the port."""
        import keras

        rows = np.repeat(fixture_outputs["pooled"], 8, axis=0)
        rows = rows + rng.normal(0.0, 0.05, rows.shape).astype(np.float32) * np.abs(rows)
        top = build_top(port, TransferHead.load(ARTIFACTS_DIR / HEAD_FILE), tags, FinetuneSettings())
        backend = keras.Model(top.input, {name: top.get_layer(name).output for name in ("tag_logits", "penultimate")})
        outputs = {name: keras.ops.convert_to_numpy(value) for name, value in backend(rows, training=False).items()}
        clip_index = np.arange(len(rows)) // 4
        return PatchTable([f"clip{index}" for index in range(clip_index.max() + 1)], outputs["tag_logits"],
                          outputs["penultimate"], clip_index, np.array([kinds[index % len(kinds)] for index in range(len(rows))]),
                          np.arange(clip_index.max() + 1) % 2 * 4, rows)       # blues and hiphop

    train, valid = table(("image", "audio")), table(("image", "audio", "audio measured"))
    assert train.pooled.shape[1] == POOLED_WIDTH
    frozen = fit_on(train, train.select(("image", "audio")), tags, head_settings)
    history, best = finetune(port, frozen, tags, train, valid, ("image", "audio"),
                             FinetuneSettings(learning_rate=0.0, epochs=2, batch_size=8), seed=0)
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert best["valid"] == validation_scores(frozen, valid)
    np.testing.assert_allclose(best["weights"]["penultimate_dense"][0], port.get_layer("penultimate_dense").get_weights()[0])


@pytest.fixture(scope="module")
def finetuned_run(data_dir, tmp_path_factory):
    """The quick fine-tuning run: its folder, its document and every choice it made (``core.learn.audit``)."""
    from core.learn import audit

    folder = tmp_path_factory.mktemp("finetuned")
    out = folder / "experiments.json"
    with audit.recording() as choices:
        document = experiments.run(data_dir, out, seeds=[0, 1, 2], only=[experiments.FINETUNED], quick=True,
                                   cache_dir=folder / "cache")
    return folder, document, choices


@pytest.mark.slow
def test_quick_finetuning_run_is_chosen_on_validation_and_measured(finetuned_run, data_dir):
    from core.learn import gtzan

    _, document, choices = finetuned_run
    lists = gtzan.split_lists(data_dir, "filtered", 0)
    assert {choice.step for choice in choices} == {"fine-tuned tagger epoch", "fine-tuning settings"}
    for choice in choices:             # the epochs and the settings: training and validation clips, never the test list
        assert not choice.clips & set(lists["test"]) and choice.clips <= set(lists["train"]) | set(lists["valid"])
    entry = {entry["name"]: entry for entry in document["variants"]}[experiments.FINETUNED]
    assert entry["family"] == "transfer" and not entry["shipped"] and entry["seeds"] == [0, 1, 2]
    assert set(entry["valid_views"]) == set(entry["frozen_valid_views"]) == {"images", "audio", "audio measured"}
    assert len(entry["valid_accuracy"]) == 3 and entry["valid"]["mean"] == pytest.approx(np.mean(entry["valid_accuracy"]))
    assert [run["seed"] for run in entry["grid"][0]["runs"]] == [0, 1, 2]
    for key in ("test_accuracy", "mp3_accuracy", "mic_accuracy", "realworld_dev_accuracy"):
        assert 0.0 <= entry[key] <= 1.0
    assert entry["ms_per_clip"] > 0 and entry["parameters"] > 700_000
    frozen = " / ".join(f"{100 * value:.1f}" for value in entry["frozen_valid_views"].values())
    assert f"against the frozen head's {frozen}%" in entry["description"]


@pytest.mark.slow
def test_pooled_tagger_gives_the_served_tagger_outputs(finetuned_run):
    """The tables fine-tuning reads come from the same network as the served tagger."""
    from ai_edge_litert.interpreter import Interpreter

    pooled_file, = (finetuned_run[0] / "cache" / "transfer").glob("musicnn-pooled-*.tflite")
    patches = np.load(FIXTURE)["patches"]
    outputs = []
    for path in (ARTIFACTS_DIR / TAGGER_FILE, pooled_file):
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        outputs.append(tagger_outputs(interpreter, patches))
    for served, pooled in zip(*outputs):
        np.testing.assert_allclose(pooled, served, atol=1e-5)

