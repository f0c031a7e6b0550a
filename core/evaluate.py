"""Evaluate every exported model on a split list, computed on the spot.

    python -m core.evaluate --data DIR --split test --json [--audio-only]

Prints one JSON line per clip (``{"clip": ..., "models": {"cnn": {"genre": ...}, ...}}``) and then a
summary line per model: clip-level and window-level accuracy, macro precision, recall and F1,
per-genre scores and the confusion matrix. By default a clip is read from its spectrogram image
(and its clip statistics from ``features_30_sec.csv``); ``--audio-only`` decodes the clip's audio
instead, through exactly the path the app uses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from core import gtzan
from core.config import GENRES

PREDICTION_FIELDS = ("genre", "probabilities")


def predict_clip(classifier, data_dir: Path, clip: str, audio_only: bool, features_table=None) -> dict | None:
    """Every model's prediction for one clip, or None when the clip has no usable source."""
    image = gtzan.image_path(data_dir, clip)
    if not audio_only and image.exists() and features_table is not None and clip in features_table.index:
        levels = gtzan.read_image_levels(image, classifier.config)
        statistics = features_table.loc[clip, list(classifier.config.baseline_features)].to_numpy(dtype=np.float64)
        predictions = classifier.predict_units([levels], [0.0], [statistics])
        source = "image"
    else:
        from core.audio import decode

        path = gtzan.find_audio(data_dir, clip, lossless_first=not audio_only)
        if path is None:
            return None
        predictions = classifier.analyse(decode(path, classifier.config)).predictions
        source = "audio"
    return {
        "clip": clip, "source": source, "label": gtzan.genre_of(clip),
        "models": {
            name: {
                "genre": prediction.genre,
                "probabilities": {genre: round(float(p), 6) for genre, p in zip(GENRES, prediction.probabilities)},
                "window_genres": [GENRES[i] for i in prediction.window_probabilities.argmax(axis=1)],
            }
            for name, prediction in predictions.items()
        },
    }


def summarise(records: list[dict]) -> dict:
    """Clip and window accuracy, macro scores, per-genre scores and confusion matrix per model."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = [record["label"] for record in records]
    summary = {"clips": len(records), "models": {}}
    for name in records[0]["models"] if records else []:
        predicted = [record["models"][name]["genre"] for record in records]
        windows = [(record["label"], genre) for record in records for genre in record["models"][name]["window_genres"]]
        precision, recall, f1, support = precision_recall_fscore_support(
            labels, predicted, labels=list(GENRES), zero_division=0)
        summary["models"][name] = {
            "clip_accuracy": float(np.mean(np.array(labels) == np.array(predicted))),
            "window_accuracy": float(np.mean([label == genre for label, genre in windows])),
            "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
            "macro_f1": float(f1.mean()),
            "per_genre": {genre: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                          for genre, p, r, f, s in zip(GENRES, precision, recall, f1, support)},
            "confusion_matrix": confusion_matrix(labels, predicted, labels=list(GENRES)).tolist(),
        }
    return summary


def evaluate(classifier, data_dir: Path, clips: list[str], audio_only: bool = False, on_record=None) -> dict:
    """Predict every clip (calling ``on_record`` with each record) and summarise."""
    has_table = (Path(data_dir) / "features_30_sec.csv").exists()
    table = gtzan.load_features_table(data_dir) if has_table and not audio_only else None
    records = []
    for clip in clips:
        record = predict_clip(classifier, data_dir, clip, audio_only, table)
        if record is None:
            continue
        records.append(record)
        if on_record:
            on_record(record)
    return summarise(records) | {"audio_only": audio_only}


def write_evaluation(artifacts_dir: Path, data_dir: Path, protocol: str = "filtered", seed: int = 0) -> dict:
    """The test-list evaluation training leaves in ``artifacts/evaluation.json``.

    Besides the whole test list (from the images), it measures the test clips that have audio twice,
    from their images and from their MP3s, to show how much lossy coding moves the models.
    """
    from core.inference import GenreClassifier
    from core.train import split_lists

    classifier = GenreClassifier(artifacts_dir)
    test = split_lists(data_dir, protocol, seed)["test"]
    with_audio = [clip for clip in test if gtzan.find_audio(data_dir, clip, lossless_first=False)]
    result = {
        "split": protocol, "list": "test",
        "test": evaluate(classifier, data_dir, test),
        "audio_subset": {
            "clips": with_audio,
            "from_images": evaluate(classifier, data_dir, with_audio),
            "from_mp3": evaluate(classifier, data_dir, with_audio, audio_only=True),
        },
    }
    (Path(artifacts_dir) / "evaluation.json").write_text(json.dumps(result, indent=1) + "\n")
    for name, scores in result["test"]["models"].items():
        print(f"{name}: test clip accuracy {scores['clip_accuracy']:.3f} "
              f"(window {scores['window_accuracy']:.3f}, macro F1 {scores['macro_f1']:.3f})", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    from core.inference import ARTIFACTS_DIR, GenreClassifier

    parser = argparse.ArgumentParser(prog="python -m core.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir())
    parser.add_argument("--split", choices=("train", "valid", "test"), default="test",
                        help="which fault-filtered list to evaluate")
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS_DIR)
    parser.add_argument("--audio-only", action="store_true", help="decode each clip's audio instead of its image")
    parser.add_argument("--json", action="store_true", help="one JSON line per clip, then the summary")
    args = parser.parse_args(argv)
    if args.data is None or not Path(args.data, "splits").is_dir():
        parser.error("no data folder with splits/: pass --data DIR or set GENRE_LAB_DATA")
    classifier = GenreClassifier(args.artifacts)
    clips = gtzan.read_split(args.data, args.split)

    def show(record: dict) -> None:
        if args.json:
            print(json.dumps({"clip": record["clip"], "models": {
                name: {field: value[field] for field in PREDICTION_FIELDS} for name, value in record["models"].items()}}))

    summary = evaluate(classifier, args.data, clips, args.audio_only, show)
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        for name, scores in summary["models"].items():
            print(f"{name:9s} clips {summary['clips']}  clip accuracy {scores['clip_accuracy']:.3f}  "
                  f"window accuracy {scores['window_accuracy']:.3f}  macro F1 {scores['macro_f1']:.3f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
