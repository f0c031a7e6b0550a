"""Choose how the models are combined into one verdict, on the validation list only.

    python -m core.verdict [--data DIR] [--artifacts artifacts]

The verdict is a weighted average of the models' clip probabilities. Every weighting on a grid of
the simplex (steps of 0.1) is scored on three validation views: every validation clip from its
spectrogram image, the clips that have audio from their MP3s, and the same clips recorded through
the tuning rooms (``core.learn.capture.TUNING_ROOMS``, never the rooms that measure the test list).
The weighting with the best mean accuracy is written to
``artifacts/verdict.json`` with every model's own figures on the same views. Learning side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from core.learn import audit, gtzan
from core.serve.artifacts import ARTIFACTS_DIR, HEAD_FILE, VERDICT_FILE
from core.serve.config import GENRES

# "audio measured": the validation clips with audio through the tuning rooms (never the rooms that measure
# the test list, ``core.learn.capture.TUNING_ROOMS``).
VIEWS = {"images": {}, "audio": {"audio_only": True}, "audio measured": {"capture": True, "rooms": "tuning"}}


def view_probabilities(classifier, data_dir: Path, clips: list[str]) -> dict[str, dict]:
    """Per view: the labels and every model's clip probabilities (clips x genres), read to choose the verdict."""
    from core.learn.evaluate import evaluate

    with_audio = [clip for clip in clips if gtzan.find_audio(data_dir, clip, lossless_first=False)]
    views = {}
    for view, options in VIEWS.items():
        records = []
        evaluate(classifier, data_dir, clips if view == "images" else with_audio, on_record=records.append, **options)
        audit.chose_on("verdict weights", (record["clip"] for record in records))
        views[view] = {
            "labels": np.array([GENRES.index(record["label"]) for record in records]),
            "models": {name: np.array([[record["models"][name]["probabilities"][genre] for genre in GENRES]
                                       for record in records])
                       for name in records[0]["models"] if name != "verdict"},
        }
    return views


def weight_grid(names: list[str], step: float = 0.1) -> list[dict[str, float]]:
    """Every weighting of ``names`` with non-negative multiples of ``step`` summing to one."""
    units = round(1 / step)
    return [{name: count * step for name, count in zip(names, counts)}
            for counts in itertools.product(range(units + 1), repeat=len(names)) if sum(counts) == units]


def accuracy(weights: dict[str, float], view: dict) -> float:
    combined = sum(weight * view["models"][name] for name, weight in weights.items())
    return float(np.mean(combined.argmax(axis=1) == view["labels"]))


def choose(views: dict[str, dict]) -> dict:
    """The best weighting by mean accuracy over the views (ties: the first on the grid)."""
    names = list(next(iter(views.values()))["models"])
    scored = [(float(np.mean([accuracy(weights, view) for view in views.values()])), weights)
              for weights in weight_grid(names)]
    best_score, best = max(scored, key=lambda item: item[0])
    alone = {name: {view: accuracy({name: 1.0}, data) for view, data in views.items()} for name in names}
    return {
        "weights": {name: round(weight, 3) for name, weight in best.items()},
        "valid": {view: accuracy(best, data) for view, data in views.items()},
        "valid_mean": best_score, "models_valid": alone,
        "clips": {view: len(data["labels"]) for view, data in views.items()},
        "grid_step": 0.1, "weightings_tried": len(scored),
        "protocol": "weighted average of clip probabilities; weights chosen on the validation list "
                    "(every clip from its image, the clips with audio from their MP3s and through the "
                    "tuning rooms), best mean accuracy over the three",
    }


def check_head_not_refit(artifacts_dir: Path) -> None:
    """Refuse to choose the verdict with a transfer head refit on the validation list.

    ``core.learn.transfer`` writes a head trained on the training list, the verdict is chosen with it,
    and only then is the head refit on training and validation clips. Choosing later, with the refit
    head, would score the weights on clips that head was trained on.
    """
    from core.serve.pretrained import TransferHead

    path = Path(artifacts_dir) / HEAD_FILE
    if path.exists() and TransferHead.load(path).extra.get("trained_on", "training list") != "training list":
        raise ValueError(f"{path} was refit on the validation list, so the verdict cannot be chosen with it: "
                         "retrain the transfer model in the same run (python -m core.train --models ... musicnn)")


def write_verdict(artifacts_dir: Path, data_dir: Path, log=print, valid_clips: list[str] | None = None) -> dict:
    """Choose the weights on ``valid_clips``: the validation list of the protocol the models were trained
    under (the fault-filtered one by default; a random split's own, never clips of its test list)."""
    from core.serve.inference import GenreClassifier

    check_head_not_refit(artifacts_dir)
    path = Path(artifacts_dir) / VERDICT_FILE
    path.unlink(missing_ok=True)             # the models alone, while choosing
    classifier = GenreClassifier(artifacts_dir)
    clips = gtzan.read_split(data_dir, "valid") if valid_clips is None else valid_clips
    result = choose(view_probabilities(classifier, data_dir, clips)) | {"valid_list": clips}
    path.write_text(json.dumps(result, indent=1) + "\n")
    log(f"verdict weights {result['weights']}: validation " +
        ", ".join(f"{view} {value:.3f}" for view, value in result["valid"].items()))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.verdict", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir())
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS_DIR)
    args = parser.parse_args(argv)
    if args.data is None or not Path(args.data, "splits").is_dir():
        parser.error("no GTZAN folder with splits/: pass --data DIR or set GENRE_LAB_DATA")
    write_verdict(args.artifacts, args.data, log=lambda message: print(message, file=sys.stderr))
    return 0
