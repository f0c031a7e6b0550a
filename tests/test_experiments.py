"""``python -m core.experiments --quick`` writes the documented file, resumes, and the page shows it."""

import json
import math
from pathlib import Path

import pytest

from core.app.experiments import experiments_figure, experiments_table, future_work_sentences

pytest.importorskip("tensorflow", reason="the experiments train Keras models (requirements-dev.txt)")

from core.learn import experiments  # noqa: E402

FIELDS = {"name", "family", "description", "valid_accuracy", "test_accuracy", "realworld_dev_accuracy",
          "mic_accuracy", "parameters", "ms_per_clip", "training_seconds", "shipped"}


@pytest.fixture(scope="module")
def quick_recorded(data_dir, tmp_path_factory):
    """The quick run, with every choice it made (``core.learn.audit``)."""
    from core.learn import audit

    folder = tmp_path_factory.mktemp("experiments")
    out = folder / "experiments.json"
    with audit.recording() as choices:
        document = experiments.run(data_dir, out, seeds=[0, 1, 2], only=["cnn_centred", "lstm_centred", "crnn"],
                                   quick=True, cache_dir=folder / "cache")
    return out, document, choices


@pytest.fixture(scope="module")
def quick_run(quick_recorded):
    return quick_recorded[:2]


def test_quick_run_writes_every_field_for_every_variant(quick_run):
    out, document = quick_run
    assert json.loads(out.read_text()) == document
    assert {"protocol", "split", "seeds", "planned", "variants"} <= set(document)
    names = [entry["name"] for entry in document["variants"]]
    assert names == ["crnn", "cnn_centred", "lstm_centred", "cnn_plus_lstm"]        # the file's order is the plan's
    for entry in document["variants"]:
        assert FIELDS <= set(entry), entry["name"]
        assert len(entry["valid_accuracy"]) == 3 and all(0 <= value <= 1 for value in entry["valid_accuracy"])
        for key in ("test_accuracy", "mic_accuracy", "realworld_dev_accuracy"):
            assert entry[key] is None or 0 <= entry[key] <= 1
        assert entry["parameters"] > 0 and entry["ms_per_clip"] > 0 and math.isfinite(entry["training_seconds"])
    shipped = {entry["name"]: entry["shipped"] for entry in document["variants"]}
    assert shipped == {"crnn": False, "cnn_centred": True, "lstm_centred": True, "cnn_plus_lstm": False}


def test_the_variants_behind_the_served_settings_choose_their_epochs_without_the_test_list(quick_recorded, data_dir):
    """Centring and augmentation are no choice the code makes: they were settled on these variants' validation
    figures. Every variant's every seed keeps the epoch its training and validation clips choose; the test list
    is only measured afterwards."""
    from core.learn import gtzan

    *_, choices = quick_recorded
    lists = gtzan.split_lists(data_dir, "filtered", 0)
    assert sorted(choice.step for choice in choices) == ["best epoch (cnn)"] * 6 + ["best epoch (lstm)"] * 3
    for choice in choices:
        assert not choice.clips & set(lists["test"]) and choice.clips <= set(lists["train"]) | set(lists["valid"])


def test_ensemble_is_computed_from_its_members(quick_run):
    _, document = quick_run
    entries = {entry["name"]: entry for entry in document["variants"]}
    ensemble = entries["cnn_plus_lstm"]
    assert ensemble["members"] == ["cnn_centred", "lstm_centred"]
    assert ensemble["parameters"] == entries["cnn_centred"]["parameters"] + entries["lstm_centred"]["parameters"]


def test_a_variant_in_the_file_is_not_trained_again(quick_run, data_dir, monkeypatch):
    out, document = quick_run
    monkeypatch.setattr(experiments, "run_variant", lambda *args: pytest.fail("trained again"))
    again = experiments.run(data_dir, out, seeds=[0, 1, 2], only=["cnn_centred"], quick=True,
                            cache_dir=out.parent / "cache")
    assert again["variants"] == document["variants"]


def test_a_run_keeps_what_another_run_wrote_meanwhile(quick_run, data_dir, tmp_path, monkeypatch):
    """Two runs with ``--only`` on different variants can share the file."""
    out, document = quick_run
    shared = tmp_path / "experiments.json"
    shared.write_text(out.read_text())
    entries = {entry["name"]: entry for entry in document["variants"]}
    written_meanwhile = dict(entries["crnn"], test_accuracy=0.125)

    def trained_while_another_run_wrote(variant, *args):
        others = [entry for name, entry in entries.items() if name != "crnn"]
        experiments.write_experiments(shared, others + [written_meanwhile], [0, 1, 2], True)
        return dict(entries["cnn_centred"], test_accuracy=0.25), {}

    monkeypatch.setattr(experiments, "run_variant", trained_while_another_run_wrote)
    monkeypatch.setattr(experiments, "save_cache", lambda *args: None)
    again = experiments.run(data_dir, shared, seeds=[0, 1, 2], only=["cnn_centred"], force=True, quick=True,
                            cache_dir=out.parent / "cache")
    now = {entry["name"]: entry for entry in again["variants"]}
    assert now["cnn_centred"]["test_accuracy"] == 0.25 and now["crnn"]["test_accuracy"] == 0.125


