"""The Streamlit app (every page through ``AppTest``), its drawings (``core.app``), the analysis it draws
(``core.serve.analysis``) and the bundled examples (``core.serve.examples``, ``core.learn.examples``).

The pages are run twice: against the repository's ``artifacts/`` as they are (files written by
training may be missing: the pages must say which command makes them) and against a complete
artifacts folder made here (the real models plus evaluation, leaky-split and benchmark files with
the documented structure and invented numbers), so every branch is drawn.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from core.app import clip_views, explain, pipeline, playlist, style
from core.app import comparison as comparison_figures
from core.app import training as training_figures
from core.learn import examples as making_examples
from core.serve import analysis
from core.serve.artifacts import artifact_stamp
from core.serve import examples as examples_module
from core.serve.audio import decode
from core.serve.config import GENRES, FeatureConfig
from core.serve.errors import AudioError
from core.serve.examples import FROM_16_KHZ, FULL_QUALITY, PEAK_NORMALISED, example_clips
from core.serve.catalog import MODEL_NAMES, MODEL_TITLES, VERDICT
from core.serve.records import analysis_record, error_record
from tests.audio_corpus import encode, music

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
ARTIFACTS = ROOT / "artifacts"
PAGES = ("pages/home.py", "pages/classify.py", "pages/how-it-works.py", "pages/training.py", "pages/comparison.py",
         "pages/experiments.py")
TIMEOUT_S = 60
CONFIG = FeatureConfig()


# ----------------------------------------------------------------------------- fixtures
def _scores(rng: np.random.Generator, clips_per_genre: int = 3) -> dict:
    """One ``evaluate.summarise``-shaped block with invented numbers."""
    models = {}
    for name in MODEL_NAMES:
        matrix = rng.integers(0, 2, size=(10, 10)) + np.diag(rng.integers(1, clips_per_genre + 1, size=10))
        per_genre = {genre: {"precision": float(rng.uniform(0.3, 0.9)), "recall": float(rng.uniform(0.3, 0.9)),
                             "f1": float(rng.uniform(0.3, 0.9)), "support": int(matrix[i].sum())}
                     for i, genre in enumerate(GENRES)}
        models[name] = {"clip_accuracy": float(np.trace(matrix) / matrix.sum()),
                        "window_accuracy": float(rng.uniform(0.3, 0.7)), "macro_precision": 0.5,
                        "macro_recall": 0.5, "macro_f1": float(rng.uniform(0.3, 0.7)),
                        "per_genre": per_genre, "confusion_matrix": matrix.tolist()}
    return {"clips": int(sum(np.asarray(m["confusion_matrix"]).sum() for m in models.values()) // 3), "models": models}


def write_complete_artifacts(folder: Path, max_duration_s: float | None = None) -> Path:
    """The repository's models plus invented evaluation, leaky-split and benchmark files."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in ARTIFACTS.iterdir():
        if path.is_file() and path.suffix in (".tflite", ".json"):
            shutil.copy(path, folder / path.name)
    if max_duration_s is not None:
        config = FeatureConfig.load(ARTIFACTS / "feature_config.json")
        dataclasses.replace(config, max_duration_s=max_duration_s).save(folder / "feature_config.json")
    rng = np.random.default_rng(1)
    history = [{"epoch": epoch, "loss": 2.0 / epoch, "accuracy": 0.3 + 0.05 * epoch, "val_loss": 2.1 / epoch,
                "val_accuracy": 0.3 + 0.04 * epoch, "val_clip_accuracy": 0.3 + 0.045 * epoch} for epoch in (1, 2, 3)]
    evaluation = {"split": "filtered", "list": "test", "test": _scores(rng),
                  "audio_subset": {"clips": ["blues/blues.00012", "jazz/jazz.00073"],
                                   "from_images": _scores(rng), "from_mp3": _scores(rng)}}
    leaky = {"protocol": "random segment split (leaky): test protocol",
             "segments": {"train": 70, "valid": 10, "test": 20},
             "clips": 999, "models": {name: {"test_segment_accuracy": 0.912 + 0.01 * i, "best_epoch": 3,
                                             "history": history} for i, name in enumerate(("cnn", "lstm"))}}
    benchmark = {"clip": "blues.00012.mp3", "machine": "x86_64, 2 cores, Python 3.11",
                 "ours": {"cold_s": 1.5, "warm_ms": 80.0, "per_model_ms": {"cnn": 12.5, "lstm": 7.25, "baseline": 30.0},
                          "features_ms": 20.0, "peak_mb": 200.0},
                 "common": {"cold_s": 9.0, "warm_ms": 900.0, "peak_mb": 900.0},
                 "ten_minutes": {"seconds": 1.5, "analysed_s": 600.0, "peak_mb": 250.0},
                 "targets": {"warm_ms": 100.0}}
    variant = {"family": "recurrent", "description": "invented", "valid_accuracy": [0.5, 0.55, 0.6],
               "valid": {"mean": 0.55, "std": 0.04}, "test_accuracy": 0.5, "mp3_accuracy": 0.4, "mic_accuracy": 0.3,
               "realworld_dev_accuracy": None, "parameters": 1000, "ms_per_clip": 5.0, "training_seconds": 60.0}
    experiments = {"protocol": "Test protocol.", "measured_with": "a test", "written_by": "a test",
                   "planned": ["lstm", "gru"],
                   "variants": [variant | {"name": "lstm", "shipped": True}, variant | {"name": "gru", "shipped": False}]}
    for name, content in (("evaluation.json", evaluation), ("leaky_split.json", leaky), ("benchmark.json", benchmark),
                          ("experiments.json", experiments)):
        (folder / name).write_text(json.dumps(content))
    return folder


@pytest.fixture(scope="module")
def complete_artifacts(tmp_path_factory) -> Path:
    return write_complete_artifacts(tmp_path_factory.mktemp("artifacts"))


@pytest.fixture
def use_artifacts(monkeypatch):
    """Point the app at an artifacts folder for one test."""
    def use(folder: Path) -> None:
        monkeypatch.setenv("GENRE_LAB_ARTIFACTS", str(folder))
    return use


@pytest.fixture(scope="module", autouse=True)
def models_exist():
    if not list(ARTIFACTS.glob("*.tflite")):
        pytest.fail("artifacts/*.tflite are missing: run `python -m core.train` first")


