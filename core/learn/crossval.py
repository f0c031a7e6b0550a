"""Learn real music: grouped cross-validation on real recordings, then the shipped models refitted.

    python -m core.evaluate --data ../shared/data/realworld --cross-validate

For every fold k of ``data/realworld`` (an artist or collection never spans two folds), everything
that learns from real clips is fitted without fold k, and fold k is then predicted through the
app's own serving path (``GenreClassifier`` on a folder of that fold's artifacts):

- the transfer head, on GTZAN's training list and the real clips of the other folds (each also
  heard through simulated devices), with what it reads, its regularisation, how it uses the genre
  tags and how much a real clip weighs chosen by leave-one-fold-out inside those folds together with
  GTZAN's validation clips (``core.learn.realhead``);
- the CNN and the LSTM, fine-tuned from their GTZAN-only networks (``artifacts/<name>.gtzan.keras``,
  which never saw a real clip) on GTZAN's training list plus the other folds' real clips (clean and
  through simulated devices), the epoch kept by GTZAN's validation list;
- the verdict's weights, chosen on GTZAN's validation views of those models together with the
  out-of-fold predictions of the other folds (``VERDICT_REAL_SHARE``).

``refit_shipped`` then makes the same choices on all five folds and refits the shipped models on
GTZAN plus every real clip. The feature baseline does not learn from real clips.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from core.learn import audit, gtzan, realhead, realworld
from core.learn.realworld import RealClip
from core.serve.artifacts import (EVALUATION_FILE, FEATURE_CONFIG_FILE, GTZAN_STAGE_FILE, HEAD_FILE, NORMALISATION_FILE,
                                  TAGGER_DESCRIPTION_FILE, TAGGER_FILE, MTT_TAGGER_FILE, VERDICT_FILE)
from core.serve.config import GENRES, FeatureConfig

CACHE_DIR = Path.home() / ".cache" / "genre-lab" / "crossval"
# musicnn patches per 30 s the app hears (about 33 ms each on two cores): three keep every model
# together within the 250 ms warm budget (python -m core.bench).
SERVING_PATCHES = 3
# How the verdict's weights are chosen: this share of the score is the real clips' out-of-fold
# accuracy, the rest the mean over GTZAN's validation views of audio (a user's clip is never a
# spectrogram image: with the images view as well, the first run leant on the CNN, which reads GTZAN's
# images best, and the verdict fell below the transfer model on the real clips).
VERDICT_REAL_SHARE = 0.5
VERDICT_VALID_VIEWS = ("audio", "audio measured")
WINDOW_MODELS = ("cnn", "lstm")
FINE_TUNE_EPOCHS = 6
FINE_TUNE_LEARNING_RATE = 3e-4
REAL_REPEATS = 2            # each real clip of the training folds appears this many times per epoch
REAL_RECORDINGS = 3         # simulated recordings of each real clip for the window models
CACHE_VERSION = 1                # bump when the window models' fine-tuning changes
# Bump when how a fold chooses its head or verdict changes: its answers are recomputed, its window
# models (in the same folder) are kept.
FOLD_VERSION = 3


def has_mtt(artifacts: Path) -> bool:
    return (Path(artifacts) / MTT_TAGGER_FILE).exists()


def work_folder(artifacts: Path, clips: list[RealClip], seed: int) -> Path:
    """Where the folds' models and predictions are kept (a stopped run resumes), keyed by everything they
    depend on: the GTZAN-stage networks, the tagger, the clips, the seed and the settings here."""
    inputs = [Path(artifacts) / GTZAN_STAGE_FILE.format(kind) for kind in WINDOW_MODELS] + [Path(artifacts) / TAGGER_FILE]
    key = _digest(*[path.read_bytes() for path in inputs if path.exists()], [dataclasses.asdict(c) for c in clips], seed,
                  SERVING_PATCHES, VERDICT_REAL_SHARE, FINE_TUNE_EPOCHS, FINE_TUNE_LEARNING_RATE, REAL_REPEATS,
                  REAL_RECORDINGS, CACHE_VERSION)
    return CACHE_DIR / key


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- the transfer head's data
@dataclasses.dataclass
class HeadData:
    """Clip rows of GTZAN (training list, and validation list for the final refit) and of the real clips."""

    gtzan_train: realhead.ClipRows
    gtzan_valid: realhead.ClipRows
    real: realhead.ClipRows
    folds: np.ndarray                 # fold of each real row
    tags: list[str]
    calibration: object               # core.learn.transfer.Calibration of the image-derived inputs
    fitted: dict = dataclasses.field(default_factory=dict)   # heads fitted so far (``realhead.FoldHeads``)

    @property
    def heads(self) -> realhead.FoldHeads:
        return realhead.FoldHeads(self.gtzan_train, self.real, self.folds, self.tags, self.fitted, self.gtzan_valid)

    @property
    def level_db(self) -> float | None:
        return self.calibration.level_db


def _digest(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, default=str).encode())
    return digest.hexdigest()[:16]


def head_data(artifacts: Path, gtzan_dir: Path, real_dir: Path, clips: list[RealClip], seed: int,
              with_mtt: bool = False, cache_dir: Path | None = CACHE_DIR) -> HeadData:
    """Every tagger output the heads learn from: GTZAN's tables (cached by ``core.learn.transfer``) and
    the real clips' (cached here), reduced to one row per version of a clip."""
    from core.learn.transfer import CACHE_DIR as TRANSFER_CACHE, PatchTable, TransferData, transfer_tables

    lists = gtzan.split_lists(gtzan_dir, "filtered", seed)
    taggers = {"msd": Path(artifacts) / TAGGER_FILE} | ({"mtt": Path(artifacts) / MTT_TAGGER_FILE} if with_mtt else {})
    gtzan_tables = {}
    calibration = None
    for name, path in taggers.items():
        gtzan_tables[name], calibration = transfer_tables(gtzan_dir, lists, path, seed, TransferData(),
                                                          TRANSFER_CACHE if cache_dir else None, log)
    # One file per tagger: every tagger reads the same patches of the same seeded versions of a clip.
    paths = {name: Path(cache_dir or "/nonexistent") / "real-{}-{}.npz".format(name, _digest(
        path.read_bytes(), [dataclasses.asdict(c) for c in clips], calibration.level_db, seed,
        realworld.CAPTURES_PER_CLIP)) for name, path in taggers.items()}
    missing = {name: taggers[name] for name, path in paths.items() if not (cache_dir and path.exists())}
    real_tables = realworld.tagger_tables(real_dir, clips, missing, calibration.level_db, seed, log=log) if missing else {}
    for name, table in real_tables.items():
        if cache_dir:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            table.save(paths[name])
    real_tables |= {name: PatchTable.load(path) for name, path in paths.items() if name not in real_tables}

    def rows(part: str) -> realhead.ClipRows:
        return realhead.clip_rows({name: tables[part] for name, tables in gtzan_tables.items()}, SERVING_PATCHES)

    real = realhead.clip_rows(real_tables, SERVING_PATCHES)
    fold_of = {clip.file: clip.fold for clip in clips}
    tags = json.loads((Path(artifacts) / TAGGER_DESCRIPTION_FILE).read_text())["tags"]
    return HeadData(rows("train"), rows("valid"), real, np.array([fold_of[clip] for clip in real.clips]), tags,
                    calibration)


