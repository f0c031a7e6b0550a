"""The command lines: python -m core.predict and python -m core.evaluate, run as a user runs them."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.serve.config import GENRES

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good clip (with spaces and non-ASCII in its name), a text file posing as audio, a missing file."""
    folder = tmp_path_factory.mktemp("cli")
    t = np.arange(8 * 22050) / 22050
    good = folder / "my clip é.wav"
    sf.write(good, (0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32), 22050)
    bad = folder / "notes.mp3"
    bad.write_text("these are my notes, not music\n" * 20)
    return {"good": str(good), "bad": str(bad), "missing": str(folder / "nowhere.wav")}


def test_predict_json_one_line_per_file_in_order(files):
    result = run("core.predict", files["good"], files["bad"], files["missing"], files["good"], "--json")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    assert [r["file"] for r in records] == [files["good"], files["bad"], files["missing"], files["good"]]
    good = records[0]
    assert good["ok"] is True and good["duration_s"] == pytest.approx(8.0, abs=0.01)
    assert {"cnn", "lstm", "baseline"} <= set(good["models"])
    for model in good["models"].values():
        assert model["genre"] in GENRES
        assert set(model["probabilities"]) == set(GENRES)
        assert sum(model["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert records[0]["models"] == records[3]["models"]          # deterministic
    for record in records[1:3]:
        assert record["ok"] is False
        assert record["error"].endswith(".") and "\n" not in record["error"] and "Traceback" not in record["error"]
    assert "Traceback" not in result.stdout + result.stderr


def test_predict_plain_text_and_exit_status(files):
    ok = run("core.predict", files["good"])
    assert ok.returncode == 0
    assert ok.stdout.startswith(files["good"] + ": cnn ")
    assert len(ok.stdout.strip().splitlines()) == 1
    bad = run("core.predict", files["bad"])
    assert bad.returncode == 1 and "error:" in bad.stdout


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A folder tree of four short clips (one with an upper-case extension, one FLAC) and two files
    that are not audio; returns the folder and the clips in the order they are classified."""
    folder = tmp_path_factory.mktemp("library")
    rate, rng = 22050, np.random.default_rng(0)
    clips = [folder / "a.wav", folder / "sub" / "B.WAV", folder / "sub" / "deeper" / "c.flac",
             folder / "sub2" / "d.wav"]
    for index, path in enumerate(clips):
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int((3 + index / 3) * rate)) / rate
        tone = np.sin(2 * np.pi * 110 * (index + 1) * t) * (1 + np.sin(2 * np.pi * (index + 1) * t))
        sf.write(path, (0.2 * tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32), rate,
                 format=path.suffix[1:].upper())
    (folder / "notes.txt").write_text("not music\n")
    (folder / "sub" / "cover.jpg").write_bytes(b"\xff\xd8\xff not really a picture")
    return str(folder), [str(path) for path in clips]


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_predict_searches_folders_and_counts_other_files(library):
    folder, clips = library
    result = run("core.predict", folder, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    found = records(result.stdout)
    assert [record["file"] for record in found] == clips
    assert all(record["ok"] for record in found)
    assert "Skipped 2 files in the folders that are not audio" in result.stderr


def test_predict_two_jobs_give_the_records_of_one(library, files):
    folder, clips = library
    inputs = (files["bad"], folder, files["good"])
    one, two = (run("core.predict", *inputs, "--json", "--jobs", jobs) for jobs in ("1", "2"))
    assert one.returncode == two.returncode == 1           # the text file posing as MP3
    assert [record["file"] for record in records(two.stdout)] == [files["bad"], *clips, files["good"]]
    assert two.stdout == one.stdout
    assert "Traceback" not in two.stderr


def test_predict_output_resumes_after_an_interrupted_run(library, tmp_path):
    folder, clips = library
    output = tmp_path / "records.jsonl"
    first = run("core.predict", folder, "--output", str(output))
    assert first.returncode == 0 and first.stdout == ""
    written = output.read_text()
    assert [record["file"] for record in records(written)] == clips

    again = run("core.predict", folder, "--output", str(output))
    assert again.returncode == 0 and output.read_text() == written
    assert "Skipped 4 files already recorded" in again.stderr

    lines = written.splitlines(keepends=True)
    output.write_text("".join(lines[:2]) + lines[2][:40])      # killed while writing the third record
    resumed = run("core.predict", folder, "--output", str(output))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Skipped 2 files already recorded" in resumed.stderr
    assert records(output.read_text()) == records(written)


def test_predict_output_keeps_the_exit_status_of_recorded_failures(files, tmp_path):
    output = tmp_path / "records.jsonl"
    first = run("core.predict", files["good"], files["bad"], "--output", str(output), "--jobs", "2")
    assert first.returncode == 1
    assert first.stderr.count(files["bad"] + ": error: ") == 1     # failures are shown too
    again = run("core.predict", files["good"], files["bad"], "--output", str(output))
    assert again.returncode == 1 and "Skipped 2 files already recorded" in again.stderr
    assert len(output.read_text().splitlines()) == 2


def test_predict_csv_columns_and_resume(library, files, tmp_path):
    folder, clips = library
    result = run("core.predict", folder, files["bad"], "--csv")
    assert result.returncode == 1
    rows = list(csv.reader(result.stdout.splitlines()))
    header, body = rows[0], [dict(zip(rows[0], row)) for row in rows[1:]]
    assert header[:4] == ["file", "ok", "error", "duration_s"]
    models = [column.removesuffix("_genre") for column in header[4::2]]
    assert {"cnn", "lstm", "baseline"} <= set(models)
    assert header[4:] == [f"{model}_{column}" for model in models for column in ("genre", "confidence")]
    assert [row["file"] for row in body] == [*clips, files["bad"]]
    for row in body[:-1]:
        assert row["ok"] == "true" and row["error"] == "" and 3 <= float(row["duration_s"]) <= 4.1
        for model in models:
            assert row[f"{model}_genre"] in GENRES and 0.1 <= float(row[f"{model}_confidence"]) <= 1
    bad = body[-1]
    assert bad["ok"] == "false" and bad["error"].endswith(".") and bad["cnn_genre"] == bad["duration_s"] == ""

    output = tmp_path / "records.csv"
    output.write_text("".join(result.stdout.splitlines(keepends=True)[:3]) + clips[2][:10])  # cut short
    resumed = run("core.predict", folder, files["bad"], "--csv", "--output", str(output))
    assert resumed.returncode == 1 and "Skipped 2 files already recorded" in resumed.stderr
    assert output.read_text() == result.stdout
    wrong = run("core.predict", folder, "--output", str(output))      # CSV resumed as JSON lines
    assert wrong.returncode == 2 and "cannot be resumed." in wrong.stderr


def test_evaluate_json_on_the_test_list(data_dir):
    """Every clip of the test list predicted on the spot; the summary agrees with the lines and with
    the evaluation training saved in artifacts/ (the figures the app and README show)."""
    from core.serve.artifacts import evaluation

    result = run("core.evaluate", "--data", str(data_dir), "--split", "test", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    clips, summary = lines[:-1], lines[-1]["summary"]
    assert len(clips) == 290 == summary["clips"]
    assert clips[0]["clip"] == "blues/blues.00012"
    assert set(clips[0]["models"]["cnn"]) == {"genre", "probabilities"}
    labels = np.array([clip["clip"].split("/")[0] for clip in clips])
    for name, scores in summary["models"].items():
        predicted = np.array([clip["models"][name]["genre"] for clip in clips])
        assert scores["clip_accuracy"] == pytest.approx(np.mean(predicted == labels))
        assert np.array(scores["confusion_matrix"]).sum() == 290
        assert set(scores["per_genre"]) == set(GENRES)
    saved = evaluation()
    assert saved is not None, "artifacts/evaluation.json is missing: run python -m core.train"
    for name, scores in saved["test"]["models"].items():
        assert summary["models"][name]["clip_accuracy"] == pytest.approx(scores["clip_accuracy"])
        assert summary["models"][name]["confusion_matrix"] == scores["confusion_matrix"]
