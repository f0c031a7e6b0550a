"""Evaluate every exported model on a GTZAN split list or on any labelled folder of audio.

    python -m core.evaluate --data DIR --split test --json [--audio-only] [--capture] [--gain-db G]
    python -m core.evaluate --data FOLDER --json [--capture] [--gain-db G]

Prints one JSON line per clip (``{"clip": ..., "models": {"cnn": {"genre": ...}, ...}}``) and then a
summary line per model: clip-level and window-level accuracy, macro precision, recall and F1,
per-genre scores and the confusion matrix.

A GTZAN folder (one with ``splits/``) is evaluated on a split list. By default a clip is read from
its spectrogram image (and its clip statistics from ``features_30_sec.csv``); ``--audio-only``
decodes the clip's audio instead, through exactly the path the app uses.

Any other folder is a labelled folder of audio: its ``LABELS.csv`` (columns ``file`` and ``genre``,
files relative to the folder) or, without one, ``<genre>/<file>`` subfolders name the genres; every
file is decoded through the app's path and ``"clip"`` is its path relative to the folder.

``--capture`` plays every decoded clip through the fixed speaker -> room -> microphone chains of
``core.learn.capture.MEASUREMENT_ROOMS`` first (the classroom "Record" case). ``--gain-db`` plays
every decoded clip louder or quieter (a quiet recording, a loud master): a level-robust model
gives the same answers.

``--cross-validate`` on a folder whose ``LABELS.csv`` has ``fold`` and ``group`` columns (the real
recordings of ``data/realworld``) runs the grouped cross-validation of ``core.learn.crossval``: for
each fold, everything that learns from real clips is fitted without it, then its clips are
predicted through the app's path. It prints one JSON line per clip and the summary, and writes
``realworld_cv`` into ``artifacts/evaluation.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from core.learn import gtzan
from core.serve.artifacts import EVALUATION_FILE
from core.serve.config import GENRES

PREDICTION_FIELDS = ("genre", "probabilities")
LABELS_FILE = "LABELS.csv"


def labelled_files(folder: Path) -> list[tuple[str, str]]:
    """(path relative to ``folder``, genre) of every clip of a labelled folder of audio.

    ``LABELS.csv`` wins when present; otherwise every audio file under a ``<genre>/`` subfolder.
    Genres outside the ten are refused with a plain sentence, since no model could be right.
    """
    import csv

    folder = Path(folder)
    if (folder / LABELS_FILE).exists():
        with open(folder / LABELS_FILE, newline="") as handle:
            rows = [(row["file"], row["genre"].strip().lower()) for row in csv.DictReader(handle)]
    else:
        rows = sorted((str(path.relative_to(folder)), path.relative_to(folder).parts[0].lower())
                      for path in folder.rglob("*")
                      if path.is_file() and path.suffix.lower() in gtzan.AUDIO_SUFFIXES + (".opus", ".oga", ".aifc")
                      and len(path.relative_to(folder).parts) > 1)
    unknown = sorted({genre for _, genre in rows} - set(GENRES))
    if unknown:
        raise ValueError(f"{folder} labels clips with genres the models do not know: {', '.join(unknown)}")
    return rows


def prediction_fields(predictions: dict) -> dict:
    """The per-model part of a record."""
    return {
        name: {
            "genre": prediction.genre,
            "probabilities": {genre: round(float(p), 6) for genre, p in zip(GENRES, prediction.probabilities)},
            "window_genres": [GENRES[i] for i in prediction.window_probabilities.argmax(axis=1)],
        }
        for name, prediction in predictions.items()
    }


def image_pretrained_inputs(classifier, levels: np.ndarray) -> list[np.ndarray] | None:
    """The transfer model's input derived from a spectrogram image, at the calibrated level."""
    head = classifier.transfer_head
    if head is None:
        return None
    from core.serve.representation import levels_to_db
    from core.learn.transfer import image_log_mel

    db = levels_to_db(levels, classifier.config)
    return [image_log_mel(db, head.extra["image_gain"], np.asarray(head.extra["band_gain"]), classifier.config,
                          target_db=head.settings.level_db)]


def with_verdict(classifier, predictions: dict, analysed_s: float) -> dict:
    """The models' predictions and, when the artifacts have its weights, the combined verdict."""
    verdict = classifier.verdict(predictions, analysed_s)
    return predictions | ({verdict.model: verdict} if verdict else {})


def analyse_audio(classifier, path: Path, capture_clip: str | None, gain_db: float = 0.0, rooms: str = "measurement"):
    """Decode a file and classify it through the app's one analysis (``GenreClassifier.analyse``).

    Optionally through the room of ``rooms`` that ``capture_clip`` (the clip's name) falls in first, then
    ``gain_db`` louder (clipped at full scale, as a file would be) or quieter.
    """
    import dataclasses

    from core.serve.audio import decode

    audio = decode(path, classifier.config)
    if capture_clip is not None:
        from core.learn.capture import measurement_capture

        audio = dataclasses.replace(audio, samples=measurement_capture(audio.samples, classifier.config.sample_rate,
                                                                       capture_clip, rooms))
    if gain_db:
        audio = dataclasses.replace(audio, samples=np.clip(audio.samples * np.float32(10 ** (gain_db / 20)), -1, 1))
    return classifier.analyse(audio).outcomes()


