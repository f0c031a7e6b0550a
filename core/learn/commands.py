"""The command lines of ``python -m core.train`` and ``python -m core.evaluate``.

``python -m core.train`` (``train_main``) does every model, the verdict and the evaluation in one command::

    python -m core.train [--data DIR] [--split filtered|random] [--models cnn lstm baseline musicnn]
                         [--epochs N] [--seed S] [--out artifacts] [--no-realworld | --realworld-only]

First the GTZAN stage (``core.learn.train``): every model trained on GTZAN's training list, every choice
made on its validation list. Then, when the real recordings are there (``data/realworld`` beside the
GTZAN folder, or ``$GENRE_LAB_REALWORLD``), the real-music stage (``core.learn.crossval``): the grouped
cross-validation that gives the product's real-world figure, and the shipped transfer head, CNN,
LSTM and verdict refitted on GTZAN plus every real clip. Last, the test list is measured once.

``python -m core.evaluate`` (``evaluate_main``) is described in ``core.learn.evaluate``; with
``--cross-validate`` it runs ``core.learn.crossval``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from core.learn import crossval, gtzan, realworld
from core.learn.evaluate import LABELS_FILE, PREDICTION_FIELDS, evaluate, evaluate_folder
from core.learn.evaluate import __doc__ as EVALUATE_DOC
from core.learn.models import KERAS_MODELS
from core.learn.realworld import default_realworld_dir
from core.learn.train import log, train_all
from core.learn.verdict import check_head_not_refit
from core.serve.artifacts import ARTIFACTS_DIR, EVALUATION_FILE, TRAINING_FILE


def learn_real_music(out: Path, data_dir: Path, real_dir: Path, seed: int) -> dict:
    """After the GTZAN stage: the grouped cross-validation on the real recordings (``realworld_cv`` in
    ``evaluation.json``; kept when it was run on exactly these models and clips), then the shipped models
    refitted on GTZAN plus every real clip; recorded in ``training.json`` under ``realworld``."""
    clips = realworld.read_clips(real_dir)
    context = crossval.Context(out, data_dir, real_dir, clips, seed, crossval.work_folder(out, clips, seed))
    stored = (json.loads((out / EVALUATION_FILE).read_text()) if (out / EVALUATION_FILE).exists() else {})
    cv = stored.get("realworld_cv")
    if not cv or cv.get("work_folder") != f"{context.work.name}/{crossval.FOLD_VERSION}":
        log(f"learning real music: grouped cross-validation on {real_dir}")
        cv = crossval.write_cross_validation(out, data_dir, real_dir, seed)
    record = crossval.refit_shipped(context, crossval.head_data(out, data_dir, real_dir, clips, seed))
    summary = json.loads((out / TRAINING_FILE).read_text())
    summary["realworld"] = record | {"folder": Path(real_dir).name, "fold_choices": cv["fold_choices"]}
    summary["verdict"] = record["verdict"]
    (out / TRAINING_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    return record


def train_main(argv: list[str] | None = None) -> int:
    """``python -m core.train``."""
    parser = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir(),
                        help="GTZAN folder: images_original/ and features_30_sec.csv, or <genre>/<clip> audio")
    parser.add_argument("--split", choices=("filtered", "random"), default="filtered",
                        help="fault-filtered artist-conditional lists (default) or a random track-level split")
    parser.add_argument("--models", nargs="+", choices=KERAS_MODELS + ("musicnn",), default=list(KERAS_MODELS) + ["musicnn"])
    parser.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: per model)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ARTIFACTS_DIR)
    parser.add_argument("--no-leaky", action="store_true", help="skip the leaky random-segment experiment")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the test-list evaluation")
    parser.add_argument("--no-realworld", action="store_true",
                        help="skip learning from the real recordings (data/realworld, $GENRE_LAB_REALWORLD): no "
                             "grouped cross-validation, the GTZAN-only models are shipped")
    parser.add_argument("--realworld-only", action="store_true",
                        help="keep the GTZAN stage in --out (its cnn.gtzan.keras, lstm.gtzan.keras, tagger and "
                             "normalisation) and run only the real-music stage, then the evaluation")
    parser.add_argument("--no-cache", action="store_true",
                        help="compute the transfer model's tagger outputs afresh and keep them only in memory")
    args = parser.parse_args(argv)
    if args.data is None or not Path(args.data).is_dir():
        parser.error("no data folder: pass --data DIR or set GENRE_LAB_DATA")
    real_dir = None if args.no_realworld else default_realworld_dir(args.data)
    if args.realworld_only and (real_dir is None or args.split != "filtered"):
        parser.error("--realworld-only needs the real recordings (../shared/data/realworld or GENRE_LAB_REALWORLD) "
                     "and the fault-filtered split")
    if "musicnn" not in args.models and not args.realworld_only:   # the verdict is chosen at the end: say so first
        try:
            check_head_not_refit(args.out)
        except ValueError as error:
            parser.error(str(error))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from core.learn.transfer import CACHE_DIR

    if not args.realworld_only:
        train_all(args.data, args.out, args.models, args.split, args.seed, args.epochs, not args.no_leaky,
                  transfer_cache=None if args.no_cache else CACHE_DIR)
    if real_dir is not None and args.split == "filtered":
        learn_real_music(args.out, args.data, real_dir, args.seed)
    if not args.no_evaluate:
        from core.learn.evaluate import write_evaluation

        write_evaluation(args.out, args.data, args.split, args.seed)
    from core.learn.report import write_model_card

    write_model_card(args.out)
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    """``python -m core.evaluate``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from core.serve.inference import GenreClassifier

    parser = argparse.ArgumentParser(prog="python -m core.evaluate", description=EVALUATE_DOC.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir(),
                        help="a GTZAN folder with splits/, or a labelled folder of audio (LABELS.csv or <genre>/<file>)")
    parser.add_argument("--split", choices=("train", "valid", "test"), default="test",
                        help="which fault-filtered list to evaluate (GTZAN folders)")
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS_DIR)
    parser.add_argument("--audio-only", action="store_true", help="decode each clip's audio instead of its image")
    parser.add_argument("--capture", action="store_true",
                        help="play each clip through the measurement speaker -> room -> microphone chains first")
    parser.add_argument("--gain-db", type=float, default=0.0,
                        help="play each clip's audio this many dB louder (positive) or quieter (negative)")
    parser.add_argument("--json", action="store_true", help="one JSON line per clip, then the summary")
    parser.add_argument("--cross-validate", action="store_true",
                        help="grouped cross-validation over the folds of the folder's LABELS.csv (data/realworld): "
                             "learn from the other folds, predict each fold, write realworld_cv")
    parser.add_argument("--gtzan", type=Path, default=gtzan.default_data_dir(),
                        help="the GTZAN folder the cross-validated models also learn from (default: $GENRE_LAB_DATA "
                             "or ../shared/data/gtzan)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.data is None or not Path(args.data).is_dir():
        parser.error("no data folder: pass --data DIR or set GENRE_LAB_DATA")
    if args.cross_validate:
        return cross_validate_command(args, parser)
    classifier = GenreClassifier(args.artifacts)

    def show(record: dict) -> None:
        if args.json:
            print(json.dumps({"clip": record["clip"], "label": record["label"], "models": {
                name: {field: value[field] for field in PREDICTION_FIELDS} for name, value in record["models"].items()}}))

    if Path(args.data, "splits").is_dir():
        summary = evaluate(classifier, args.data, gtzan.read_split(args.data, args.split), args.audio_only, show,
                           args.capture, args.gain_db)
    else:
        try:
            summary = evaluate_folder(classifier, args.data, args.capture, show, args.gain_db)
        except ValueError as error:
            parser.error(str(error))
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        for name, scores in summary["models"].items():
            print(f"{name:9s} clips {summary['clips']}  clip accuracy {scores['clip_accuracy']:.3f}  "
                  f"window accuracy {scores['window_accuracy']:.3f}  macro F1 {scores['macro_f1']:.3f}")
    return 0


def cross_validate_command(args, parser) -> int:
    """``--cross-validate``: the folds of ``--data``, learning from ``--gtzan`` too."""
    if not (Path(args.data) / LABELS_FILE).exists():
        parser.error(f"--cross-validate needs {Path(args.data) / LABELS_FILE} with fold and group columns")
    if args.gtzan is None or not Path(args.gtzan, "splits").is_dir():
        parser.error("--cross-validate also learns from GTZAN: pass --gtzan DIR or set GENRE_LAB_DATA")
    try:
        realworld.check_grouped(realworld.read_clips(args.data))
    except ValueError as error:
        parser.error(str(error))

    def show(record: dict) -> None:
        print(json.dumps({"clip": record["clip"], "label": record["label"], "fold": record["fold"], "models": {
            name: {field: value[field] for field in PREDICTION_FIELDS} for name, value in record["models"].items()}}),
            flush=True)

    result = crossval.write_cross_validation(args.artifacts, args.gtzan, args.data, args.seed, show)
    print(json.dumps({"summary": {key: value for key, value in result.items() if key != "records"}}))
    return 0