def fit_fold_head(data: HeadData, choice: realhead.HeadChoice, folds: list[int], with_valid: bool = False):
    """The serving head of ``choice`` fitted on GTZAN (training list, and validation with ``with_valid``)
    and the real clips of ``folds``."""
    gtzan_rows = realhead.concatenate_rows(data.gtzan_train, data.gtzan_valid) if with_valid else data.gtzan_train
    return realhead.fit_clip_head(gtzan_rows, data.real.subset(np.isin(data.folds, folds)), choice, data.tags,
                                  SERVING_PATCHES, data.level_db)


# ----------------------------------------------------------------------------- the window models
def real_split(real_dir: Path, clips: list[RealClip], seed: int, config: FeatureConfig = FeatureConfig()):
    """The real clips as a training ``Split`` (levels from the audio, as the app computes them) with
    ``REAL_RECORDINGS`` simulated recordings of each."""
    from core.learn.capture import capture, random_capture
    from core.learn.train import Split
    from core.serve.representation import levels_to_db, unit_levels

    levels, recorded = [], {}
    for index, clip in enumerate(clips):
        samples = realworld.decode_clip(real_dir, clip, config)[:config.unit_samples]
        rng = realworld.clip_rng(seed + 1, clip.file)
        levels.append(unit_levels(samples, config))
        recorded[index] = [levels_to_db(unit_levels(capture(samples, config.sample_rate, random_capture(rng), rng),
                                                    config), config) for _ in range(REAL_RECORDINGS)]
    n_features = len(config.baseline_features)
    return Split([clip.file for clip in clips], levels, np.zeros((len(clips), n_features)), config, recorded)


