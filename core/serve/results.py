"""The tables every page, the README and the model card show, built from what evaluation wrote.

Every figure the product shows comes through here from a file in ``artifacts/``; nothing is typed in.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.serve.artifacts import ARTIFACTS_DIR, FEATURE_CONFIG_FILE, evaluation, leaky
from core.serve.catalog import MODEL_NAMES, TITLES
from core.serve.config import FeatureConfig

PUBLISHED_RESULTS = Path(__file__).resolve().parent / "published_results.csv"


# The measurements of evaluation.json, in the order the product shows them: (key, heading, clips it covers).
VIEWS = (
    ("test", "fault-filtered test, from the images"),
    ("mp3", "test clips with audio, from the MP3s"),
    ("captured", "the same MP3s through a speaker, a room and a microphone (simulated)"),
    ("realworld", "real recordings from outside GTZAN, grouped cross-validation: each clip predicted by models "
                  "that learned from GTZAN and the other four folds, never from its own artist or collection"),
)
VIEW_SHORT = {"test": "test images", "mp3": "test MP3s", "captured": "speaker → mic",
              "realworld": "real world, cross-validated"}


def column_title(key: str, clips: int) -> str:
    """A view's column heading with how many clips it covers."""
    return f"{VIEW_SHORT[key]} ({clips} clips, grouped by artist)" if key == "realworld" else f"{VIEW_SHORT[key]} ({clips})"


def view_summaries(scores: dict) -> dict[str, dict]:
    """Each evaluation view's summary (clips, per-model scores) that ``evaluation.json`` holds."""
    subset = scores.get("audio_subset", {})
    views = {"test": scores.get("test"), "mp3": subset.get("from_mp3"), "captured": subset.get("captured"),
             "realworld": scores.get("realworld_cv")}
    return {key: value for key, value in views.items() if value}


def in_catalogue_order(models: dict) -> list[tuple[str, dict]]:
    """A ``training.json`` models block in the catalogue's order (retraining some models reorders the file)."""
    return [(name, models[name]) for name in MODEL_NAMES if name in models]


def accuracy_rows(artifacts_dir: Path = ARTIFACTS_DIR) -> list[dict]:
    """One row per model and the verdict: clip accuracy on every evaluation view (None where not measured)."""
    scores = evaluation(artifacts_dir)
    if not scores:
        return []
    views = view_summaries(scores)
    rows = []
    for name in scores["test"]["models"]:
        row = {"name": name, "model": TITLES.get(name, name)}
        for key, summary in views.items():
            model = summary["models"].get(name)
            row[key] = model["clip_accuracy"] if model else None
        row["mp3_drop"] = (row["mp3"] - row["captured"]) if row.get("mp3") is not None and row.get("captured") is not None else None
        rows.append(row)
    return rows


def view_clips(artifacts_dir: Path = ARTIFACTS_DIR) -> dict[str, int]:
    scores = evaluation(artifacts_dir)
    return {key: summary["clips"] for key, summary in view_summaries(scores).items()} if scores else {}


def test_accuracy(artifacts_dir: Path = ARTIFACTS_DIR) -> dict[str, float]:
    """Clip-level accuracy of every model on the fault-filtered test list."""
    scores = evaluation(artifacts_dir)
    return {name: model["clip_accuracy"] for name, model in scores["test"]["models"].items()} if scores else {}


def published_results() -> list[dict]:
    """Published GTZAN results with protocol and source (from ``../shared/research``, kept in the repo)."""
    with PUBLISHED_RESULTS.open(newline="") as handle:
        return list(csv.DictReader(handle))


