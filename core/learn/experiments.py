"""The original report's future work, measured under one honest protocol: ``artifacts/experiments.json``.

    python -m core.experiments [--data DIR] [--seeds 0 1 2] [--only NAME ...] [--force] [--quick]

Every trained variant is trained once per seed on the fault-filtered training list, with early
stopping and the best epoch chosen on the validation list, exactly as ``python -m core.train``
trains the served models. Then the first seed's model, and only it, is measured once: exported to
LiteRT and run through the app's own path (``GenreClassifier``) on the test list (images), the test
clips with audio from their MP3s and through the measurement rooms (``core.learn.capture``), and
the real-world recordings (measured only, never trained on).

The CNN+LSTM ensemble averages the two variants' clip probabilities (per seed, from the cache); the
shipped combined verdict and the transfer model are read from what ``python -m core.train`` wrote.
``musicnn_finetuned`` fine-tunes the transfer model's backend (``core.learn.finetune``): its settings
are chosen on validation, its first seed is exported and measured like the others. The file is
rewritten after every variant, and a variant already in it is skipped unless ``--force``, so a
stopped run resumes where it stopped. ``--quick`` trains two epochs on a few clips and measures a
few clips per view: for the tests, never for figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from core.learn import gtzan
from core.learn.models import build_crnn, build_recurrent
from core.serve.artifacts import (ARTIFACTS_DIR, BENCHMARK_FILE, EVALUATION_FILE, EXPERIMENTS_FILE, TRAINING_FILE,
                                  read_json)
from core.serve.config import GENRES, FeatureConfig
from core.serve.catalog import MODEL_NAMES

CACHE_DIR = Path.home() / ".cache" / "genre-lab" / "experiments"
DEFAULT_SEEDS = (0, 1, 2)
VIEWS = ("test", "mp3", "captured", "realworld")
QUICK_CLIPS = 12          # --quick: clips per list and per view
NO_AUGMENTATION = {"noise_levels": 0.0, "freq_masks": 0, "time_masks": 0, "mixup_alpha": 0.0,
                   "capture_probability": 0.0}
UNCENTRED = {"centre_over_time": False}
WITHOUT_RECORDINGS = {"capture_probability": 0.0} | UNCENTRED
PROTOCOL = ("Fault-filtered, artist-conditional split (Kereliuk, Sturm & Larsen 2015). Each variant is trained "
            "once per seed; early stopping and the best epoch are chosen on the validation list (clip accuracy, "
            "from the images). The first seed's model alone is then measured once: test = the 290 test clips "
            "from their images; mp3 = the test clips with audio, decoded from their MP3s; captured = the same "
            "MP3s through simulated speaker -> room -> microphone chains; realworld = labelled recordings from "
            "outside GTZAN, measured only, never trained or tuned on.")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One trained variant: the served model whose input it reads, its network and its settings."""

    name: str
    family: str
    description: str
    reads: str                                  # "cnn": log-mel windows, "lstm": MFCC sequences
    network: str = "served"                     # a key of NETWORKS
    changes: dict = dataclasses.field(default_factory=dict)   # settings changed from the served model's
    shipped: bool = False


NETWORKS = {
    "served": None,                             # build_cnn or build_lstm, as served
    "gru": functools.partial(build_recurrent, cell="gru"),
    "bilstm": functools.partial(build_recurrent, bidirectional=True),
    "lstm_alone": functools.partial(build_recurrent, front_filters=None),
    "crnn": build_crnn,
}
RECURRENT_NETWORKS = ("gru", "bilstm", "lstm_alone", "crnn")