def combined_split(first, second, repeats: int):
    """``first`` followed by ``repeats`` copies of ``second`` (recordings re-indexed)."""
    from core.learn.train import Split

    clips, levels, recorded = list(first.clips), list(first.levels), dict(first.recorded)
    for _ in range(repeats):
        offset = len(clips)
        clips += second.clips
        levels += second.levels
        recorded |= {offset + index: value for index, value in second.recorded.items()}
    return Split(clips, levels, np.zeros((len(clips), first.features.shape[1])), first.config, recorded)


def fine_tune(kind: str, artifacts: Path, train, valid, norm, config: FeatureConfig, seed: int, out: Path):
    """Fine-tune the GTZAN-only ``kind`` network on ``train`` (GTZAN plus real clips); export it to ``out``."""
    import keras

    from core.learn.export import export_model
    from core.learn.train import model_settings, train_window_model

    settings = dataclasses.replace(model_settings(None)[kind], max_epochs=FINE_TUNE_EPOCHS, patience=FINE_TUNE_EPOCHS,
                                   learning_rate=FINE_TUNE_LEARNING_RATE)

    def start(_config, _settings):
        model = keras.models.load_model(Path(artifacts) / GTZAN_STAGE_FILE.format(kind))
        model.optimizer.learning_rate.assign(settings.learning_rate)
        return model

    model, history, best = train_window_model(kind, train, valid, norm, config, settings, seed, build=start)
    export_model(kind, model, out)
    return model, {"best_epoch": best["epoch"], "best_val_clip_accuracy": best["val_clip_accuracy"],
                   "history": history, "settings": dataclasses.asdict(settings)}


# ----------------------------------------------------------------------------- fold artifacts
def prepare_folder(artifacts: Path, folder: Path) -> Path:
    """A serving folder holding the shipped artifacts that do not learn from real clips."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (FEATURE_CONFIG_FILE, NORMALISATION_FILE, TAGGER_FILE, TAGGER_DESCRIPTION_FILE, "baseline.tflite"):
        if (Path(artifacts) / name).exists():
            shutil.copyfile(Path(artifacts) / name, folder / name)
    (folder / VERDICT_FILE).unlink(missing_ok=True)
    return folder


def serving_records(folder: Path, real_dir: Path, clips: list[RealClip]) -> list[dict]:
    """Every clip through the app's own path with the artifacts of ``folder``."""
    from core.learn.evaluate import analyse_audio, prediction_fields
    from core.serve.inference import GenreClassifier

    classifier = GenreClassifier(folder)
    return [{"clip": clip.file, "source": "audio", "label": clip.genre, "fold": clip.fold, "group": clip.group,
             "confidence": clip.confidence,
             "models": prediction_fields(analyse_audio(classifier, Path(real_dir) / clip.file, None))}
            for clip in clips]


def probability_matrix(records: list[dict], name: str) -> np.ndarray:
    return np.array([[record["models"][name]["probabilities"][genre] for genre in GENRES] for record in records])