def comparison_rows(artifacts_dir: Path = ARTIFACTS_DIR) -> list[dict]:
    """The state-of-the-art table with this product's measured models added, protocol on every row."""
    rows = [dict(row, ours=False) for row in published_results()]
    scores, leaked = evaluation(artifacts_dir), leaky(artifacts_dir)
    if scores:
        protocol = "FF" if scores["split"] == "filtered" else "random track split"
        for name, model in scores["test"]["models"].items():
            rows.append({"system": f"genre-lab {TITLES[name]}", "year": "2026",
                         "representation": _representation(name, artifacts_dir), "protocol": protocol,
                         "accuracy": f"{100 * model['clip_accuracy']:.1f}",
                         "source": "artifacts/evaluation.json (measured here)", "ours": True})
    if leaked:
        for name, model in leaked["models"].items():
            rows.append({"system": f"genre-lab {TITLES[name]}", "year": "2026",
                         "representation": _representation(name, artifacts_dir),
                         "protocol": "random segment split (leaky)",
                         "accuracy": f"{100 * model['test_segment_accuracy']:.1f}",
                         "source": "artifacts/leaky_split.json (measured here)", "ours": True})
    return rows


def _representation(name: str, artifacts_dir: Path) -> str:
    config = FeatureConfig.load(Path(artifacts_dir) / FEATURE_CONFIG_FILE)
    return {"cnn": f"{config.n_mels}-band log-mel windows, {config.window_seconds:.1f} s",
            "lstm": f"{config.n_mfcc} MFCC sequences, {config.window_seconds:.1f} s",
            "baseline": f"{len(config.baseline_features)} clip statistics",
            "musicnn": "MSD-pretrained musicnn tags of 3 s log-mel patches + trained head",
            "verdict": "weighted average of the models above"}[name]


def robustness_table(artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Markdown rows: clip accuracy of every model and the verdict on every evaluation view."""
    rows, clips = accuracy_rows(artifacts_dir), view_clips(artifacts_dir)
    keys = [key for key, _ in VIEWS if key in clips]
    lines = ["| model | " + " | ".join(column_title(key, clips[key]) for key in keys) + " |",
             "|---|" + "---:|" * len(keys)]
    for row in rows:
        cells = [f"**{row['model']}**" if row["name"] == "verdict" else row["model"]]
        cells += [f"{row[key]:.1%}" if row.get(key) is not None else "n/a" for key in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def view_notes(artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """What each column of the robustness table measures."""
    clips = view_clips(artifacts_dir)
    return ["; ".join(f"{VIEW_SHORT[key]}: {heading} ({clips[key]} clips)" for key, heading in VIEWS if key in clips)
            + ". Written by `python -m core.evaluate` through `python -m core.train`. Every GTZAN choice was made "
            "on the validation list, every real-world choice inside the training folds (how the head's and the "
            "verdict's settings are scored was revised after earlier runs on the same folds, so the real-world "
            "column counts as chosen on the folds); the test list only measures."]


def realworld_per_genre(artifacts_dir: Path = ARTIFACTS_DIR, model: str = "verdict") -> list[dict]:
    """Per-genre recall of ``model`` on the cross-validated real recordings, with how many clips each genre has."""
    scores = evaluation(artifacts_dir) or {}
    summary = scores.get("realworld_cv", {}).get("models", {}).get(model)
    if not summary:
        return []
    return [{"genre": genre, "clips": values["support"], "recall": values["recall"]}
            for genre, values in summary["per_genre"].items() if values["support"]]


def realworld_genre_table(artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Markdown: the verdict's cross-validated recall per genre (genres under five clips are anecdotes)."""
    rows = realworld_per_genre(artifacts_dir)
    if not rows:
        return []
    return (["| genre | " + " | ".join(row["genre"] for row in rows) + " |", "|---|" + "---:|" * len(rows),
             "| clips | " + " | ".join(str(row["clips"]) for row in rows) + " |",
             "| combined verdict, right | " + " | ".join(f"{row['recall']:.0%}" for row in rows) + " |"])


TRANSFER_CREDIT = ("The transfer model's tagger is musicnn's `MSD_musicnn` (J. Pons and X. Serra, \"musicnn: "
                   "pre-trained convolutional neural networks for music audio tagging\", ISMIR 2019 late-breaking "
                   "demo; Music Technology Group, Universitat Pompeu Fabra), ISC licence, taken from the `musicnn` "
                   "0.1.0 wheel on PyPI and ported by `python -m core.musicnn_port` (licence text in "
                   "`artifacts/musicnn.json`). Only its genre head was trained here.")
