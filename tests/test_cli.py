"""The command lines: python -m core.predict and python -m core.evaluate, run as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.config import GENRES

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


def test_evaluate_json_on_the_test_list(data_dir):
    """Every clip of the test list predicted on the spot; the summary agrees with the lines and with
    the evaluation training saved in artifacts/ (the figures the app and README show)."""
    from core.report import evaluation

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