def choose_verdict(valid_views: dict, real_records: list[dict]) -> dict:
    """Verdict weights on GTZAN's validation audio (``VERDICT_VALID_VIEWS``) and the real clips' out-of-fold
    predictions, weighed ``1 - VERDICT_REAL_SHARE`` to ``VERDICT_REAL_SHARE``."""
    from core.learn.verdict import accuracy, weight_grid

    audit.chose_on("real-world verdict", (record["clip"] for record in real_records))
    views = {view: data for view, data in valid_views.items() if view in VERDICT_VALID_VIEWS}
    names = list(next(iter(views.values()))["models"])
    real = {"labels": np.array([GENRES.index(record["label"]) for record in real_records]),
            "models": {name: probability_matrix(real_records, name) for name in names}}

    def score(weights):
        gtzan_mean = float(np.mean([accuracy(weights, view) for view in views.values()]))
        return (1 - VERDICT_REAL_SHARE) * gtzan_mean + VERDICT_REAL_SHARE * accuracy(weights, real), gtzan_mean

    scored = [(score(weights), weights) for weights in weight_grid(names)]
    (best, gtzan_mean), weights = max(scored, key=lambda item: item[0][0])
    return {"weights": {name: round(value, 3) for name, value in weights.items()}, "score": best,
            "valid_mean": gtzan_mean, "real_oof": accuracy(weights, real), "real_clips": len(real_records),
            "valid": {view: accuracy(weights, data) for view, data in views.items()},
            "grid_step": 0.1, "weightings_tried": len(scored), "real_share": VERDICT_REAL_SHARE,
            "protocol": f"weighted average of clip probabilities; weights chosen by {1 - VERDICT_REAL_SHARE:g} x the "
                        "mean accuracy over GTZAN's validation clips with audio (MP3s, tuning rooms) + "
                        f"{VERDICT_REAL_SHARE:g} x the real recordings' out-of-fold accuracy"}


# ----------------------------------------------------------------------------- one fold
@dataclasses.dataclass
class Context:
    """What every fold shares: the folders, the data that does not depend on the fold, the settings."""

    artifacts: Path
    gtzan_dir: Path
    real_dir: Path
    clips: list[RealClip]
    seed: int
    work: Path

    @property
    def folds(self) -> list[int]:
        return sorted({clip.fold for clip in self.clips})

    @functools.cached_property
    def gtzan_windows(self):
        """GTZAN's training and validation splits (with recordings) and the normalisation the models read."""
        return _window_data(self)

    @functools.cached_property
    def real_windows(self):
        """Every real clip as a training split, with its simulated recordings."""
        return real_split(self.real_dir, self.clips, self.seed)


def _window_data(context: Context):
    """GTZAN's training and validation splits (with recordings) and the normalisation the models read."""
    from core.learn.train import RECORDINGS_PER_CLIP, load_split, record_through_rooms
    from core.serve.inputs import Normalisation

    config = FeatureConfig.load(Path(context.artifacts) / FEATURE_CONFIG_FILE)
    lists = gtzan.split_lists(context.gtzan_dir, "filtered", context.seed)
    train, valid = load_split(context.gtzan_dir, lists["train"], config), load_split(context.gtzan_dir, lists["valid"], config)
    record_through_rooms(context.gtzan_dir, train, RECORDINGS_PER_CLIP, context.seed)
    norm = Normalisation.load(Path(context.artifacts) / NORMALISATION_FILE)
    return config, train, valid, norm


def save_head(head, data: HeadData, path: Path, trained_on: str, choice: realhead.HeadChoice) -> None:
    """Write a serving head with what the app and the image-derived evaluation need beside it."""
    from core.serve.pretrained import TransferHead

    extra = {"image_gain": float(np.median(data.calibration.gains)), "band_gain": data.calibration.band_gain.tolist(),
             "tags": data.tags, "trained_on": trained_on, "choice": dataclasses.asdict(choice)}
    TransferHead(head.settings, head.mean, head.std, head.weights, head.bias, extra, head.anchor_weights).save(path)