# The LSTM variants below were trained before the shipped LSTM learned from simulated recordings, and
# every variant but the last two before the shipped networks centred their windows over time; they keep
# those settings off, so each definition is what ran (``cnn_centred`` and ``lstm_centred`` are shipped).
TRAINED = (
    Variant("cnn", "CNN", "The CNN on 2.9 s log-mel windows: masks, level noise, mixup and simulated "
            "recordings of the clips with audio (shipped until it centred its windows).", "cnn", changes=UNCENTRED),
    Variant("lstm", "recurrent", "The LSTM without simulated recordings (shipped until they were added): a "
            "convolution over time, then two LSTM layers on 20-MFCC sequences; masks, level noise and mixup.",
            "lstm", changes=WITHOUT_RECORDINGS),
    Variant("gru", "recurrent", "The LSTM without simulated recordings, with GRU cells instead of LSTM cells.",
            "lstm", "gru", changes=WITHOUT_RECORDINGS),
    Variant("bilstm", "recurrent", "The LSTM without simulated recordings, with bidirectional LSTM layers.",
            "lstm", "bilstm", changes=WITHOUT_RECORDINGS),
    Variant("crnn", "CRNN", "A CRNN: three convolution blocks on the log-mel window, then a GRU over time.",
            "cnn", "crnn", changes=UNCENTRED),
    Variant("cnn_no_augmentation", "CNN", "The shipped CNN trained without masks, level noise, mixup or simulated "
            "recordings (random crops kept).", "cnn", changes=NO_AUGMENTATION | UNCENTRED),
    Variant("lstm_no_augmentation", "recurrent", "The shipped LSTM trained without masks, level noise, mixup or "
            "simulated recordings (random crops kept).", "lstm", changes=NO_AUGMENTATION | UNCENTRED),
    Variant("lstm_without_convolution", "recurrent", "The LSTM without simulated recordings and without its "
            "convolution over time (two LSTM layers straight on the MFCCs).", "lstm", "lstm_alone",
            changes=WITHOUT_RECORDINGS),
    Variant("lstm_recorded", "recurrent", "The LSTM: a convolution over time, then two LSTM layers on "
            "20-MFCC sequences; masks, level noise, mixup and simulated recordings (each epoch, half of the clips "
            "with audio replaced by one of their recordings through random speakers and rooms; image-only clips "
            "left clean). Shipped until it centred its windows.", "lstm", changes=UNCENTRED),
    Variant("cnn_centred", "CNN", "The shipped CNN: as cnn, with each mel band's mean over the window removed "
            "first, so a speaker's or a microphone's fixed EQ does not reach it.", "cnn", shipped=True),
    Variant("lstm_centred", "recurrent", "The shipped LSTM: as lstm_recorded, with each MFCC's mean over the "
            "window removed first, so a speaker's or a microphone's fixed EQ does not reach it.", "lstm",
            shipped=True),
)
DEFINITIONS = {variant.name: variant for variant in TRAINED}
ENSEMBLES = {   # name -> (members, description); members are trained variants, averaged per seed
    "cnn_plus_lstm": (("cnn_centred", "lstm_centred"), "The shipped CNN and the shipped LSTM of the same seed, "
                      "clip probabilities averaged."),
}


def log(message: str) -> None:
    print(message, flush=True)


def spread(values: list[float]) -> dict:
    """Mean, standard deviation and range of one variant's per-seed validation accuracy."""
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "min": float(values.min()),
            "max": float(values.max())} if len(values) else {}


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)))


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass
class Material:
    """Everything a run trains and measures on, loaded once."""

    data_dir: Path
    config: FeatureConfig
    train: object
    valid: object
    norm: object
    test: list[str]
    with_audio: list[str]
    realworld: Path | None
    quick: bool
    lists: dict[str, list[str]]