def run_page(page: str, at: AppTest | None = None) -> AppTest:
    """Run the app on ``page`` (a fresh session unless ``at`` is given) and check it raised nothing."""
    at = at or AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [exception.value for exception in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Everything the page wrote as text, in one string."""
    parts = [element.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "title",
                                        "header", "subheader") for element in getattr(at, kind)]
    return "\n".join(str(part) for part in parts)


def plotly_count(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def model_metrics(at: AppTest) -> dict[str, str]:
    """Genre shown by every model column of the classify page, by order of the models."""
    return [metric.value for metric in at.metric if metric.label == "Genre"]


def chart_data(at: AppTest, key: str) -> list[dict]:
    """The traces of the plotly chart with ``key``, NumPy arrays decoded from plotly's base64 form."""
    spec = json.loads(next(chart for chart in at.get("plotly_chart") if chart.proto.id.endswith(f"-{key}")).proto.spec)

    def decoded(value):
        if isinstance(value, dict) and "bdata" in value:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            return array.reshape([int(size) for size in str(value.get("shape", len(array))).split(",")])
        return value

    return [{name: decoded(value) for name, value in trace.items()} for trace in spec["data"]]


def uploaded_analysis(at: AppTest):
    """The analysis the classify page keeps for the session's last upload or recording."""
    store = at.session_state["clip_analyses"]
    return list(store.values())[-1]


# ----------------------------------------------------------------------------- every page
@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_repository_artifacts(page):
    at = run_page(page)
    assert at.title, f"{page} has no title"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_with_complete_artifacts(page, complete_artifacts, use_artifacts):
    use_artifacts(complete_artifacts)
    at = run_page(page)
    assert not [info.value for info in at.info if "will appear here" in info.value]


def test_missing_files_are_named_with_their_command(tmp_path, use_artifacts):
    folder = tmp_path / "artifacts"
    folder.mkdir()
    for name in ("feature_config.json", "normalisation.json", "training.json"):
        shutil.copy(ARTIFACTS / name, folder / name)
    for model in MODEL_NAMES:
        shutil.copy(ARTIFACTS / f"{model}.tflite", folder / f"{model}.tflite")
    use_artifacts(folder)
    home = run_page(PAGES[0])
    assert any("evaluation.json" in info.value and "python -m core.train" in info.value for info in home.info)
    comparison = run_page("pages/comparison.py")
    notes = " ".join(info.value for info in comparison.info)
    for name, command in (("evaluation.json", "core.train"), ("leaky_split.json", "core.train"),
                          ("benchmark.json", "core.bench")):
        assert name in notes and command in notes
    experiments = run_page("pages/experiments.py")
    assert any("experiments.json" in info.value and "python -m core.experiments" in info.value for info in experiments.info)
    (folder / "training.json").unlink()
    training = run_page("pages/training.py")
    assert any("training.json" in info.value for info in training.info)
    for model in MODEL_NAMES:
        (folder / f"{model}.tflite").unlink()
    for page in ("pages/classify.py", "pages/how-it-works.py"):
        assert any("python -m core.train" in info.value for info in run_page(page).info)


def test_home_shows_measured_accuracy_with_its_protocol(complete_artifacts, use_artifacts):
    use_artifacts(complete_artifacts)
    at = run_page(PAGES[0])
    evaluation = json.loads((complete_artifacts / "evaluation.json").read_text())
    shown = {metric.label: metric.value for metric in at.metric}
    assert {"CNN", "LSTM"} <= set(shown)                                 # abbreviations keep their capitals
    for name, model in evaluation["test"]["models"].items():
        assert shown[style.column_title(name)] == f"{model['clip_accuracy']:.1%}"
    assert "fault-filtered test list" in texts(at)
    for genre in GENRES:
        assert genre in texts(at)
    assert len(at.get("page_link")) == len(PAGES) - 1                  # every other page


def test_training_and_comparison_draw_every_figure(complete_artifacts, use_artifacts):
    use_artifacts(complete_artifacts)
    training = run_page("pages/training.py")
    trained = json.loads((complete_artifacts / "training.json").read_text())
    epochs = [name for name in trained["models"] if name != "musicnn"]   # the transfer head has trials instead
    assert plotly_count(training) == 2 * len(epochs) + 1                 # learning curves + confusion matrices
    assert len(training.dataframe) == len(trained["models"]) + 1         # per genre, and the head's trials
    assert len(training.table) == 2 * len(epochs)                        # architecture, settings
    assert training_figures.split_name(trained["split"]) in texts(training)
    assert "combined verdict" in texts(training) and "musicnn" in texts(training)
    comparison = run_page("pages/comparison.py")
    assert plotly_count(comparison) == 1
    assert "speaker" in texts(comparison)
    assert "Sturm" in texts(comparison) and "leaky" in texts(comparison)
    experiments = run_page("pages/experiments.py")
    assert plotly_count(experiments) == 1
    assert experiments.dataframe[0].value["variant"].tolist() == ["lstm", "gru"]
    assert "GRU instead of LSTM" in texts(experiments) and "within seed noise" in texts(experiments)
    assert not experiments.info                       # every planned variant is in the file


# ----------------------------------------------------------------------------- classify
def gallery_frame(at: AppTest) -> pd.DataFrame:
    """The examples gallery of the classify page."""
    return next(frame for frame in at.dataframe if frame.key == "gallery").value


def pick_example(at: AppTest, row: int) -> None:
    """Select a row of the examples gallery, as a click on it does."""
    at.session_state["gallery"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()


def test_classify_shows_every_model_for_an_example_and_switches_examples(classifier):
    at = run_page("pages/classify.py")
    shown = example_clips()
    assert list(gallery_frame(at)["Clip"]) == [example.path.stem for example in shown]
    assert len(model_metrics(at)) == len(classifier.model_names)
    assert plotly_count(at) == 2 * len(classifier.model_names) + 4  # probabilities, timelines, tags, 3 clip figures
    assert "test" in texts(at) and "no model was trained" in texts(at)
    assert f"Analysing **{shown[0].path.stem}**" in texts(at)         # the first row until another is picked
    assert "agree" in texts(at)
    pick_example(at, len(shown) - 1)
    assert not at.exception
    assert f"Analysing **{shown[-1].path.stem}**" in texts(at)
    assert len(model_metrics(at)) == len(classifier.model_names)


def test_classify_gallery_shows_the_stored_answers_with_right_and_wrong_marks(classifier):
    stored = json.loads((ARTIFACTS / "examples" / examples_module.GALLERY_NAME).read_text())
    assert examples_module.read_gallery().fresh, f"gallery.json is stale: run `{examples_module.GALLERY_COMMAND}`"
    at = run_page("pages/classify.py")
    frame = gallery_frame(at)
    shown = example_clips()
    assert len(frame) == len(shown) == len(stored["examples"])
    titles = [style.column_title(name) for name in stored["columns"]]
    assert list(frame.columns) == ["Clip", "GTZAN label"] + titles
    for (_, row), record in zip(frame.iterrows(), stored["examples"]):
        assert row["Clip"] == record["file"][:-len(".mp3")] and row["GTZAN label"] == record["label"]
        for name, title in zip(stored["columns"], titles):
            answer = record["answers"][name]
            mark = clip_views.RIGHT if answer["right"] else clip_views.WRONG
            assert row[title] == f"{mark} {answer['genre']} {answer['confidence']:.0%}"
            assert answer["right"] == (answer["genre"] == record["label"])
    right = sum(record["answers"][stored["columns"][0]]["right"] for record in stored["examples"])
    assert f"gets {right} of these {len(shown)} clips right" in texts(at)
    assert not [info.value for info in at.info if "stale" in info.value or "changed" in info.value]
    # Picking a row analyses that clip, and the page then says what the gallery says about it.
    pick_example(at, 4)
    record = stored["examples"][4]
    assert model_metrics(at) == [record["answers"][name]["genre"] for name in classifier.model_names]


def test_classify_gallery_without_marks_when_the_models_changed(tmp_path, use_artifacts, classifier):
    folder = write_complete_artifacts(tmp_path / "artifacts")
    with (folder / "feature_config.json").open("a") as handle:   # same settings, other bytes: as after retraining
        handle.write("\n")
    use_artifacts(folder)
    at = run_page("pages/classify.py")
    frame = gallery_frame(at)
    assert list(frame.columns) == ["Clip", "GTZAN label"] and len(frame) == len(example_clips())
    assert not any(mark in str(cell) for mark in (clip_views.RIGHT, clip_views.WRONG)
                   for cell in frame.to_numpy().ravel())
    assert any("retrained" in info.value and examples_module.GALLERY_COMMAND in info.value for info in at.info)
    assert len(model_metrics(at)) == len(classifier.model_names)       # the clip is still analysed


def test_classify_puts_the_combined_verdict_first(classifier):
    if classifier.verdict_weights is None:
        pytest.skip("no artifacts/verdict.json: python -m core.train writes it")
    at = run_page("pages/classify.py")
    expected = classifier.analyse(decode(example_clips()[0].path, classifier.config))
    verdicts = [metric for metric in at.metric if metric.label == "Combined verdict"]
    assert [metric.value for metric in verdicts] == [expected.verdict.genre]
    assert verdicts[0].delta == f"{expected.verdict.confidence:.0%} sure"
    headers = [header.value for header in at.header]
    assert headers.index("Verdict") < headers.index("What each model says")
    assert "weights chosen on GTZAN's validation list" in texts(at)


def test_classify_an_uploaded_file(classifier):
    data = encode(music(6.0, 44100, channels=2), 44100, "FLAC")
    at = run_page("pages/classify.py")
    at.radio(key="source").set_value("Upload a file").run()
    assert set(at.get("file_uploader")[0].allowed_type) >= {".wav", ".flac", ".mp3", ".ogg", ".opus", ".aif",
                                                            ".aiff", ".au"}
    at.get("file_uploader")[0].upload("my song.flac", data, "audio/flac")
    at.run()
    assert not at.exception and not at.error
    expected = classifier.analyse(decode(data, classifier.config)).predictions
    assert model_metrics(at) == [expected[name].genre for name in expected]
    assert "FLAC" in texts(at)
    assert plotly_count(at) == 2 * len(MODEL_NAMES) + 4


def test_classify_a_recording():
    data = encode(music(4.0, CONFIG.sample_rate), CONFIG.sample_rate, "WAV", "PCM_16")
    at = run_page("pages/classify.py")
    at.radio(key="source").set_value("Record with the microphone").run()
    at.audio_input(key="record").upload("recording.wav", data)
    at.run()
    assert not at.exception and not at.error
    assert len(model_metrics(at)) == len(MODEL_NAMES)


@pytest.mark.parametrize("name, data", [
    ("noise.wav", np.random.default_rng(0).bytes(20_000)),
    ("notes.mp3", b"These are my notes about the lesson, not a song.\n" * 40),
    ("empty.ogg", b""),
])
def test_a_bad_upload_shows_the_sentence_from_core(name, data):
    with pytest.raises(AudioError) as expected:
        decode(data)
    at = run_page("pages/classify.py")
    at.radio(key="source").set_value("Upload a file").run()
    at.get("file_uploader")[0].upload(name, data, "application/octet-stream")
    at.run()
    assert not at.exception
    assert [error.value for error in at.error] == [str(expected.value)]
    assert not model_metrics(at) and plotly_count(at) == 0
    assert not at.session_state["clip_analyses"] if "clip_analyses" in at.session_state else True


def test_a_long_upload_is_cut_and_the_page_says_so(tmp_path, use_artifacts):
    use_artifacts(write_complete_artifacts(tmp_path / "artifacts", max_duration_s=12.0))
    data = encode(music(15.0, CONFIG.sample_rate), CONFIG.sample_rate, "WAV", "PCM_16")
    at = run_page("pages/classify.py")
    at.radio(key="source").set_value("Upload a file").run()
    at.get("file_uploader")[0].upload("long.wav", data, "audio/wav")
    at.run()
    assert not at.exception
    warnings = [warning.value for warning in at.warning]
    assert any("15 seconds long" in warning and "first 12 seconds" in warning for warning in warnings), warnings
    assert uploaded_analysis(at).truncated


def test_one_visitor_never_sees_another_visitors_upload():
    data = encode(music(5.0, 22050, seed=7), 22050, "WAV", "PCM_16")
    first = run_page("pages/classify.py")
    first.radio(key="source").set_value("Upload a file").run()
    first.get("file_uploader")[0].upload("private.wav", data, "audio/wav")
    first.run()
    assert len(first.session_state["clip_analyses"]) == 1
    second = run_page("pages/classify.py")
    second.radio(key="source").set_value("Upload a file").run()
    assert "clip_analyses" not in second.session_state
    assert not model_metrics(second)


def test_a_session_keeps_only_the_last_few_analyses():
    from pages._common import SESSION_CLIPS

    at = run_page("pages/classify.py")
    at.radio(key="source").set_value("Upload a file").run()
    for seed in range(SESSION_CLIPS + 2):
        at.get("file_uploader")[0].set_value((f"clip{seed}.wav", encode(music(2.0, 22050, seed=seed), 22050, "WAV"),
                                              "audio/wav"))
        at.run()
        assert not at.exception
    assert len(at.session_state["clip_analyses"]) == SESSION_CLIPS


def test_classify_shows_what_the_tagger_hears_by_probability(classifier):
    at = run_page("pages/classify.py")
    expected = classifier.analyse(decode(example_clips()[0].path, classifier.config))
    heard = expected.heard
    headers = [header.value for header in at.header]
    assert headers.index("What each model says") < headers.index("What the tagger hears")
    bars = chart_data(at, "tags")[0]
    top = [tag for tag, _ in heard.ranked()[:explain.TOP_TAGS]]
    assert explain.TOP_TAGS >= 10 and list(bars["y"][:explain.TOP_TAGS]) == top      # then the named tags, if lower
    assert np.all(np.diff(bars["x"]) <= 0) and bars["x"][0] == pytest.approx(heard.probabilities.max(), abs=1e-6)
    assert set(bars["y"]) <= set(classifier.transfer_head.tag_names)      # as the tagger's vocabulary spells them
    sentence = next(markdown.value for markdown in at.markdown if "genre head" in markdown.value)
    assert f"**{expected.predictions['musicnn'].genre}**" in sentence


def test_classify_shows_where_the_cnn_listened_on_demand(classifier):
    at = run_page("pages/classify.py")
    assert "Where the CNN listened" in [header.value for header in at.header]
    assert "listened" in at.button(key="occlude").label and not any(chart.proto.id.endswith("-occlusion")
                                                                    for chart in at.get("plotly_chart"))
    at.button(key="occlude").click().run()
    assert not at.exception
    (found,) = at.session_state["occlusion_maps"].values()
    expected = classifier.analyse(decode(example_clips()[0].path, classifier.config))
    assert found.drops.shape == (classifier.config.n_mels // 16, -(-expected.mel_db.shape[1] // 6))
    assert found.genre == expected.predictions["cnn"].genre
    spectrogram, drops = chart_data(at, "occlusion")
    assert np.asarray(drops["z"]).shape == found.drops.shape
    assert any(markdown.value.startswith("Hiding ") and " Hz" in markdown.value for markdown in at.markdown)
    at.run()                                                                # kept: no button, the same map
    assert not at.button and list(at.session_state["occlusion_maps"].values())[0] is found
    assert any(chart.proto.id.endswith("-occlusion") for chart in at.get("plotly_chart"))


def upload_playlist(files: list[tuple[str, bytes]]) -> AppTest:
    at = run_page("pages/classify.py")
    at.radio(key="source").set_value("Upload a file").run()
    at.get("file_uploader")[0].set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def test_a_playlist_shows_one_row_per_file_and_scores_the_expected_genres(classifier):
    good = {name: encode(music(seconds, 22050, seed=seed), 22050, "WAV", "PCM_16")
            for name, seconds, seed in (("first.wav", 4.0, 21), ("second.wav", 6.0, 22), ("third.wav", 5.0, 23))}
    at = upload_playlist(list(good.items()))
    assert not at.exception and not at.error
    assert at.get("file_uploader")[0].accept_multiple_files and "30 files" in at.get("file_uploader")[0].help
    assert "Your clips (3)" in [header.value for header in at.header] and not model_metrics(at)
    table = at.data_editor[0].value
    analyses = {name: classifier.analyse(decode(data, classifier.config)) for name, data in good.items()}
    assert list(table["File"]) == list(good) and "Problem" not in table
    for (_, row), analysis_ in zip(table.iterrows(), analyses.values()):
        assert {name: row[style.column_title(name)] for name in analysis_.outcomes()} == {
            name: f"{answer.genre} {answer.confidence:.0%}" for name, answer in analysis_.outcomes().items()}
    assert any("expected genre" in caption.value for caption in at.caption)
    expected = ["rock", analyses["second.wav"].predictions["cnn"].genre, None]
    at.session_state[at.data_editor[0].key] = {"edited_rows": {0: {"Expected genre": "rock"},
                                                               1: {"Expected genre": expected[1]}},
                                               "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    scores = {metric.label: (metric.value, metric.delta) for metric in at.metric}
    for name in analyses["first.wav"].outcomes():
        right = sum(answer == analyses[file].outcomes()[name].genre for file, answer in zip(good, expected) if answer)
        assert scores[style.column_title(name)] == (f"{right / 2:.0%}", f"{right} of 2 clips")
    assert any(chart.proto.id.endswith("-confusion-cnn") for chart in at.get("plotly_chart"))
    assert at.get("download_button")[0].label.startswith("Download")
    at.selectbox(key=next(key for key in at.session_state if key.startswith("picked-"))).set_value(1).run()
    assert not at.exception
    assert model_metrics(at) == [prediction.genre for prediction in analyses["second.wav"].predictions.values()]


def test_a_bad_file_among_good_ones_gets_its_reason_in_its_row():
    good = encode(music(4.0, 22050, seed=31), 22050, "WAV", "PCM_16")
    bad = b"These are my notes about the lesson, not a song.\n" * 40
    with pytest.raises(AudioError) as reason:
        decode(bad)
    at = upload_playlist([("song.wav", good), ("notes.mp3", bad), ("empty.ogg", b""), ("song again.wav", good)])
    assert not at.exception and not at.error
    table = at.data_editor[0].value
    assert list(table["File"]) == ["song.wav", "notes.mp3", "empty.ogg", "song again.wav"]
    assert table["Problem"][1] == str(reason.value) and table["Problem"][2].startswith("The file is empty")
    assert table["Problem"][0] == table["Problem"][3] == "" and table["CNN"][0] == table["CNN"][3] != ""
    assert at.selectbox[0].options == ["song.wav", "song again.wav"]        # only the classified files can be opened
    said = " ".join(caption.value for caption in at.caption)                # and each reason in full, above the table
    assert f"**notes.mp3**: {reason.value}" in said and "**empty.ogg**: The file is empty" in said
    assert "song.wav**" not in said


def test_more_than_thirty_files_are_cut_with_a_message():
    data = encode(music(2.0, 22050, seed=41), 22050, "WAV", "PCM_16")      # one analysis: the same bytes
    at = upload_playlist([(f"clip {index}.wav", data) for index in range(playlist.PLAYLIST_MAX + 2)])
    assert not at.exception
    assert len(at.data_editor[0].value) == playlist.PLAYLIST_MAX
    warning = " ".join(warning.value for warning in at.warning)
    assert f"at most {playlist.PLAYLIST_MAX}" in warning and "clip 31.wav" in warning and "clip 29.wav" not in warning


def test_how_it_works_shows_the_inputs_of_the_chosen_window(classifier):
    at = run_page("pages/how-it-works.py")
    slider = at.slider(key="window")
    slider.set_value(slider.min).run()
    assert not at.exception
    assert plotly_count(at) == 6            # waveform, spectrogram, CNN and LSTM inputs, two window answers
    diagrams = [element.proto.body for element in at.get("html") if "role=\"list\"" in element.proto.body]
    assert len(diagrams) == len(classifier.model_names)
    assert f"{classifier.config.n_mels} mel bands" in texts(at)


# ----------------------------------------------------------------------------- core.learn.examples
def test_the_bundled_examples_are_one_mp3_per_genre():
    shown = example_clips()
    assert [example.genre for example in shown] == list(GENRES)
    for example in shown:
        head = example.path.read_bytes()[:3]
        assert head == b"ID3" or head[:2] in (b"\xff\xf3", b"\xff\xfb")
        assert 150_000 < example.path.stat().st_size < 400_000
        assert example.clip == f"{example.genre}/{example.path.stem}"
        assert 29.9 < decode(example.path).duration_s < 30.7
    readme = (ARTIFACTS / "examples" / "README.md").read_text()
    assert "test" in readme and "research and teaching" in readme


def test_the_bundled_examples_are_test_clips_from_the_data_folder(data_dir):
    from core.learn.gtzan import read_split

    test = set(read_split(data_dir, "test"))
    training = set(read_split(data_dir, "train") + read_split(data_dir, "valid"))
    for example in example_clips():
        assert example.clip in test and example.clip not in training
        assert example.path.read_bytes() == (data_dir / f"{example.clip}.mp3").read_bytes()


def test_choose_examples_prefers_full_quality_then_the_lowest_id():
    rows = [
        {"path": "rock/rock.00001.mp3", "source_path": "x.wav [16 kHz copy, upsampled]"},
        {"path": "rock/rock.00009.mp3", "source_path": "x.wav [peak-normalised copy (full scale)]"},
        {"path": "rock/rock.00005.mp3", "source_path": "x.au"},
        {"path": "rock/rock.00003.mp3", "source_path": "y.au"},
        {"path": "jazz/jazz.00002.mp3", "source_path": "z.wav [16 kHz copy]"},
        {"path": "pop/pop.00001.mp3", "source_path": "pop.au"},
    ]
    test = ["rock/rock.00001", "rock/rock.00003", "rock/rock.00005", "rock/rock.00009", "jazz/jazz.00002",
            "metal/metal.00001"]
    chosen = making_examples.choose_examples(test, rows)
    assert chosen["rock"]["path"] == "rock/rock.00003.mp3"
    assert chosen["jazz"]["path"] == "jazz/jazz.00002.mp3"         # only a 16 kHz copy: taken, said in the README
    assert "pop" not in chosen and "metal" not in chosen            # not on the test list / no audio
    assert making_examples.choose_examples(test[::-1], rows[::-1]) == chosen
    assert making_examples.source_quality("a.au") == FULL_QUALITY
    assert making_examples.source_quality("a.wav [16 kHz copy, upsampled]") == FROM_16_KHZ
    assert making_examples.source_quality("a.wav [peak-normalised copy]") == PEAK_NORMALISED


def test_build_examples_copies_bytes_unchanged(tmp_path):
    data = tmp_path / "gtzan"
    (data / "splits").mkdir(parents=True)
    (data / "splits" / "test_filtered.txt").write_text(
        "blues/blues.00004.wav\nblues/blues.00002.wav\njazz/jazz.00001.wav\n")
    rows = []
    for clip, note in (("blues/blues.00002", " [16 kHz copy]"), ("blues/blues.00004", ""), ("jazz/jazz.00001", ""),
                       ("jazz/jazz.00000", "")):
        (data / clip).parent.mkdir(exist_ok=True)
        (data / f"{clip}.mp3").write_bytes(f"ID3 {clip}".encode())
        rows.append({"path": f"{clip}.mp3", "genre": clip.split("/")[0], "index": clip[-5:], "source_repo": "r",
                     "source_path": f"{clip}.au{note}", "original_sha256": "0", "duration_s": "30.013",
                     "sample_rate": "22050"})
    with (data / "MANIFEST.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "examples"
    out.mkdir()
    (out / "rock.00001.mp3").write_bytes(b"stale")
    built = making_examples.build_examples(data, out)
    assert [(example.genre, example.clip) for example in built] == [("blues", "blues/blues.00004"),
                                                                    ("jazz", "jazz/jazz.00001")]
    assert (out / "blues.00004.mp3").read_bytes() == b"ID3 blues/blues.00004"
    assert not (out / "rock.00001.mp3").exists()
    readme = (out / "README.md").read_text()
    assert "blues/blues.00004" in readme and "test" in readme and "No test clip with audio for: classical" in readme
    assert example_clips(out) == built and example_clips(tmp_path / "nowhere") == []


# ----------------------------------------------------------------------------- the examples gallery
@dataclasses.dataclass
class FakeAnalysis:
    predictions: dict
    verdict: object | None


class FakeClassifier:
    """Answers by the clip's length: a 2 s clip is blues to every model, a 3 s clip jazz to the CNN only."""

    config = CONFIG

    def __init__(self, artifacts_dir: Path, verdict: bool = True):
        self.artifacts_dir = artifacts_dir
        self.with_verdict = verdict

    def analyse(self, audio):
        blues = audio.duration_s < 2.5
        predictions = {"cnn": FakePrediction(peaked("blues" if blues else "jazz", 0.8)),
                       "musicnn": FakePrediction(peaked("blues" if blues else "rock", 0.55))}
        verdict = FakePrediction(peaked("blues" if blues else "rock", 0.612)) if self.with_verdict else None
        return FakeAnalysis(predictions, verdict)


def gallery_folders(tmp_path: Path) -> tuple[Path, Path]:
    """An examples folder with two short clips (blues, jazz) and an artifacts folder with two model files."""
    examples, artifacts = tmp_path / "examples", tmp_path / "artifacts"
    examples.mkdir()
    artifacts.mkdir()
    (examples / "blues.00003.mp3").write_bytes(encode(music(2.0, 22050, seed=1), 22050, "WAV"))
    (examples / "jazz.00007.mp3").write_bytes(encode(music(3.0, 22050, seed=2), 22050, "WAV"))
    (artifacts / "cnn.tflite").write_bytes(b"cnn weights")
    (artifacts / "feature_config.json").write_text("{}")
    (artifacts / "training.json").write_text("{}")                  # does not decide any answer
    return examples, artifacts


def test_gallery_records_every_model_and_the_verdict(tmp_path):
    examples, artifacts = gallery_folders(tmp_path)
    path = making_examples.write_gallery(examples, artifacts, classifier=FakeClassifier(artifacts))
    stored = json.loads(path.read_text())
    assert stored["columns"] == ["cnn", "musicnn", "verdict"]
    assert stored["artifacts"] == artifact_stamp(artifacts)
    assert set(stored["artifacts"]) == {"cnn.tflite", "feature_config.json"}
    blues, jazz = stored["examples"]
    assert (blues["clip"], blues["label"], jazz["clip"], jazz["label"]) == ("blues/blues.00003", "blues",
                                                                            "jazz/jazz.00007", "jazz")
    assert blues["answers"]["verdict"] == {"genre": "blues", "confidence": 0.612, "right": True}
    assert jazz["answers"]["cnn"]["right"] and not jazz["answers"]["musicnn"]["right"]
    assert not jazz["answers"]["verdict"]["right"]

    gallery = examples_module.read_gallery(examples, artifacts)
    assert gallery.fresh and gallery.note is None
    table, help_texts = clip_views.gallery_table(example_clips(examples), gallery)
    assert list(table.columns) == ["Clip", "GTZAN label", "CNN", "Pretrained musicnn", "Combined verdict"]
    assert help_texts["Combined verdict"] == "Combined verdict"
    assert help_texts["CNN"] == MODEL_TITLES["cnn"] and help_texts["Pretrained musicnn"] == MODEL_TITLES["musicnn"]
    assert table.to_dict("records") == [
        {"Clip": "blues.00003", "GTZAN label": "blues", "CNN": "✅ blues 80%", "Pretrained musicnn": "✅ blues 55%",
         "Combined verdict": "✅ blues 61%"},
        {"Clip": "jazz.00007", "GTZAN label": "jazz", "CNN": "✅ jazz 80%", "Pretrained musicnn": "❌ rock 55%",
         "Combined verdict": "❌ rock 61%"},
    ]
    assert examples_module.gallery_summary(gallery).startswith(
        "The CNN gets 2 of these 2 clips right, the pretrained musicnn 1, the combined verdict 1 (")


def test_gallery_without_a_verdict_has_no_verdict_column(tmp_path):
    examples, artifacts = gallery_folders(tmp_path)
    making_examples.write_gallery(examples, artifacts, classifier=FakeClassifier(artifacts, verdict=False))
    gallery = examples_module.read_gallery(examples, artifacts)
    assert gallery.columns == ("cnn", "musicnn")
    table, _ = clip_views.gallery_table(example_clips(examples), gallery)
    assert "Combined verdict" not in table.columns


@pytest.mark.parametrize("change", ["retrained", "new model", "verdict added", "model removed", "other clip bytes",
                                    "clip added", "unreadable"])
def test_a_stale_gallery_shows_no_marks(tmp_path, change):
    examples, artifacts = gallery_folders(tmp_path)
    making_examples.write_gallery(examples, artifacts, classifier=FakeClassifier(artifacts))
    (artifacts / "training.json").write_text('{"retrained": true}')   # not a stamp file: still fresh
    assert examples_module.read_gallery(examples, artifacts).fresh
    if change == "retrained":
        (artifacts / "cnn.tflite").write_bytes(b"other cnn weights")
    elif change == "new model":
        (artifacts / "lstm.tflite").write_bytes(b"lstm weights")
    elif change == "verdict added":
        (artifacts / "verdict.json").write_text('{"weights": {}}')
    elif change == "model removed":
        (artifacts / "cnn.tflite").unlink()
    elif change == "other clip bytes":
        (examples / "jazz.00007.mp3").write_bytes(encode(music(3.0, 22050, seed=9), 22050, "WAV"))
    elif change == "clip added":
        (examples / "rock.00001.mp3").write_bytes(encode(music(2.0, 22050, seed=3), 22050, "WAV"))
    else:
        (examples / examples_module.GALLERY_NAME).write_text('{"examples": [')
    gallery = examples_module.read_gallery(examples, artifacts)
    assert gallery.status == "stale" and not gallery.fresh
    assert examples_module.GALLERY_COMMAND in gallery.note
    table, help_texts = clip_views.gallery_table(example_clips(examples), gallery)
    assert list(table.columns) == list(help_texts) == ["Clip", "GTZAN label"]
    assert len(table) == len(example_clips(examples))
    assert examples_module.gallery_summary(gallery) is None


def test_a_missing_gallery_says_which_command_makes_it(tmp_path):
    examples, artifacts = gallery_folders(tmp_path)
    gallery = examples_module.read_gallery(examples, artifacts)
    assert gallery.status == "missing" and examples_module.GALLERY_COMMAND in gallery.note
    table, _ = clip_views.gallery_table(example_clips(examples), gallery)
    assert table.to_dict("records") == [{"Clip": "blues.00003", "GTZAN label": "blues"},
                                        {"Clip": "jazz.00007", "GTZAN label": "jazz"}]
    assert examples_module.gallery_summary(gallery) is None


def test_the_stamp_covers_every_file_the_classifier_reads():
    from core.serve.artifacts import STAMP_FILES, HEAD_FILE, VERDICT_FILE

    assert {"feature_config.json", "normalisation.json", HEAD_FILE, VERDICT_FILE} <= set(STAMP_FILES)


def test_gallery_only_recomputes_the_gallery_without_the_data_folder(tmp_path, classifier):
    examples, _ = gallery_folders(tmp_path)
    manifest = examples / examples_module.MANIFEST_NAME
    manifest.write_text('{"examples": []}')
    clips = {path.name: path.read_bytes() for path in examples.glob("*.mp3")}
    assert making_examples.main(["--gallery-only", "--out", str(examples), "--data", str(tmp_path / "none")]) == 0
    assert {path.name: path.read_bytes() for path in examples.glob("*.mp3")} == clips
    assert manifest.read_text() == '{"examples": []}'
    gallery = examples_module.read_gallery(examples)
    assert gallery.fresh and set(gallery.answers) == {"blues/blues.00003", "jazz/jazz.00007"}
    assert gallery.columns[:len(classifier.model_names)] == tuple(classifier.model_names)


def test_the_bundled_gallery_is_what_the_models_say_now(classifier):
    gallery = examples_module.read_gallery()
    assert gallery.fresh, f"artifacts/examples/gallery.json: {gallery.note}"
    now = making_examples.build_gallery(classifier, example_clips())
    assert gallery.columns == tuple(now["columns"])
    for record in now["examples"]:
        stored = gallery.answers[record["clip"]]
        for name, answer in record["answers"].items():
            assert stored[name]["genre"] == answer["genre"] and stored[name]["right"] == answer["right"]
            assert stored[name]["confidence"] == pytest.approx(answer["confidence"], abs=1e-3)


# ----------------------------------------------------------------------------- core.app and core.serve.analysis
@dataclasses.dataclass
class FakePrediction:
    probabilities: np.ndarray
    window_probabilities: np.ndarray | None = None

    @property
    def genre(self) -> str:
        return GENRES[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probabilities))

    def ranked(self):
        order = np.argsort(-self.probabilities)
        return [(GENRES[i], float(self.probabilities[i])) for i in order]


def peaked(genre: str, top: float) -> np.ndarray:
    probabilities = np.full(10, (1 - top) / 9)
    probabilities[GENRES.index(genre)] = top
    return probabilities


def test_waveform_envelope_keeps_the_extremes():
    samples = np.zeros(100_000, np.float32)
    samples[12_345], samples[67_890] = 0.9, -0.8
    envelope = analysis.waveform_envelope(samples, 22050, points=500)
    assert len(envelope.time_s) == len(envelope.low) == len(envelope.high) == 500
    assert envelope.high.max() == pytest.approx(0.9) and envelope.low.min() == pytest.approx(-0.8)
    assert np.all(np.diff(envelope.time_s) > 0) and envelope.time_s[-1] < 100_000 / 22050
    short = analysis.waveform_envelope(np.arange(10, dtype=np.float32), 10, points=500)
    assert list(short.low) == list(range(10)) and short.time_s[-1] == pytest.approx(0.9)


def test_clip_db_joins_units_at_their_times():
    units = [np.full((CONFIG.n_mels, 334), 255, np.uint8), np.zeros((CONFIG.n_mels, 100), np.uint8)]
    db, times = analysis.clip_db(units, [0.0, 30.0], CONFIG)
    assert db.shape == (CONFIG.n_mels, 434) and times.shape == (434,)
    assert times[334] == 30.0 and times[333] < 30.0 and np.all(np.diff(times) > 0)
    assert db.max() <= 0 and db.min() >= -CONFIG.top_db


def test_pool_columns_bounds_the_plotted_width():
    matrix, times = np.arange(20.0).reshape(2, 10), np.arange(10.0)
    pooled, pooled_times = clip_views.pool_columns(matrix, times, 4)
    assert pooled.shape[1] <= 4 and pooled[0, 0] == pytest.approx(1.0) and pooled_times[0] == pytest.approx(1.0)
    assert clip_views.pool_columns(matrix, times, 10)[0] is matrix


def test_mel_axis_is_labelled_in_hertz():
    values, labels = style.mel_ticks(CONFIG)
    assert values == sorted(values) and len(values) == len(labels) >= 5
    assert "1 kHz" in labels and "512 Hz" in labels
    centres = style.mel_band_hz(CONFIG)
    assert len(centres) == CONFIG.n_mels and np.all(np.diff(centres) >= 0)
    assert style.hz_label(1500) == "1.5 kHz" and style.hz_label(64) == "64 Hz"


def test_clip_figures_have_labelled_axes():
    envelope = analysis.waveform_envelope(np.sin(np.arange(50_000) / 10).astype(np.float32), 22050)
    db, times = analysis.clip_db([np.zeros((CONFIG.n_mels, 334), np.uint8)], [0.0], CONFIG)
    for figure in (clip_views.waveform_figure(envelope, highlight_s=(1.0, 2.0)),
                   clip_views.spectrogram_figure(db, times, CONFIG, highlight_s=(1.0, 3.9)),
                   clip_views.mfcc_figure(db[:20], times)):
        assert isinstance(figure, go.Figure)
        assert "time (s)" in figure.layout.xaxis.title.text and figure.layout.yaxis.title.text
    spectrogram = clip_views.spectrogram_figure(db, times, CONFIG)
    assert "Hz" in "".join(spectrogram.layout.yaxis.ticktext)


def test_probability_and_timeline_figures():
    bars = clip_views.probability_figure(peaked("jazz", 0.6))
    assert list(bars.data[0].y) == list(GENRES) and bars.data[0].marker.color[GENRES.index("jazz")] == "#d62728"
    assert bars.layout.xaxis.title.text == "probability" and bars.layout.yaxis.title.text == "genre"
    narrow = clip_views.probability_figure(peaked("jazz", 0.6), narrow=True)      # a model's column on Classify
    assert narrow.layout.xaxis.title.text is None and narrow.layout.yaxis.title.text is None
    assert list(narrow.layout.xaxis.tickvals) == [] and list(narrow.data[0].text) == list(bars.data[0].text)
    windows = np.tile(peaked("rock", 0.7), (5, 1))
    timeline = clip_views.timeline_figure(windows, np.arange(5) * 1.4, 2.9)
    assert np.asarray(timeline.data[0].z).shape == (10, 5) and len(timeline.data[0].x) == 6
    edges = clip_views.window_edges(np.array([0.0, 1.0, 2.0]), 2.0)
    assert list(edges) == [0.0, 1.5, 2.5, 4.0]
    assert list(clip_views.window_edges(np.array([0.0]), 30.0, end_s=12.0)) == [0.0, 12.0]


def test_agreement_sentences_in_plain_words():
    agree = {"cnn": FakePrediction(peaked("jazz", 0.9)), "lstm": FakePrediction(peaked("jazz", 0.8))}
    sentences = clip_views.agreement_sentences(agree)
    assert clip_views.is_clear(agree) and "agree" in sentences[0] and "jazz" in sentences[0] and len(sentences) == 2
    disagree = {"cnn": FakePrediction(peaked("jazz", 0.9)), "lstm": FakePrediction(peaked("blues", 0.3))}
    sentences = " ".join(clip_views.agreement_sentences(disagree))
    assert not clip_views.is_clear(disagree)
    assert "disagree" in sentences and "LSTM is unsure" in sentences and "none of these" in sentences
    two_to_one = dict(disagree, baseline=FakePrediction(peaked("blues", 0.6)))
    assert clip_views.agreement_sentences(two_to_one)[0] == (
        "The models disagree: the CNN says **jazz**; the LSTM and the feature baseline say **blues**.")
    close = np.full(10, 0.02)
    close[GENRES.index("pop")], close[GENRES.index("disco")] = 0.45, 0.39
    hesitant = {"cnn": FakePrediction(close / close.sum())}
    assert "hesitates between pop" in " ".join(clip_views.agreement_sentences(hesitant, low=0.3))


def answered(file: str, answers: dict[str, tuple[str, float]]) -> dict:
    """A classified file's record (``core.serve.records``) with these (genre, confidence) answers."""
    return {"file": file, "ok": True, "duration_s": 30.0, "models": {
        name: {"genre": genre, "probabilities": {other: top if other == genre else (1 - top) / 9 for other in GENRES}}
        for name, (genre, top) in answers.items()}}


def test_playlist_table_scores_confusion_and_csv():
    records = [answered("a.mp3", {"cnn": ("rock", 0.6), VERDICT: ("rock", 0.7)}),
               error_record("b.mp3", "The file is empty."),
               answered("c.mp3", {"cnn": ("jazz", 0.5), VERDICT: ("blues", 0.55)})]
    outputs = ["cnn", VERDICT]
    table, help_texts = playlist.playlist_table(records, outputs)
    assert list(table.columns) == list(help_texts) == ["File", "Combined verdict", "CNN", "Expected genre", "Problem"]
    assert table.iloc[0].tolist() == ["a.mp3", "rock 70%", "rock 60%", None, ""]
    assert table.iloc[1].tolist() == ["b.mp3", "", "", None, "The file is empty."]
    assert "Problem" not in playlist.playlist_table(records[::2], outputs)[0]
    expected = ["rock", "jazz", "jazz"]                     # the unreadable file's expectation is not counted
    assert playlist.playlist_scores(records, expected, outputs) == {VERDICT: (1, 2), "cnn": (2, 2)}
    assert playlist.playlist_scores(records, [None] * 3, outputs) == {}
    matrix, genres = playlist.playlist_confusion(records, expected, VERDICT)
    assert genres == ["blues", "jazz", "rock"] and matrix.tolist() == [[0, 0, 0], [1, 0, 0], [0, 0, 1]]
    rows = list(csv.DictReader(io.StringIO(playlist.playlist_csv(records, expected, outputs))))
    assert list(rows[0]) == ["file", "ok", "error", "duration_s", "verdict_genre", "verdict_confidence", "cnn_genre",
                             "cnn_confidence", "expected_genre"]
    assert rows[0]["verdict_genre"] == "rock" and float(rows[0]["verdict_confidence"]) == pytest.approx(0.7)
    assert (rows[1]["ok"], rows[1]["error"], rows[1]["cnn_genre"], rows[1]["expected_genre"]) == (
        "false", "The file is empty.", "", "jazz")


def test_the_records_are_what_the_command_line_writes(classifier):
    clip = classifier.analyse(encode(music(3.0, 22050, seed=9), 22050, "WAV"))
    record = analysis_record("x.wav", clip)
    assert record["ok"] and list(record["models"]) == list(clip.outcomes())
    assert record["models"]["cnn"]["genre"] == clip.predictions["cnn"].genre
    assert error_record("y.wav", "The file is empty.") == {"file": "y.wav", "ok": False, "error": "The file is empty."}


def test_split_description_names_the_protocol():
    assert "fault-filtered" in training_figures.split_description("filtered")
    assert "inflated" in training_figures.split_description("random")
    assert training_figures.split_name("filtered") == "fault-filtered, artist-conditional"


def test_window_votes():
    windows = np.array([peaked("jazz", 0.9), peaked("jazz", 0.8), peaked("blues", 0.9)])
    prediction = FakePrediction(windows.mean(axis=0), windows)
    assert clip_views.window_votes(prediction) == (2, 3)


def test_training_figures_and_tables():
    trained = json.loads((ARTIFACTS / "training.json").read_text())
    for name, model in trained["models"].items():
        if name == "musicnn":      # a frozen tagger and a head: trials on validation, not epochs
            trials = training_figures.head_trials_table(model["head_trials"])
            assert len(trials) == len(model["head_trials"]) and trials["mean (%)"].is_monotonic_decreasing
            continue
        figure = training_figures.history_figure(model["history"], model["best_epoch"])
        assert {trace.name for trace in figure.data} >= {"training (windows)", "validation (windows)"}
        table = training_figures.architecture_table(model["architecture"])
        assert table.iloc[-1]["parameters"] == model["parameters"]
        assert "None" not in " ".join(table["output shape"])
        settings = training_figures.settings_table(model)
        values = dict(zip(settings["setting"], settings["value"]))
        assert values["batch size"] == str(model["settings"]["batch_size"]) and values["optimizer"] == "Adam"
        assert ("mixup alpha" in values) == bool(model["augmentation"])
        assert (values.get("each band's mean over the window removed first (a fixed EQ cancels out)") == "yes") \
            == bool(model["settings"].get("centre_over_time"))
    matrix = np.arange(100).reshape(10, 10)
    confusion = training_figures.confusion_figure(matrix)
    assert np.array_equal(np.asarray(confusion.data[0].z), matrix) and confusion.layout.yaxis.title.text == "true genre"
    per_genre = {genre: {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 3} for genre in GENRES}
    table = training_figures.per_genre_table(per_genre)
    assert list(table["genre"]) == list(GENRES) and list(table.columns) == ["genre", "precision", "recall", "F1",
                                                                            "test clips"]


def test_comparison_tables(complete_artifacts):
    from core.serve import artifacts as read, results

    rows = results.comparison_rows(complete_artifacts)
    table = comparison_figures.comparison_table(rows)
    evaluated = len(read.evaluation(complete_artifacts)["test"]["models"])
    assert table["measured here"].sum() == evaluated + 2 and table["protocol"].str.len().min() > 0
    assert table["accuracy (%)"].dtype == float
    styles = comparison_figures.highlight_ours(table).to_html().split("</style>")[0]
    assert "font-weight: bold" in styles
    for index, ours in table["measured here"].items():
        assert (f"_row{index}_col0," in styles or f"_row{index}_col0 " in styles) == ours
    evaluation, leaky = read.evaluation(complete_artifacts), read.leaky(complete_artifacts)
    protocols = comparison_figures.protocol_table(evaluation, leaky)
    assert len(protocols) == 6 and set(protocols["model"]) == {"CNN", "LSTM"}
    leaky_cnn = protocols[(protocols["model"] == "CNN") & protocols["protocol"].str.contains("leaky")]
    assert leaky_cnn["accuracy (%)"].iloc[0] == pytest.approx(91.2)
    assert len(comparison_figures.protocol_figure(protocols).data) == 3
    assert len(comparison_figures.protocol_table(evaluation, None)) == 4
    assert comparison_figures.protocol_table(None, None).empty


def test_tradeoff_and_benchmark_tables(complete_artifacts):
    from core.serve import artifacts as read, results

    trained, evaluation, timed = (read.training(complete_artifacts), read.evaluation(complete_artifacts),
                                  read.benchmark(complete_artifacts))
    table = comparison_figures.tradeoff_table(trained, evaluation, timed).set_index("model")
    cnn = table.loc[MODEL_TITLES["cnn"]]
    assert cnn["ms per 30 s clip"] == 12.5
    assert cnn["parameters"] == trained["models"]["cnn"]["parameters"]
    assert cnn["test accuracy (%)"] == pytest.approx(100 * evaluation["test"]["models"]["cnn"]["clip_accuracy"])
    without = comparison_figures.tradeoff_table(trained, None, None)
    assert without["ms per 30 s clip"].isna().all() and without["test accuracy (%)"].isna().all()
    assert comparison_figures.benchmark_model_ms(None) == {}
    bench = comparison_figures.benchmark_table(timed)
    assert bench.iloc[0]["this app"] == "80.0" and bench.iloc[0]["common way (librosa + Keras)"] == "900.0"
    assert bench.iloc[-1]["common way (librosa + Keras)"] == "not measured" and "None" not in bench.to_string()
    assert not bench["measure"].str.contains("clip statistics|core.predict").any()     # not in this file
    timed = timed | {"ours": timed["ours"] | {"clip_statistics_ms": 5.5}, "common": timed["common"] | {
        "clip_statistics_ms": 180.0}, "library": {"ms_per_clip_after_first": 104.0, "source": "GTZAN test MP3s"}}
    measured = comparison_figures.benchmark_table(timed).set_index("measure")
    statistics = measured.loc[measured.index.str.contains("clip statistics")].iloc[0]
    assert list(statistics) == ["5.5", "180.0"]
    predict = measured.loc[measured.index.str.contains("GTZAN test MP3s")].iloc[0]
    assert list(predict) == ["104.0", "not measured"]
    assert comparison_figures.benchmark_table(None).empty
    rows, clips = results.accuracy_rows(complete_artifacts), results.view_clips(complete_artifacts)
    accuracy, described = comparison_figures.accuracy_table(rows, clips)
    accuracy = accuracy.set_index("model")
    assert list(accuracy.index) == [row["model"] for row in rows]
    assert list(accuracy.columns) == list(described) and all(len(column) <= 20 for column in accuracy.columns)
    assert all(f"({clips[key]} clips)" in described[f"{heading} ({clips[key]})"]
               for key, heading in comparison_figures.ACCURACY_HEADINGS.items() if key in clips)
    assert accuracy.loc[MODEL_TITLES["cnn"]].iloc[0] == pytest.approx(100 * evaluation["test"]["models"]["cnn"]["clip_accuracy"])


def test_pipeline_drawing_uses_the_real_configuration():
    config = dataclasses.replace(CONFIG, n_mels=96, window_columns=24, n_mfcc=13)
    cnn = pipeline.pipeline_steps("cnn", config, [{"type": "Conv2D"}] * 4)
    assert "picture\n96 × 24" in cnn and "4 convolution blocks\n3 × 3 filters" in cnn
    assert any("96 bands" in step for step in cnn) and cnn[-1] == "one of 10 genres"
    assert f"windows of {config.window_seconds:.1f} s" in cnn[2]
    lstm = pipeline.pipeline_steps("lstm", config, [{"type": "Conv1D"}] + [{"type": "LSTM"}] * 2)
    assert "24 steps\nof 13 MFCCs" in lstm and "2 LSTM layers\n(with memory)" in lstm
    assert lstm.index("short patterns\n(a convolution over time)") == lstm.index("2 LSTM layers\n(with memory)") - 1
    centred = "each row minus its average\n(a speaker's EQ cancels out)"
    assert centred not in cnn
    assert pipeline.pipeline_steps("cnn", config, [{"type": "Subtract"}] + [{"type": "Conv2D"}] * 4)[4] == centred
    levelled = "one loudness for every recording\n(quiet ones raised, loud ones lowered)"
    assert levelled not in pipeline.pipeline_steps("musicnn", config)
    musicnn = pipeline.pipeline_steps("musicnn", config, levelled=True)
    assert musicnn.index(levelled) == musicnn.index("log scale\n(like our hearing)") - 1
    architecture = [{"type": "InputLayer", "output_shape": [None, 41]}] + [{"type": "Dense"}] * 4
    baseline = pipeline.pipeline_steps("baseline", config, architecture)
    assert baseline[1].startswith("41 statistics") and "3 dense layers" in baseline
    assert pipeline.baseline_inputs(config, architecture) == 41


def test_pipeline_html_escapes_and_keeps_every_step():
    page = pipeline.pipeline_html(["a <b>\nsecond line", "genre"])
    assert page.count("↓") == 1 and "a &lt;b&gt;<br>second line" in page and "<b>" not in page


def test_window_inputs_are_what_the_models_read(classifier):
    from core.serve.inputs import cnn_batch, db_windows, lstm_batch

    levels = np.random.default_rng(0).integers(0, 256, size=(CONFIG.n_mels, 334)).astype(np.uint8)
    inputs = pipeline.window_inputs(levels, 3, classifier.config, classifier.normalisation)
    windows, starts = db_windows(levels, classifier.config)
    assert np.array_equal(inputs.cnn, cnn_batch(windows, classifier.normalisation)[3, :, :, 0])
    assert np.array_equal(inputs.lstm.T, lstm_batch(windows, classifier.normalisation, classifier.config)[3])
    assert inputs.start_s == pytest.approx(starts[3] / classifier.config.column_rate_hz)
    assert inputs.times_s.shape == (classifier.config.window_columns,)
    centred = pipeline.window_inputs(levels, 3, classifier.config, classifier.normalisation, cnn_centred=True)
    assert np.allclose(centred.cnn, inputs.cnn - inputs.cnn.mean(axis=1, keepdims=True))
    assert np.allclose(centred.cnn.mean(axis=1), 0, atol=1e-5) and np.array_equal(centred.lstm, inputs.lstm)
    assert pipeline.centres_over_time([{"type": "Subtract"}]) and not pipeline.centres_over_time(None)


def test_the_analysis_keeps_the_decode_facts_and_what_the_pages_draw(classifier):
    data = encode(music(8.0, 44100, channels=2), 44100, "WAV", "PCM_16")
    clip = classifier.analyse(data, envelope_points=300)
    assert len(clip.envelope.time_s) == 300
    assert clip.channels == 2 and clip.source_sample_rate == 44100 and clip.format.startswith("WAV")
    assert set(clip.predictions) == set(classifier.model_names)
    db, times = analysis.clip_db(clip.unit_levels, clip.unit_starts_s, classifier.config)
    assert np.array_equal(clip.mel_db, db) and np.array_equal(clip.column_times_s, times)
    assert clip.mfcc.shape == (classifier.config.n_mfcc, db.shape[1])
    with pytest.raises(AudioError):
        classifier.analyse(b"not audio at all")