def valid_views(folder: Path, gtzan_dir: Path) -> dict:
    """GTZAN's validation views (images, MP3s, measurement rooms) of the models in ``folder``."""
    from core.learn.verdict import view_probabilities
    from core.serve.inference import GenreClassifier

    clips = gtzan.read_split(gtzan_dir, "valid")
    return view_probabilities(GenreClassifier(folder), gtzan_dir, clips)


def _save_views(views: dict, path: Path) -> None:
    np.savez(path, **{f"{view}|labels": data["labels"] for view, data in views.items()},
             **{f"{view}|{name}": value for view, data in views.items() for name, value in data["models"].items()})


def _load_views(path: Path) -> dict:
    values = np.load(path)
    views: dict = {}
    for key in values.files:
        view, name = key.split("|")
        entry = views.setdefault(view, {"models": {}})
        if name == "labels":
            entry["labels"] = values[key]
        else:
            entry["models"][name] = values[key]
    return views


def window_models(context: Context, folds: list[int], folder: Path) -> dict:
    """The CNN and the LSTM fine-tuned on GTZAN and the real clips of ``folds``, into ``folder`` (kept there:
    a second run, or another process that made them first, reads them back)."""
    record = {}
    for kind in WINDOW_MODELS:
        done = folder / f"{kind}.fine-tuned.json"
        if done.exists() and (folder / f"{kind}.tflite").exists():
            record[kind] = json.loads(done.read_text())
            continue
        config, train, valid, norm = context.gtzan_windows
        real = context.real_windows
        keep = [index for index, clip in enumerate(context.clips) if clip.fold in folds]
        real_train = dataclasses.replace(real, clips=[real.clips[i] for i in keep], levels=[real.levels[i] for i in keep],
                                         features=real.features[keep],
                                         recorded={new: real.recorded[old] for new, old in enumerate(keep)})
        log(f"  fine-tuning the {kind} on {len(train.clips)} GTZAN clips and {len(keep)} real clips (folds {folds}) "
            f"x {REAL_REPEATS}")
        folder.mkdir(parents=True, exist_ok=True)
        model, record[kind] = fine_tune(kind, context.artifacts, combined_split(train, real_train, REAL_REPEATS), valid,
                                        norm, config, context.seed, folder)
        model.save(folder / f"{kind}.keras")
        done.write_text(json.dumps(record[kind]) + "\n")
    return record


def fine_tune_every_fold(context: Context) -> None:
    """Every fold's window models and the shipped ones (they do not depend on the head: can run first)."""
    for fold in context.folds:
        window_models(context, [other for other in context.folds if other != fold], context.work / f"fold{fold}")
    window_models(context, context.folds, context.work / "all")


def train_models(context: Context, data: HeadData, choice: realhead.HeadChoice, folds: list[int], folder: Path) -> dict:
    """The transfer head and the window models that learn from the real clips of ``folds``, into ``folder``."""
    head = fit_fold_head(data, choice, folds)
    save_head(head, data, folder / HEAD_FILE, f"GTZAN training list and real folds {folds}", choice)
    return window_models(context, folds, folder)


def run_fold(context: Context, data: HeadData, grid, fold: int) -> dict:
    """Fit everything without ``fold``; its clips' predictions (no verdict yet) and the validation views."""
    folder = prepare_folder(context.artifacts, context.work / f"fold{fold}")
    done = folder / f"fold-{FOLD_VERSION}.json"
    if done.exists():
        log(f"fold {fold}: done before, read from {done}")
        return json.loads(done.read_text())
    inner = [other for other in context.folds if other != fold]
    log(f"fold {fold}: learning from real folds {inner}")
    with audit.predicting(fold):
        choice, trials = data.heads.choose(grid, inner, log)
        record = {"fold": fold, "trained_on_folds": inner, "head_choice": dataclasses.asdict(choice),
                  "head_inner_accuracy": max(trial["accuracy"] for trial in trials),
                  "window_models": train_models(context, data, choice, inner, folder)}
        _save_views(valid_views(folder, context.gtzan_dir), folder / f"valid-views-{FOLD_VERSION}.npz")
    record["records"] = serving_records(folder, context.real_dir, [c for c in context.clips if c.fold == fold])
    done.write_text(json.dumps(record) + "\n")
    return record