def load_material(data_dir: Path, quick: bool, needs_recordings: bool, seed: int = 0,
                  window_models: bool = True) -> Material:
    """The lists, the views to measure and, for the window models (``window_models``), the loaded splits."""
    from core.learn.realworld import default_realworld_dir
    from core.learn.train import RECORDINGS_PER_CLIP, load_split, record_through_rooms
    from core.serve.inputs import Normalisation

    config = FeatureConfig()
    lists = gtzan.split_lists(data_dir, "filtered", seed)
    if quick:
        lists = {part: clips[::max(1, len(clips) // QUICK_CLIPS)][:QUICK_CLIPS] for part, clips in lists.items()}
    train = valid = norm = None
    if window_models:
        log(f"loading {len(lists['train'])} training and {len(lists['valid'])} validation clips")
        train, valid = load_split(data_dir, lists["train"], config), load_split(data_dir, lists["valid"], config)
        norm = Normalisation.fit(train.db, train.features, config)
    if needs_recordings:
        log(f"recording the training clips with audio through {RECORDINGS_PER_CLIP} random speakers and rooms")
        record_through_rooms(data_dir, train, RECORDINGS_PER_CLIP, seed)
    with_audio = [clip for clip in lists["test"] if gtzan.find_audio(data_dir, clip, lossless_first=False)]
    return Material(data_dir, config, train, valid, norm, lists["test"], with_audio,
                    default_realworld_dir(data_dir), quick, lists)


# ----------------------------------------------------------------------------- measuring through serving
def view_records(classifier, material: Material) -> dict[str, list[dict]]:
    """Every clip's record (``core.learn.evaluate``) on each view, in a fixed order."""
    from core.learn.evaluate import evaluate, evaluate_folder, labelled_files

    records = {view: [] for view in VIEWS}
    evaluate(classifier, material.data_dir, material.test, on_record=records["test"].append)
    evaluate(classifier, material.data_dir, material.with_audio, audio_only=True, on_record=records["mp3"].append)
    evaluate(classifier, material.data_dir, material.with_audio, capture=True, on_record=records["captured"].append)
    if material.realworld is not None and not material.quick:
        evaluate_folder(classifier, material.realworld, on_record=records["realworld"].append)
    elif material.realworld is not None:   # a few files only: a labelled list of the folder's first clips
        with tempfile.TemporaryDirectory(prefix="genre-lab-realworld-") as folder:
            rows = labelled_files(material.realworld)[:QUICK_CLIPS // 3]
            (Path(folder) / "LABELS.csv").write_text("file,genre\n" + "".join(
                f"{(material.realworld / name).resolve()},{genre}\n" for name, genre in rows))
            evaluate_folder(classifier, Path(folder), on_record=records["realworld"].append)
    return records


def probabilities_of(records: list[dict], name: str) -> np.ndarray:
    return np.array([[record["models"][name]["probabilities"][genre] for genre in GENRES] for record in records])


def labels_of(records: list[dict]) -> np.ndarray:
    return np.array([GENRES.index(record["label"]) for record in records])


def model_ms(classifier, name: str, repeats: int = 5) -> float:
    """The model's own time on a 30 s clip (median of ``repeats``), without decoding and the shared features."""
    from core.serve.audio import decode
    from core.serve.examples import example_clips

    audio = decode(example_clips()[0].path, classifier.config)
    return float(np.median([classifier.analyse(audio).predictions[name].seconds for _ in range(repeats)]) * 1000)


def measure(model, reads: str, recurrent: bool, material: Material) -> tuple[dict, dict]:
    """Export ``model`` in the slot of the served model whose input it reads and measure it like the app.

    Returns the accuracy per view and the clip probabilities per view (for the ensembles).
    """
    from core.learn.export import LSTM_BATCH, to_litert
    from core.serve.artifacts import FEATURE_CONFIG_FILE, NORMALISATION_FILE
    from core.serve.inference import GenreClassifier

    with tempfile.TemporaryDirectory(prefix="genre-lab-variant-") as folder:
        folder = Path(folder)
        material.config.save(folder / FEATURE_CONFIG_FILE)
        material.norm.save(folder / NORMALISATION_FILE)
        to_litert(model, folder / f"{reads}.tflite", LSTM_BATCH if recurrent or reads == "lstm" else None)
        classifier = GenreClassifier(folder)
        records = view_records(classifier, material)
        ms = model_ms(classifier, reads)
    probabilities = {view: probabilities_of(rows, reads) for view, rows in records.items() if rows}
    labels = {view: labels_of(rows) for view, rows in records.items() if rows}
    return {view: accuracy(probabilities[view], labels[view]) for view in probabilities} | {"ms_per_clip": ms}, \
        {"probabilities": probabilities, "labels": labels}


# ----------------------------------------------------------------------------- variants
def run_variant(variant: Variant, material: Material, seeds: list[int], epochs: int | None) -> tuple[dict, dict]:
    """Train ``variant`` with every seed, measure the first seed's model; the JSON entry and the cache."""
    from core.learn.train import clip_scores, clip_windows, model_input, model_settings, train_window_model

    settings = dataclasses.replace(model_settings(epochs)[variant.reads], **variant.changes)
    build = NETWORKS[variant.network]
    valid_accuracy, seconds, valid_probabilities, first = [], [], [], None
    windows, owners = clip_windows(material.valid, material.config)
    for seed in seeds:
        log(f"{variant.name}: seed {seed}")
        started = time.perf_counter()
        model, _, best = train_window_model(variant.reads, material.train, material.valid, material.norm,
                                            material.config, settings, seed, build)
        seconds.append(time.perf_counter() - started)
        valid_accuracy.append(best["val_clip_accuracy"])
        scores = model.predict(model_input(variant.reads, windows, material.norm, material.config), batch_size=256,
                               verbose=0)
        valid_probabilities.append(clip_scores(scores, owners, len(material.valid.clips)))
        if first is None:
            first = model
    measured, cache = measure(first, variant.reads, variant.network in RECURRENT_NETWORKS, material)
    entry = {
        "name": variant.name, "family": variant.family, "description": variant.description,
        "seeds": list(seeds), "valid_accuracy": valid_accuracy, "valid": spread(valid_accuracy),
        "test_accuracy": measured.get("test"), "mp3_accuracy": measured.get("mp3"),
        "mic_accuracy": measured.get("captured"), "realworld_dev_accuracy": measured.get("realworld"),
        "parameters": int(first.count_params()), "ms_per_clip": measured["ms_per_clip"],
        "training_seconds": float(np.mean(seconds)), "shipped": variant.shipped,
        "settings": dataclasses.asdict(settings), "network": variant.network, "reads": variant.reads,
    }
    cache |= {"valid": np.stack(valid_probabilities), "valid_labels": material.valid.labels}
    return entry, cache


FINETUNED = "musicnn_finetuned"


def finetuned_entry(material: Material, seeds: list[int], artifacts_dir: Path, cache_dir: Path) -> dict:
    """Fine-tune the transfer model's backend (settings chosen on validation); measure the first seed's model."""
    import shutil

    from core.learn.finetune import FINETUNE_GRID, FinetuneSettings, choose_finetuning
    from core.learn.musicnn_port import serving_model, to_litert
    from core.learn.transfer import tagger_parameters
    from core.serve.artifacts import FEATURE_CONFIG_FILE, HEAD_FILE, NORMALISATION_FILE, TAGGER_DESCRIPTION_FILE, TAGGER_FILE
    from core.serve.inference import GenreClassifier
    from core.serve.pretrained import TransferHead

    trained = read_json(TRAINING_FILE, artifacts_dir)
    record = trained["models"]["musicnn"]
    grid = (FinetuneSettings(epochs=2),) if material.quick else FINETUNE_GRID
    result = choose_finetuning(material.data_dir, material.lists, record, trained["seed"], seeds, cache_dir, grid,
                               artifacts_dir, log)
    chosen = result["trials"][result["chosen"]]
    port, head = result["first_seed"]
    shipped_head = TransferHead.load(Path(artifacts_dir) / HEAD_FILE)
    with tempfile.TemporaryDirectory(prefix="genre-lab-finetuned-") as folder:
        folder = Path(folder)
        for name in (FEATURE_CONFIG_FILE, NORMALISATION_FILE, TAGGER_DESCRIPTION_FILE):
            shutil.copyfile(Path(artifacts_dir) / name, folder / name)
        to_litert(serving_model(port), folder / TAGGER_FILE, "float32")
        dataclasses.replace(head, extra=shipped_head.extra | {"trained_on": "training list"}).save(folder / HEAD_FILE)
        classifier = GenreClassifier(folder)
        records = view_records(classifier, material)
        ms = model_ms(classifier, "musicnn")
    measured = {view: accuracy(probabilities_of(rows, "musicnn"), labels_of(rows)) for view, rows in records.items()
                if rows}
    views = lambda scores: " / ".join(f"{100 * value:.1f}" for value in scores.values())  # noqa: E731
    best_valid = [run["valid"] for run in chosen["runs"]]
    mean_views = {view: float(np.mean([scores[view] for scores in best_valid])) for view in best_valid[0]}
    valid_accuracy = [scores.get("images", run["mean"]) for scores, run in zip(best_valid, chosen["runs"])]
    settings = chosen["settings"]
    return {
        "name": FINETUNED, "family": "transfer", "shipped": False, "seeds": list(seeds),
        "description": (
            "musicnn's backend fine-tuned on GTZAN: its two dense layers (pooled features -> 200 -> 50 tags) and "
            "the genre head trained together from the frozen model, pulled towards the pretrained weights (L2-SP), "
            f"dropout on the pools; pull {settings['pull']:g} and learning rate {settings['learning_rate']:g} chosen "
            f"on validation from {len(grid)} settings. Validation {' / '.join(mean_views)}: "
            f"{views(mean_views)}% (mean of {len(seeds)} seeds) against the frozen head's "
            f"{views(result['frozen_valid'])}% on the same patches."),
        "valid_accuracy": valid_accuracy, "valid": spread(valid_accuracy),
        "valid_views": mean_views, "frozen_valid_views": result["frozen_valid"],
        "test_accuracy": measured.get("test"), "mp3_accuracy": measured.get("mp3"),
        "mic_accuracy": measured.get("captured"), "realworld_dev_accuracy": measured.get("realworld"),
        "parameters": tagger_parameters() + int(head.weights.size + head.bias.size), "ms_per_clip": ms,
        "training_seconds": float(np.mean([run["seconds"] for run in chosen["runs"]])), "settings": settings,
        "grid": [{"settings": trial["settings"], "mean": trial["mean"],
                  "runs": [{key: run[key] for key in ("seed", "best_epoch", "valid", "mean", "seconds")}
                           for run in trial["runs"]]}
                 for trial in result["trials"]],
    }


def ensemble_entry(name: str, members: tuple[str, ...], description: str, entries: dict, caches: dict) -> dict:
    """Average the members' clip probabilities: per seed on validation, the first seed's on every view."""
    valid = np.mean([caches[member]["valid"] for member in members], axis=0)
    labels = caches[members[0]]["valid_labels"]
    valid_accuracy = [accuracy(per_seed, labels) for per_seed in valid]
    views = {view: accuracy(np.mean([caches[member]["probabilities"][view] for member in members], axis=0),
                            caches[members[0]]["labels"][view])
             for view in caches[members[0]]["probabilities"]}
    return {
        "name": name, "family": "ensemble", "description": description, "members": list(members),
        "seeds": entries[members[0]]["seeds"], "valid_accuracy": valid_accuracy, "valid": spread(valid_accuracy),
        "test_accuracy": views.get("test"), "mp3_accuracy": views.get("mp3"), "mic_accuracy": views.get("captured"),
        "realworld_dev_accuracy": views.get("realworld"),
        "parameters": sum(entries[member]["parameters"] for member in members),
        "ms_per_clip": sum(entries[member]["ms_per_clip"] for member in members),
        "training_seconds": sum(entries[member]["training_seconds"] for member in members), "shipped": False,
    }


def verdict_valid(verdict: dict) -> float:
    """The verdict's validation figure: from the images when it was chosen on them, else its mean over the views."""
    return verdict["valid"].get("images", verdict.get("valid_mean"))


def shipped_entries(artifacts_dir: Path) -> list[dict]:
    """The transfer model and the combined verdict as ``python -m core.train`` chose and measured them.

    Both are deterministic given the data (a logistic regression, a weight grid), so they have one
    validation figure; their test figures are those of ``evaluation.json``, measured once.
    """
    trained, scores, speed = (read_json(TRAINING_FILE, artifacts_dir), read_json(EVALUATION_FILE, artifacts_dir),
                              read_json(BENCHMARK_FILE, artifacts_dir))
    if not trained or not scores:
        return []

    def measured(name: str) -> dict:
        subset = scores.get("audio_subset", {})
        pick = lambda view: (view or {}).get("models", {}).get(name, {}).get("clip_accuracy")  # noqa: E731
        return {"test_accuracy": pick(scores.get("test")), "mp3_accuracy": pick(subset.get("from_mp3")),
                "mic_accuracy": pick(subset.get("captured")), "realworld_dev_accuracy": pick(scores.get("realworld"))}

    per_model_ms = (speed or {}).get("ours", {}).get("per_model_ms", {})
    entries = []
    transfer = trained["models"].get("musicnn")
    if transfer:
        entries.append({
            "name": "musicnn_frozen", "family": "transfer", "shipped": True, "seeds": [trained["seed"]],
            "description": "The shipped transfer model: musicnn's MSD tagger, frozen, with a logistic-regression "
                           "genre head on its tags and penultimate layer (deterministic: one validation figure).",
            "valid_accuracy": [transfer["best_val_clip_accuracy"]], "valid": spread([transfer["best_val_clip_accuracy"]]),
            **measured("musicnn"), "parameters": transfer["parameters"], "ms_per_clip": per_model_ms.get("musicnn"),
            "training_seconds": transfer["training_seconds"]})
    verdict = trained.get("verdict")
    if verdict:
        members = [name for name in MODEL_NAMES if verdict["weights"].get(name)]
        entries.append({
            "name": "shipped_verdict", "family": "ensemble", "shipped": True, "seeds": [trained["seed"]],
            "members": members,
            "description": "The shipped combined verdict: the served models' probabilities averaged with weights "
                           "chosen on the validation list (" + ", ".join(
                               f"{name} {verdict['weights'][name]:.1f}" for name in members) + ").",
            # The real-music verdict was chosen on GTZAN's validation audio: its mean over those views.
            "valid_accuracy": [verdict_valid(verdict)], "valid": spread([verdict_valid(verdict)]),
            **measured("verdict"),
            "parameters": sum(trained["models"][name]["parameters"] for name in members if name in trained["models"]),
            "ms_per_clip": sum(per_model_ms.get(name, 0.0) for name in members) or None,
            "training_seconds": sum(trained["models"][name]["training_seconds"] for name in members
                                    if name in trained["models"])})
    return entries


# ----------------------------------------------------------------------------- the file
def read_experiments(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"variants": []}


def entries_in(path: Path) -> dict[str, dict]:
    """The file's variants by name."""
    return {entry["name"]: entry for entry in read_experiments(path)["variants"]}


def described(entry: dict) -> dict:
    """A trained variant's entry with its family, description and shipped flag as defined now.

    The measurements stay as they were run; the words follow the definitions, which reproduce
    those runs (e.g. the LSTM variants that keep simulated recordings off once the shipped LSTM had them).
    """
    variant = DEFINITIONS.get(entry["name"])
    return entry if variant is None else entry | {"family": variant.family, "description": variant.description,
                                                  "shipped": variant.shipped}


def write_experiments(path: Path, variants: list[dict], seeds: list[int], quick: bool) -> None:
    planned = [variant.name for variant in TRAINED] + list(ENSEMBLES) + ["musicnn_frozen", FINETUNED, "shipped_verdict"]
    order = {name: index for index, name in enumerate(planned)}
    document = {
        "protocol": PROTOCOL, "split": "filtered", "seeds": list(seeds), "quick": quick,
        "measured_with": "the first seed's model, exported to LiteRT and run by core.serve.inference",
        "planned": planned, "written_by": "python -m core.experiments",
        "variants": sorted(map(described, variants), key=lambda entry: order.get(entry["name"], len(order))),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")


def cache_path(cache_dir: Path, name: str, quick: bool) -> Path:
    return cache_dir / f"{name}{'-quick' if quick else ''}.npz"


def save_cache(path: Path, cache: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {"valid": cache["valid"], "valid_labels": cache["valid_labels"]}
    flat |= {f"probabilities/{view}": value for view, value in cache["probabilities"].items()}
    flat |= {f"labels/{view}": value for view, value in cache["labels"].items()}
    np.savez_compressed(path, **flat)


def load_cache(path: Path) -> dict | None:
    if not path.exists():
        return None
    with np.load(path) as stored:
        cache = {"valid": stored["valid"], "valid_labels": stored["valid_labels"], "probabilities": {}, "labels": {}}
        for key in stored.files:
            if "/" in key:
                kind, view = key.split("/")
                cache[kind][view] = stored[key]
    return cache


def run(data_dir: Path, out: Path, seeds: list[int], only: list[str] | None = None, force: bool = False,
        quick: bool = False, artifacts_dir: Path = ARTIFACTS_DIR, cache_dir: Path = CACHE_DIR) -> dict:
    """Train and measure every variant not yet in ``out`` (all of ``only`` with ``force``); return the file."""
    epochs = 2 if quick else None
    # What core.train chose and measured is in the file from the start.
    shipped = {} if quick else {entry["name"]: entry for entry in shipped_entries(artifacts_dir)}
    entries = entries_in(out) | shipped
    wanted = [variant for variant in TRAINED if (only is None or variant.name in only)
              and (force or variant.name not in entries)]
    finetuning = ((only is None or FINETUNED in only) and (force or FINETUNED not in entries)
                  and "musicnn" in (read_json(TRAINING_FILE, artifacts_dir) or {}).get("models", {}))
    material = None
    if wanted or finetuning:
        from core.learn.train import model_settings

        needs_recordings = any(dataclasses.replace(model_settings(epochs)[variant.reads], **variant.changes)
                               .capture_probability > 0 for variant in wanted)
        material = load_material(data_dir, quick, needs_recordings, window_models=bool(wanted))
    for index, variant in enumerate(wanted, 1):
        started = time.perf_counter()
        log(f"[{index}/{len(wanted)}] {variant.name}: {variant.description}")
        entry, cache = run_variant(variant, material, seeds, epochs)
        save_cache(cache_path(cache_dir, variant.name, quick), cache)
        # Read the file again first: another run (``--only`` other variants) may have written to it meanwhile.
        entries = entries_in(out) | shipped | {variant.name: entry}
        write_experiments(out, list(entries.values()), seeds, quick)
        log(f"[{index}/{len(wanted)}] {variant.name}: validation {entry['valid']['mean']:.3f} "
            f"± {entry['valid']['std']:.3f}, test {entry['test_accuracy']:.3f}, "
            f"{time.perf_counter() - started:.0f} s")
    if finetuning:
        started = time.perf_counter()
        log(f"{FINETUNED}: fine-tuning the transfer model's backend")
        entry = finetuned_entry(material, seeds, artifacts_dir, cache_dir / "transfer")
        write_experiments(out, list((entries_in(out) | shipped | {FINETUNED: entry}).values()), seeds, quick)
        log(f"{FINETUNED}: validation {entry['valid']['mean']:.3f} ± {entry['valid']['std']:.3f}, "
            f"test {entry['test_accuracy']:.3f}, {time.perf_counter() - started:.0f} s")
    entries = entries_in(out) | shipped
    for name, (members, description) in ENSEMBLES.items():
        caches = {member: load_cache(cache_path(cache_dir, member, quick)) for member in members}
        if all(caches.values()) and all(member in entries for member in members):
            entries[name] = ensemble_entry(name, members, description, entries, caches)
    write_experiments(out, list(entries.values()), seeds, quick)
    return read_experiments(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir(), help="GTZAN data folder")
    parser.add_argument("--out", type=Path, default=ARTIFACTS_DIR / EXPERIMENTS_FILE)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--only", nargs="+", choices=[variant.name for variant in TRAINED] + [FINETUNED], default=None)
    parser.add_argument("--force", action="store_true", help="train again variants already in --out")
    parser.add_argument("--quick", action="store_true", help="two epochs on a few clips (for the tests)")
    args = parser.parse_args(argv)
    if args.data is None or not (Path(args.data) / "splits").is_dir():
        parser.error("no GTZAN data folder with splits/: pass --data DIR or set GENRE_LAB_DATA")
    if len(args.seeds) < 3 and not args.quick:
        parser.error("the protocol needs at least three seeds")
    document = run(args.data, args.out, args.seeds, args.only, args.force, args.quick)
    log(f"wrote {args.out}: {len(document['variants'])} variants")
    return 0
