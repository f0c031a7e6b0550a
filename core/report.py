"""Read what training and evaluation wrote, for the app, the README and the model card.

Every figure the product shows comes through here from a file in ``artifacts/``; nothing is typed in.

    python -m core.report      # rewrite artifacts/MODEL_CARD.md and the README's results block
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from core.catalog import MODEL_NAMES, TITLES
from core.config import GENRES, FeatureConfig

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
README = Path(__file__).resolve().parents[1] / "README.md"
RESULTS_START, RESULTS_END = "<!-- results:start (written by python -m core.report) -->", "<!-- results:end -->"
PUBLISHED_RESULTS = Path(__file__).resolve().parent / "published_results.csv"


def _read(artifacts_dir: Path, name: str) -> dict | None:
    path = Path(artifacts_dir) / name
    return json.loads(path.read_text()) if path.exists() else None


def training(artifacts_dir: Path = ARTIFACTS_DIR) -> dict | None:
    return _read(artifacts_dir, "training.json")


def evaluation(artifacts_dir: Path = ARTIFACTS_DIR) -> dict | None:
    return _read(artifacts_dir, "evaluation.json")


def leaky(artifacts_dir: Path = ARTIFACTS_DIR) -> dict | None:
    return _read(artifacts_dir, "leaky_split.json")


def benchmark(artifacts_dir: Path = ARTIFACTS_DIR) -> dict | None:
    return _read(artifacts_dir, "benchmark.json")


# The measurements of evaluation.json, in the order the product shows them: (key, heading, clips it covers).
VIEWS = (
    ("test", "fault-filtered test, from the images"),
    ("mp3", "test clips with audio, from the MP3s"),
    ("captured", "the same MP3s through a speaker, a room and a microphone (simulated)"),
    ("realworld", "real recordings from outside GTZAN (measured only, never trained on)"),
)
VIEW_SHORT = {"test": "test images", "mp3": "test MP3s", "captured": "speaker → mic", "realworld": "real world"}


def view_summaries(scores: dict) -> dict[str, dict]:
    """Each evaluation view's summary (clips, per-model scores) that ``evaluation.json`` holds."""
    subset = scores.get("audio_subset", {})
    views = {"test": scores.get("test"), "mp3": subset.get("from_mp3"), "captured": subset.get("captured"),
             "realworld": scores.get("realworld")}
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
    config = FeatureConfig.load(Path(artifacts_dir) / "feature_config.json")
    return {"cnn": f"{config.n_mels}-band log-mel windows, {config.window_seconds:.1f} s",
            "lstm": f"{config.n_mfcc} MFCC sequences, {config.window_seconds:.1f} s",
            "baseline": f"{len(config.baseline_features)} clip statistics",
            "musicnn": "MSD-pretrained musicnn tags of 3 s log-mel patches + trained head",
            "verdict": "weighted average of the models above"}[name]


