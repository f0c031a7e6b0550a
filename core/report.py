"""Read what training and evaluation wrote, for the app, the README and the model card.

Every figure the product shows comes through here from a file in ``artifacts/``; nothing is typed in.

    python -m core.report      # rewrite artifacts/MODEL_CARD.md and the README's results block
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from core.config import GENRES, FeatureConfig
from core.catalog import MODEL_TITLES

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
            rows.append({"system": f"genre-lab {MODEL_TITLES[name]}", "year": "2026",
                         "representation": _representation(name, artifacts_dir), "protocol": protocol,
                         "accuracy": f"{100 * model['clip_accuracy']:.1f}",
                         "source": "artifacts/evaluation.json (measured here)", "ours": True})
    if leaked:
        for name, model in leaked["models"].items():
            rows.append({"system": f"genre-lab {MODEL_TITLES[name]}", "year": "2026",
                         "representation": _representation(name, artifacts_dir),
                         "protocol": "random segment split (leaky)",
                         "accuracy": f"{100 * model['test_segment_accuracy']:.1f}",
                         "source": "artifacts/leaky_split.json (measured here)", "ours": True})
    return rows


def _representation(name: str, artifacts_dir: Path) -> str:
    config = FeatureConfig.load(Path(artifacts_dir) / "feature_config.json")
    return {"cnn": f"{config.n_mels}-band log-mel windows, {config.window_seconds:.1f} s",
            "lstm": f"{config.n_mfcc} MFCC sequences, {config.window_seconds:.1f} s",
            "baseline": f"{len(config.baseline_features)} clip statistics"}[name]


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
        "the test list was used once, for the figures below.", "",
        f"Input: {config.n_mels}-band mel spectrogram, {config.column_rate_hz:.1f} columns per second, "
        f"{config.levels} levels over {config.top_db:.0f} dB, normalised per 30 s unit; model windows of "
        f"{config.window_columns} columns ({config.window_seconds:.1f} s), {config.n_mfcc} MFCCs for the LSTM.", "",
        "## Models and training",
        "| model | parameters | best epoch | validation clip accuracy | training time |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, model in trained["models"].items():
        lines.append(f"| {MODEL_TITLES[name]} | {model['parameters']:,} | {model['best_epoch']} | "
                     f"{model['best_val_clip_accuracy']:.1%} | {model['training_seconds']:.0f} s |")
    if scores:
        test = scores["test"]
        lines += ["", f"## Results on the fault-filtered test list ({test['clips']} clips)",
                  "| model | clip accuracy | window accuracy | macro F1 |", "|---|---:|---:|---:|"]
        for name, model in test["models"].items():
            lines.append(f"| {MODEL_TITLES[name]} | {model['clip_accuracy']:.1%} | "
                         f"{model['window_accuracy']:.1%} | {model['macro_f1']:.3f} |")
        lines += ["", "Per-genre F1 on the test list:", "",
                  "| genre | " + " | ".join(MODEL_TITLES[name] for name in test["models"]) + " |",
                  "|---|" + "---:|" * len(test["models"])]
        for genre in GENRES:
            lines.append(f"| {genre} | " + " | ".join(
                f"{model['per_genre'][genre]['f1']:.2f}" for model in test["models"].values()) + " |")
        subset = scores["audio_subset"]
        lines += ["", f"Lossy audio: on the {len(subset['clips'])} test clips with MP3 audio, clip accuracy "
                  "from the images versus from the 64 kbit/s MP3s: " + "; ".join(
                      f"{MODEL_TITLES[name]} {subset['from_images']['models'][name]['clip_accuracy']:.1%} vs "
                      f"{subset['from_mp3']['models'][name]['clip_accuracy']:.1%}" for name in subset["from_images"]["models"]) + "."]
    if leaked:
        lines += ["", "## The same models under a leaky protocol",
                  f"{leaked['protocol']}: " + "; ".join(
                      f"{MODEL_TITLES[name]} {model['test_segment_accuracy']:.1%}" for name, model in leaked["models"].items())
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


def readme_results(artifacts_dir: Path = ARTIFACTS_DIR) -> str:
    """The README's table of measured results: test accuracy, leaky accuracy, size and speed."""
    trained, scores, leaked, speed = training(artifacts_dir), evaluation(artifacts_dir), leaky(artifacts_dir), benchmark(artifacts_dir)
    lines = ["| model | test accuracy (fault-filtered, clip) | macro F1 | leaky segment split | parameters | warm inference |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, model in trained["models"].items():
        test = scores["test"]["models"].get(name) if scores else None
        leaky_score = leaked["models"].get(name) if leaked else None
        warm = speed["ours"]["per_model_ms"].get(name) if speed else None
        cells = [MODEL_TITLES[name],
                 f"{test['clip_accuracy']:.1%}" if test else "n/a",
                 f"{test['macro_f1']:.3f}" if test else "n/a",
                 f"{leaky_score['test_segment_accuracy']:.1%}" if leaky_score else "n/a",
                 f"{model['parameters']:,}",
                 f"{warm:.1f} ms" if warm is not None else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    if scores:
        subset = scores["audio_subset"]
        lines += ["", f"Test list: {scores['test']['clips']} clips of the fault-filtered split, every clip "
                  "predicted from its mel spectrogram by `python -m core.evaluate`. Lossy audio: on the "
                  f"{len(subset['clips'])} test clips that have audio, clip accuracy from the spectrogram images "
                  "versus from the 64 kbit/s MP3s: " + "; ".join(
                      f"{MODEL_TITLES[name]} {subset['from_images']['models'][name]['clip_accuracy']:.1%} vs "
                      f"{subset['from_mp3']['models'][name]['clip_accuracy']:.1%}"
                      for name in subset["from_images"]["models"]) + "."]
    if speed:
        ours, common, targets = speed["ours"], speed["common"], speed["targets"]
        lines += ["", f"Speed and memory (`python -m core.bench`, {speed['machine']}, clip {speed['clip']}):", "",
                  "| | genre-lab (LiteRT, NumPy) | common way (librosa + TensorFlow) | target |", "|---|---:|---:|---:|",
                  f"| warm: decode + features + all models | {ours['warm_ms']:.0f} ms | {common['warm_ms']:.0f} ms | {targets['warm_ms']:.0f} ms |",
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
