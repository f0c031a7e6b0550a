"""The figures shown to users come from the files training and evaluation wrote, never typed in."""

from pathlib import Path

import pytest

from core.learn import report
from core.serve import artifacts, results
from core.serve.catalog import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]
RESEARCH = ROOT.parent / "shared" / "research" / "gtzan_results.md"


def test_readme_results_block_is_generated_from_artifacts():
    text = (ROOT / "README.md").read_text()
    block = text.split(report.RESULTS_START, 1)[1].split(report.RESULTS_END, 1)[0].strip()
    assert block == report.readme_results().strip(), "run python -m core.report to refresh the README"


def test_readme_load_block_is_generated_from_the_load_test_and_within_its_targets():
    """The README's load figures are ``artifacts/load.json`` as ``tests/load_sessions.py --write`` saved it, held to
    the targets that script states (30 visitors at once; one visitor's 30-file playlist above the idle server)."""
    from tests.load_sessions import TARGETS

    text = (ROOT / "README.md").read_text()
    block = text.split(report.LOAD_START, 1)[1].split(report.LOAD_END, 1)[0].strip()
    assert block == report.readme_load().strip(), "run python tests/load_sessions.py --sessions 30 --playlist 30 --write"
    load = artifacts.load_test()
    assert load["targets"] == TARGETS
    crowd, playlist = load["sessions"], load["playlist"]
    assert crowd["sessions"] == 30 and crowd["answered"] == 30 and not crowd["failures"]
    assert playlist["files"] == 30 and playlist["answered"] and not playlist["failures"]
    assert crowd["peak_mb"] <= TARGETS["sessions_peak_mb"]
    assert playlist["peak_above_idle_mb"] == pytest.approx(playlist["peak_mb"] - playlist["baseline_mb"], abs=0.11)
    assert playlist["peak_above_idle_mb"] <= TARGETS["playlist_above_idle_mb"]


def test_model_card_is_generated_from_artifacts():
    assert (artifacts.ARTIFACTS_DIR / "MODEL_CARD.md").read_text() == report.model_card()


def test_test_accuracy_is_the_evaluation_file():
    scores = artifacts.evaluation()
    assert scores["split"] == "filtered" and scores["test"]["clips"] == 290
    assert results.test_accuracy() == {name: model["clip_accuracy"] for name, model in scores["test"]["models"].items()}
    assert set(results.test_accuracy()) == set(MODEL_NAMES) | {"verdict"}


def test_comparison_rows_name_a_protocol_and_a_source_on_every_row():
    rows = results.comparison_rows()
    assert all(row["protocol"] and row["source"] for row in rows)
    ours = [row for row in rows if row["ours"]]
    assert {row["protocol"] for row in ours} == {"FF", "random segment split (leaky)"}
    assert len(ours) == len(MODEL_NAMES) + 1 + 2   # every model and the verdict on the test list; CNN and LSTM leaky


def test_published_results_are_quoted_from_the_research_notes():
    if not RESEARCH.exists():
        pytest.skip(f"research notes not found at {RESEARCH}")
    notes = RESEARCH.read_text()
    for row in results.published_results():
        assert row["accuracy"] in notes, row["system"]
        assert row["year"] in notes, row["system"]