def evaluate_folder(classifier, folder: Path, capture: bool = False, on_record=None, gain_db: float = 0.0) -> dict:
    """Classify every file of a labelled folder (calling ``on_record`` with each record) and summarise."""
    records = []
    for relative, genre in labelled_files(folder):
        predictions = analyse_audio(classifier, Path(folder) / relative, relative if capture else None, gain_db)
        record = {"clip": relative, "source": "audio", "label": genre, "models": prediction_fields(predictions)}
        records.append(record)
        if on_record:
            on_record(record)
    return summarise(records) | {"audio_only": True, "capture": capture} | ({"gain_db": gain_db} if gain_db else {})


def predict_clip(classifier, data_dir: Path, clip: str, audio_only: bool, features_table=None,
                 capture: bool = False, gain_db: float = 0.0, rooms: str = "measurement") -> dict | None:
    """Every model's prediction for one clip, or None when the clip has no usable source."""
    image = gtzan.image_path(data_dir, clip)
    if not audio_only and image.exists() and features_table is not None and clip in features_table.index:
        levels = gtzan.read_image_levels(image, classifier.config)
        statistics = features_table.loc[clip, list(classifier.config.baseline_features)].to_numpy(dtype=np.float64)
        predictions = classifier.predict_units([levels], [0.0], [statistics], image_pretrained_inputs(classifier, levels))
        predictions = with_verdict(classifier, predictions, classifier.config.unit_samples / classifier.config.sample_rate)
        source = "image"
    else:
        path = gtzan.find_audio(data_dir, clip, lossless_first=not audio_only)
        if path is None:
            return None
        predictions = analyse_audio(classifier, path, clip if capture else None, gain_db, rooms)
        source = "audio"
    return {"clip": clip, "source": source, "label": gtzan.genre_of(clip), "models": prediction_fields(predictions)}


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


def evaluate(classifier, data_dir: Path, clips: list[str], audio_only: bool = False, on_record=None,
             capture: bool = False, gain_db: float = 0.0, rooms: str = "measurement") -> dict:
    """Predict every clip (calling ``on_record`` with each record) and summarise.

    With ``capture`` (audio only), each clip goes through the room of ``rooms`` its name falls in
    (``core.learn.capture.measurement_capture``: the same room whatever list it is in); with ``gain_db``
    (audio only), every clip is played that much louder or quieter.
    """
    audio_only = audio_only or capture or bool(gain_db)
    has_table = (Path(data_dir) / "features_30_sec.csv").exists()
    table = gtzan.load_features_table(data_dir) if has_table and not audio_only else None
    records = []
    for clip in clips:
        record = predict_clip(classifier, data_dir, clip, audio_only, table, capture, gain_db, rooms)
        if record is None:
            continue
        records.append(record)
        if on_record:
            on_record(record)
    return (summarise(records) | {"audio_only": audio_only, "capture": capture}
            | ({"rooms": rooms} if capture else {}) | ({"gain_db": gain_db} if gain_db else {}))


def write_evaluation(artifacts_dir: Path, data_dir: Path, protocol: str = "filtered", seed: int = 0) -> dict:
    """The once-only evaluation training leaves in ``artifacts/evaluation.json``.

    The whole test list (from the images); the test clips that have audio three times, from their
    images, from their MP3s and from their MP3s played through the measurement rooms (speaker ->
    room -> microphone). The real recordings' cross-validated figure (``realworld_cv``), written
    before by ``write_cross_validation``, is kept.
    """
    from core.serve.inference import GenreClassifier

    classifier = GenreClassifier(artifacts_dir)
    test = gtzan.split_lists(data_dir, protocol, seed)["test"]
    with_audio = [clip for clip in test if gtzan.find_audio(data_dir, clip, lossless_first=False)]
    result = {
        "split": protocol, "list": "test",
        "test": evaluate(classifier, data_dir, test),
        "audio_subset": {
            "clips": with_audio,
            "from_images": evaluate(classifier, data_dir, with_audio),
            "from_mp3": evaluate(classifier, data_dir, with_audio, audio_only=True),
            "captured": evaluate(classifier, data_dir, with_audio, capture=True),
        },
    }
    previous = Path(artifacts_dir) / EVALUATION_FILE
    if previous.exists() and "realworld_cv" in (kept := json.loads(previous.read_text())):
        result["realworld_cv"] = kept["realworld_cv"]      # written by the cross-validation, before the test list
    previous.write_text(json.dumps(result, indent=1) + "\n")
    for name, scores in result["test"]["models"].items():
        print(f"{name}: test clip accuracy {scores['clip_accuracy']:.3f} "
              f"(window {scores['window_accuracy']:.3f}, macro F1 {scores['macro_f1']:.3f}); "
              f"MP3 {result['audio_subset']['from_mp3']['models'][name]['clip_accuracy']:.3f}, "
              f"captured {result['audio_subset']['captured']['models'][name]['clip_accuracy']:.3f}"
              + (f", real world cross-validated {result['realworld_cv']['models'][name]['clip_accuracy']:.3f}"
                 if name in result.get("realworld_cv", {}).get("models", {}) else ""), file=sys.stderr)
    return result