def model_card(artifacts_dir: Path = ARTIFACTS_DIR) -> str:
    """The model card as Markdown, from the JSON files training and evaluation wrote."""
    config = FeatureConfig.load(Path(artifacts_dir) / "feature_config.json")
    trained, scores, leaked = training(artifacts_dir), evaluation(artifacts_dir), leaky(artifacts_dir)
    lines = [
        "# Model card: genre-lab", "",
        "_Written by `python -m core.report` from the JSON files in this folder; do not edit by hand._", "",
        "## Data",
        f"GTZAN (Tzanetakis & Cook 2002), 10 genres, 30 s clips. Split: `{trained['split']}` "
        "(fault-filtered, artist-conditional lists of Kereliuk, Sturm & Larsen 2015) with "
        f"{trained['data']['train_clips']} training and {trained['data']['valid_clips']} validation clips; "
        "every choice (early stopping, model selection, settings) was made on the validation list; "
        "the test list was never used for a choice, only for the figures below.", "",
        f"Input: {config.n_mels}-band mel spectrogram, {config.column_rate_hz:.1f} columns per second, "
        f"{config.levels} levels over {config.top_db:.0f} dB, normalised per 30 s unit; model windows of "
        f"{config.window_columns} columns ({config.window_seconds:.1f} s), {config.n_mfcc} MFCCs for the LSTM.", "",
        "## Models and training",
        "| model | parameters | best epoch | validation clip accuracy | training time |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, model in in_catalogue_order(trained["models"]):
        lines.append(f"| {TITLES[name]} | {model['parameters']:,} | {model.get('best_epoch') or 'n/a'} | "
                     f"{model['best_val_clip_accuracy']:.1%} | {model['training_seconds']:.0f} s |")
    if "musicnn" in trained["models"]:
        lines += ["", TRANSFER_CREDIT]
    if trained.get("verdict"):
        verdict = trained["verdict"]
        lines += ["", "The combined verdict averages the models' probabilities with weights chosen on the validation "
                  "list (" + ", ".join(f"{TITLES[name]} {weight:.0%}" for name, weight in verdict["weights"].items())
                  + "; validation " + ", ".join(f"{view} {value:.1%}" for view, value in verdict["valid"].items()) + ")."]
    if scores:
        test = scores["test"]
        lines += ["", f"## Results on the fault-filtered test list ({test['clips']} clips)",
                  "| model | clip accuracy | window accuracy | macro F1 |", "|---|---:|---:|---:|"]
        for name, model in test["models"].items():
            lines.append(f"| {TITLES[name]} | {model['clip_accuracy']:.1%} | "
                         f"{model['window_accuracy']:.1%} | {model['macro_f1']:.3f} |")
        lines += ["", "Per-genre F1 on the test list:", "",
                  "| genre | " + " | ".join(TITLES[name] for name in test["models"]) + " |",
                  "|---|" + "---:|" * len(test["models"])]
        for genre in GENRES:
            lines.append(f"| {genre} | " + " | ".join(
                f"{model['per_genre'][genre]['f1']:.2f}" for model in test["models"].values()) + " |")
        lines += ["", "## Beyond the test images", "", *robustness_table(artifacts_dir), "", *view_notes(artifacts_dir)]
    if leaked:
        lines += ["", "## The same models under a leaky protocol",
                  f"{leaked['protocol']}: " + "; ".join(
                      f"{TITLES[name]} {model['test_segment_accuracy']:.1%}" for name, model in leaked["models"].items())
                  + ". Inflated by design; shown only to explain published course-project numbers."]
    lines += [
        "", "## Intended use and limits",
        "Teaching and demonstration of genre classification on GTZAN's 10 genres. Not for judging "
        "real-world music: GTZAN is small (1000 clips, mostly from before 2002), has repeated clips, "
        "mislabelings and distortions (Sturm 2013), and heavy artist repetition. The models know only "
        "these 10 genres and answer one of them for any input, speech or noise included; a low "
        "confidence or a disagreement between the models is a sign the clip is outside what they know.",
    ]
    return "\n".join(lines) + "\n"


def robustness_table(artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """Markdown rows: clip accuracy of every model and the verdict on every evaluation view."""
    rows, clips = accuracy_rows(artifacts_dir), view_clips(artifacts_dir)
    keys = [key for key, _ in VIEWS if key in clips]
    lines = ["| model | " + " | ".join(f"{VIEW_SHORT[key]} ({clips[key]})" for key in keys) + " |",
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
            + ". Written by `python -m core.evaluate` through `python -m core.train`. Every choice was made on "
            "the validation list; the test list and the real-world recordings only measure."]


TRANSFER_CREDIT = ("The transfer model's tagger is musicnn's `MSD_musicnn` (J. Pons and X. Serra, \"musicnn: "
                   "pre-trained convolutional neural networks for music audio tagging\", ISMIR 2019 late-breaking "
                   "demo; Music Technology Group, Universitat Pompeu Fabra), ISC licence, taken from the `musicnn` "
                   "0.1.0 wheel on PyPI and ported by `python -m core.musicnn_port` (licence text in "
                   "`artifacts/musicnn.json`). Only its genre head was trained here.")


def readme_results(artifacts_dir: Path = ARTIFACTS_DIR) -> str:
    """The README's tables of measured results: accuracy on every view, size and speed."""
    trained, scores, leaked, speed = training(artifacts_dir), evaluation(artifacts_dir), leaky(artifacts_dir), benchmark(artifacts_dir)
    lines = robustness_table(artifacts_dir) + [""] + view_notes(artifacts_dir) if scores else []
    lines += ["", "| model | macro F1 (test) | leaky segment split | parameters | warm inference |",
              "|---|---:|---:|---:|---:|"]
    for name, model in in_catalogue_order(trained["models"]):
        test = scores["test"]["models"].get(name) if scores else None
        leaky_score = leaked["models"].get(name) if leaked else None
        warm = speed["ours"]["per_model_ms"].get(name) if speed else None
        cells = [TITLES[name],
                 f"{test['macro_f1']:.3f}" if test else "n/a",
                 f"{leaky_score['test_segment_accuracy']:.1%}" if leaky_score else "n/a",
                 f"{model['parameters']:,}",
                 f"{warm:.1f} ms" if warm is not None else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    if speed:
        ours, common, targets = speed["ours"], speed["common"], speed["targets"]
        lines += ["", f"Speed and memory (`python -m core.bench`, {speed['machine']}, clip {speed['clip']}):", "",
                  "| | genre-lab (LiteRT, NumPy) | common way (librosa + TensorFlow) | target |", "|---|---:|---:|---:|",
                  f"| warm: decode + features + all models | {ours['warm_ms']:.0f} ms | {common['warm_ms']:.0f} ms | {targets['warm_ms']:.0f} ms |",
                  *([f"| warm: the transfer model alone (its front end included) | {ours['per_model_ms']['musicnn']:.0f} ms | "
                     f"| {targets['musicnn_ms']:.0f} ms |"] if "musicnn" in ours["per_model_ms"] and "musicnn_ms" in targets else []),
                  f"| cold: process start to first result | {ours['cold_s']:.1f} s | {common['cold_s']:.1f} s | {targets['cold_s']:.0f} s |",
                  f"| peak resident memory | {ours['peak_mb']:.0f} MB | {common['peak_mb']:.0f} MB | {targets['peak_mb']:.0f} MB |",
                  f"| 10-minute file | {speed['ten_minutes']['seconds']:.2f} s | | {targets['ten_minutes_s']:.0f} s |"]
    return "\n".join(lines)


def update_readme(artifacts_dir: Path = ARTIFACTS_DIR, readme: Path = README) -> None:
    """Replace the README's results block with figures from ``artifacts_dir``."""
    text = readme.read_text()
    head, rest = text.split(RESULTS_START, 1)
    _, tail = rest.split(RESULTS_END, 1)
    readme.write_text(f"{head}{RESULTS_START}\n{readme_results(artifacts_dir)}\n{RESULTS_END}{tail}")


def write_model_card(artifacts_dir: Path = ARTIFACTS_DIR) -> Path:
    path = Path(artifacts_dir) / "MODEL_CARD.md"
    path.write_text(model_card(artifacts_dir))
    return path


if __name__ == "__main__":
    print(write_model_card(ARTIFACTS_DIR))
    if README.exists() and RESULTS_START in README.read_text():
        update_readme()
        print(README)