def cross_validate(context: Context, data: HeadData, grid=None, on_record=None) -> dict:
    """Every fold, then each fold's verdict chosen without it; returns the ``realworld_cv`` record."""
    from core.learn.evaluate import summarise

    grid = grid or realhead.head_grid()
    folds = {fold: run_fold(context, data, grid, fold) for fold in context.folds}
    records, verdicts = [], {}
    for fold in context.folds:
        others = [record for other, result in folds.items() if other != fold for record in result["records"]]
        folder = context.work / f"fold{fold}"
        with audit.predicting(fold):
            verdicts[fold] = choose_verdict(_load_views(folder / f"valid-views-{FOLD_VERSION}.npz"), others)
        (folder / VERDICT_FILE).write_text(json.dumps(verdicts[fold], indent=1) + "\n")
        log(f"fold {fold}: verdict weights {verdicts[fold]['weights']}")
        for record in serving_records(folder, context.real_dir, [c for c in context.clips if c.fold == fold]):
            records.append(record)
            if on_record:
                on_record(record)
    summary = summarise(records)
    by_confidence = {level: summarise([r for r in records if r["confidence"] == level])["models"]["verdict"]["clip_accuracy"]
                     for level in sorted({r["confidence"] for r in records})}
    return {
        "clips": len(records), "folds": len(context.folds), "models": summary["models"],
        "protocol": "grouped 5-fold cross-validation on data/realworld (an artist or collection never spans two "
                    "folds): for each fold, the transfer head, the CNN, the LSTM and the verdict's weights learn "
                    "from GTZAN and the other four folds only (head settings chosen by leave-one-fold-out inside "
                    "them), then the fold is predicted through the app's serving path",
        "verdict_by_label_confidence": by_confidence,
        "fold_choices": {str(fold): {"trained_on_folds": result["trained_on_folds"], "head": result["head_choice"],
                                     "head_inner_accuracy": result["head_inner_accuracy"],
                                     "verdict_weights": verdicts[fold]["weights"],
                                     "window_best_epochs": {kind: value["best_epoch"]
                                                            for kind, value in result["window_models"].items()}}
                         for fold, result in folds.items()},
        "records": [{key: record[key] for key in ("clip", "label", "fold", "group", "confidence")}
                    | {"predicted": {name: value["genre"] for name, value in record["models"].items()}}
                    for record in records],
        "work_folder": f"{context.work.name}/{FOLD_VERSION}",
    }


def variant_grids(with_mtt: bool) -> dict[str, list[realhead.HeadChoice]]:
    """The families of transfer heads measured by nested grouped CV, each a grid chosen from inside the folds."""
    variants = {
        "chosen grid (MSD tags / penultimate / both; none, pull or anchor)": realhead.head_grid(),
        "GTZAN only (no real clips)": realhead.head_grid(real_weights=(0.0,)),
        "tag-anchored only": realhead.head_grid(priors=("anchor",)),
        "pulled towards the genre tags only": realhead.head_grid(priors=("pull",)),
        "no tag prior": realhead.head_grid(priors=("none",)),
    }
    if with_mtt:
        variants |= {
            "MSD + MTT tags": realhead.head_grid(features=("tags+mtt_tags", "both+mtt_tags")),
            "MTT tags only": realhead.head_grid(features=("mtt_tags",), priors=("none",)),
        }
    return variants


def head_variants(context: Context, data: HeadData, log=log) -> dict:
    """Nested grouped CV of head families on the tagger outputs: what each idea is worth on real music.

    Kept in the work folder (minutes of fits), keyed by the families' grids."""
    with_mtt = has_mtt(context.artifacts)
    grids = variant_grids(with_mtt)
    key = _digest({name: [dataclasses.asdict(choice) for choice in grid] for name, grid in grids.items()},
                  FOLD_VERSION, realhead.VALID_VIEWS, realhead.HEAD_REAL_SHARE)
    path = context.work / f"head-variants-{key}.json"
    if path.exists():
        return json.loads(path.read_text())
    if with_mtt:          # the second tagger is measured on the same folds; MSD-only fits are reused
        data = dataclasses.replace(head_data(context.artifacts, context.gtzan_dir, context.real_dir, context.clips,
                                             context.seed, with_mtt=True), fitted=data.fitted)
    results = {}
    for name, grid in grids.items():
        log(f"head variant: {name} ({len(grid)} settings)")
        results[name] = data.heads.nested(grid, log)
    path.write_text(json.dumps(results, indent=1) + "\n")
    return results