def test_descriptions_follow_the_definitions_and_measurements_stay(quick_run, tmp_path):
    out, document = quick_run
    stale = [dict(entry, description="old words", shipped=not entry["shipped"]) for entry in document["variants"]]
    experiments.write_experiments(tmp_path / "experiments.json", stale, [0, 1, 2], True)
    rewritten = json.loads((tmp_path / "experiments.json").read_text())["variants"]
    assert rewritten[:3] == document["variants"][:3]               # the trained variants: as defined now
    assert rewritten[3]["description"] == "old words"              # an ensemble is described where it is computed


def test_the_page_shows_the_table_and_the_chart(quick_run, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    out, document = quick_run
    (tmp_path / "experiments.json").write_text(out.read_text())
    monkeypatch.setenv("GENRE_LAB_ARTIFACTS", str(tmp_path))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/experiments.py").run()
    assert not at.exception
    assert at.dataframe[0].value["variant"].tolist() == [entry["name"] for entry in document["variants"]]
    assert len(at.get("plotly_chart")) == 1
    assert any("planned variants are measured so far" in info.value for info in at.info)


def test_future_work_sentences_come_from_the_numbers():
    def entry(name, mean, std, test):
        return {"name": name, "family": "x", "valid": {"mean": mean, "std": std}, "valid_accuracy": [mean] * 3,
                "test_accuracy": test, "mp3_accuracy": None, "mic_accuracy": None, "realworld_dev_accuracy": None,
                "ms_per_clip": 1.0}
    document = {"variants": [entry("lstm", 0.60, 0.01, 0.59), entry("gru", 0.64, 0.01, 0.62),
                             entry("bilstm", 0.605, 0.02, 0.58)]}
    sentences = future_work_sentences(document)
    assert len(sentences) == 2      # only the items whose two variants are in the file
    assert "better on validation by 4.0 points" in sentences[0] and "test 62.0% against 59.0%" in sentences[0]
    assert "within seed noise" in sentences[1]
    table = experiments_table(document)
    assert table["valid mean (%)"].tolist() == pytest.approx([60.0, 64.0, 60.5])
    assert len(experiments_figure(table).data) == 2       # one family: validation and test traces


def test_transfer_model_and_verdict_entries_are_read_from_what_training_wrote():
    from core.serve.artifacts import ARTIFACTS_DIR, evaluation, training

    entries = {entry["name"]: entry for entry in experiments.shipped_entries(ARTIFACTS_DIR)}
    scores, trained = evaluation(ARTIFACTS_DIR), training(ARTIFACTS_DIR)
    assert set(entries) == {"musicnn_frozen", "shipped_verdict"}
    for entry in entries.values():
        assert FIELDS <= set(entry) and entry["shipped"]
    assert entries["musicnn_frozen"]["test_accuracy"] == scores["test"]["models"]["musicnn"]["clip_accuracy"]
    assert entries["shipped_verdict"]["mic_accuracy"] == scores["audio_subset"]["captured"]["models"]["verdict"]["clip_accuracy"]
    assert entries["shipped_verdict"]["valid_accuracy"] == [experiments.verdict_valid(trained["verdict"])]
    assert entries["shipped_verdict"]["members"] == [name for name, weight in trained["verdict"]["weights"].items() if weight]


def test_the_shipped_variants_seed_0_is_the_gtzan_stage_of_the_served_model():
    """Seed 0 of a shipped variant trains the GTZAN-stage network the served one was fine-tuned from on real
    music (``core.learn.crossval``): the same settings as training.json's GTZAN stage."""
    from core.serve.artifacts import ARTIFACTS_DIR, EXPERIMENTS_FILE, GTZAN_STAGE_FILE, training

    document = json.loads((ARTIFACTS_DIR / EXPERIMENTS_FILE).read_text())
    trained = training(ARTIFACTS_DIR)
    shipped = [entry for entry in document["variants"] if entry["shipped"] and entry["name"] in experiments.DEFINITIONS]
    assert {entry["reads"] for entry in shipped} == {"cnn", "lstm"}
    for entry in shipped:
        assert (ARTIFACTS_DIR / GTZAN_STAGE_FILE.format(entry["reads"])).exists()
        assert entry["settings"] == trained["models"][entry["reads"]]["settings"], entry["name"]
        if "realworld" in trained:
            assert entry["reads"] in trained["realworld"]["window_models"]