def out_of_fold_records(context: Context) -> list[dict]:
    """Every real clip's answers from the models that did not learn from its fold (``run_fold``'s records)."""
    return [record for fold in context.folds
            for record in json.loads((context.work / f"fold{fold}" / f"fold-{FOLD_VERSION}.json").read_text())["records"]]


def refit_shipped(context: Context, data: HeadData, grid=None) -> dict:
    """The shipped models after the choices: chosen on all five folds, refitted on GTZAN plus every real clip.

    The head and the window models learn from GTZAN's training list and every real clip; the verdict is
    chosen with them on GTZAN's validation views and the out-of-fold predictions of ``cv``; the head is
    then refitted with GTZAN's validation list as well. Writes into ``context.artifacts``.
    """
    grid = grid or realhead.head_grid()
    artifacts = Path(context.artifacts)
    choice, trials = data.heads.choose(grid, context.folds, log)
    (artifacts / VERDICT_FILE).unlink(missing_ok=True)
    head = fit_fold_head(data, choice, context.folds)
    save_head(head, data, artifacts / HEAD_FILE, "GTZAN training list and every real clip", choice)
    windows = window_models(context, context.folds, context.work / "all")
    for kind in WINDOW_MODELS:
        for suffix in (".keras", ".tflite"):
            shutil.copyfile(context.work / "all" / f"{kind}{suffix}", artifacts / f"{kind}{suffix}")
    verdict = choose_verdict(valid_views(artifacts, context.gtzan_dir), out_of_fold_records(context))
    (artifacts / VERDICT_FILE).write_text(json.dumps(verdict, indent=1) + "\n")
    log(f"shipped verdict weights {verdict['weights']}: GTZAN validation {verdict['valid_mean']:.3f}, "
        f"real out-of-fold {verdict['real_oof']:.3f}")
    head = fit_fold_head(data, choice, context.folds, with_valid=True)
    save_head(head, data, artifacts / HEAD_FILE, "GTZAN training and validation lists and every real clip", choice)
    return {"head_choice": dataclasses.asdict(choice), "head_trials": trials, "window_models": windows,
            "verdict": verdict, "real_clips": len(context.clips), "patches_per_unit": SERVING_PATCHES}


def write_cross_validation(artifacts_dir: Path, gtzan_dir: Path, real_dir: Path, seed: int = 0, on_record=None) -> dict:
    """Run the grouped cross-validation and write ``realworld_cv`` into ``artifacts/evaluation.json``.

    Returns what it wrote.
    """
    clips = realworld.read_clips(real_dir)
    realworld.check_grouped(clips)
    context = Context(Path(artifacts_dir), Path(gtzan_dir), Path(real_dir), clips, seed,
                      work_folder(Path(artifacts_dir), clips, seed))
    data = head_data(context.artifacts, context.gtzan_dir, context.real_dir, clips, seed)
    result = cross_validate(context, data, None, on_record)
    result["head_variants"] = head_variants(context, data)
    path = Path(artifacts_dir) / EVALUATION_FILE
    stored = json.loads(path.read_text()) if path.exists() else {}
    stored["realworld_cv"] = result
    path.write_text(json.dumps(stored, indent=1) + "\n")
    for name, scores in result["models"].items():
        print(f"{name}: real world cross-validated ({result['clips']} clips, {result['folds']} grouped folds) "
              f"accuracy {scores['clip_accuracy']:.3f}, macro F1 {scores['macro_f1']:.3f}", file=sys.stderr)
    return result
