"""The GTZAN stage of ``python -m core.train`` (``core.learn.pipeline``): train the CNN, the LSTM, the
feature baseline and the transfer head on GTZAN, export them and choose the verdict.

Every choice is made on the validation list: early stopping and model selection watch the
validation clips only. The test list is read once, at the end, by ``core.learn.evaluate``. Everything the
app shows about training is written here into ``--out``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from core.learn import audit, gtzan
from core.serve.config import GENRES, FeatureConfig
from core.serve.artifacts import (FEATURE_CONFIG_FILE, GTZAN_STAGE_FILE, LEAKY_FILE,
                                  NORMALISATION_FILE, TRAINING_FILE)
from core.serve.inputs import Normalisation, baseline_batch, cnn_batch, db_windows, lstm_batch
from core.learn.models import TrainingSettings, build_baseline, build_cnn, build_lstm
from core.serve.representation import levels_to_db, unit_levels

LEAKY_MAX_EPOCHS = 20
RECORDINGS_PER_CLIP = 3     # simulated speaker -> room -> microphone versions of each training clip with audio


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass
class Split:
    """Clip ids and labels of one part of the split, with their dB spectrograms and clip features."""

    clips: list[str]
    levels: list[np.ndarray]
    features: np.ndarray
    config: FeatureConfig
    # dB spectrograms of the clip's audio recorded through random speakers and rooms (clips with audio)
    recorded: dict[int, list[np.ndarray]] = dataclasses.field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        return np.array([gtzan.label_index(clip) for clip in self.clips])

    @functools.cached_property
    def db(self) -> list[np.ndarray]:
        return [levels_to_db(levels, self.config) for levels in self.levels]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_levels(data_dir: Path, clips: list[str], config: FeatureConfig) -> dict[str, np.ndarray]:
    """Image levels of every clip: from the spectrogram images, else computed from the clip's audio.

    A folder with ``images_original/`` is read from the images (all of GTZAN); a plain GTZAN-layout
    folder of audio (``<genre>/<genre>.NNNNN.wav``) goes through the same computation the app uses,
    so the two sources can never disagree. Clips with neither are left out, and said so.
    """
    levels, missing = {}, []
    for clip in clips:
        image = gtzan.image_path(data_dir, clip)
        if image.exists():
            levels[clip] = gtzan.read_image_levels(image, config)
            continue
        audio = gtzan.find_audio(data_dir, clip)
        if audio is None:
            missing.append(clip)
            continue
        from core.serve.audio import decode

        levels[clip] = unit_levels(decode(audio, config).samples, config)
    if missing:
        log(f"  {len(missing)} clips have neither an image nor audio and are left out: {', '.join(missing[:5])}...")
    return levels


def clip_statistics(data_dir: Path, clips: list[str], config: FeatureConfig) -> dict[str, np.ndarray]:
    """The baseline's clip statistics: from ``features_30_sec.csv`` when present, else from audio."""
    table_path = Path(data_dir) / "features_30_sec.csv"
    if table_path.exists():
        table = gtzan.load_features_table(data_dir)
        return {clip: table.loc[clip, list(config.baseline_features)].to_numpy(dtype=np.float64)
                for clip in clips if clip in table.index}
    from core.serve.audio import decode
    from core.serve.clip_features import clip_features as compute

    found = {clip: gtzan.find_audio(data_dir, clip) for clip in clips}
    return {clip: compute(decode(path, config).samples, config, config.baseline_features)
            for clip, path in found.items() if path}


def load_split(data_dir: Path, clips: list[str], config: FeatureConfig) -> Split:
    levels = load_levels(data_dir, clips, config)
    features = clip_statistics(data_dir, list(levels), config)
    kept = [clip for clip in levels if clip in features]
    return Split(kept, [levels[clip] for clip in kept], np.stack([features[clip] for clip in kept]), config)


# ----------------------------------------------------------------------------- window models
def augment(windows: np.ndarray, rng: np.random.Generator, settings: TrainingSettings,
            norm: Normalisation, config: FeatureConfig) -> np.ndarray:
    """Level noise (as lossy coding adds) and frequency/time masks filled with the band means."""
    windows = windows + rng.normal(0.0, settings.noise_levels * config.top_db / config.levels,
                                   windows.shape).astype(np.float32)
    n_mels, width = windows.shape[1:]
    for window in windows:
        for _ in range(settings.freq_masks):
            size = rng.integers(0, int(settings.mask_fraction * n_mels) + 1)
            start = rng.integers(0, n_mels - size + 1)
            window[start:start + size] = norm.mel_mean[start:start + size, None]
        for _ in range(settings.time_masks):
            size = rng.integers(0, int(settings.mask_fraction * width) + 1)
            start = rng.integers(0, width - size + 1)
            window[:, start:start + size] = norm.mel_mean[:, None]
    return windows


def captured(split: Split, probability: float, rng: np.random.Generator, config: FeatureConfig,
             images_too: bool = True) -> list[np.ndarray]:
    """Each clip, with probability ``probability``, as if a random device and room had captured it.

    A clip with audio uses one of its real recordings through simulated speakers and rooms
    (``Split.recorded``); an image-only clip gets the mel-domain simulation of ``core.learn.capture``,
    or stays as it is without ``images_too``.
    """
    if probability <= 0:
        return split.db
    from core.learn.capture import augment_db

    out = []
    for index, matrix in enumerate(split.db):
        if rng.random() >= probability:
            out.append(matrix)
        elif split.recorded.get(index):
            out.append(split.recorded[index][rng.integers(len(split.recorded[index]))])
        elif images_too:
            out.append(augment_db(matrix, rng, config))
        else:
            out.append(matrix)
    return out


def record_through_rooms(data_dir: Path, split: Split, versions: int, seed: int) -> None:
    """Fill ``split.recorded``: each clip with audio, played through ``versions`` random capture chains."""
    from core.serve.audio import decode
    from core.learn.capture import capture, random_capture

    rng = np.random.default_rng(seed)
    config = split.config
    for index, clip in enumerate(split.clips):
        path = gtzan.find_audio(data_dir, clip, lossless_first=False)
        if path is None:
            continue
        samples = decode(path, config).samples
        split.recorded[index] = [
            levels_to_db(unit_levels(capture(samples, config.sample_rate, random_capture(rng), rng), config), config)
            for _ in range(versions)]


def random_crops(db: list[np.ndarray], labels: np.ndarray, per_clip: int, width: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``per_clip`` random windows from every clip: time crops and shifts."""
    windows, window_labels = [], []
    for matrix, label in zip(db, labels):
        for start in rng.integers(0, matrix.shape[1] - width + 1, size=per_clip):
            windows.append(matrix[:, start:start + width])
            window_labels.append(label)
    return np.stack(windows), np.array(window_labels)


def mixup(x: np.ndarray, y: np.ndarray, alpha: float, rng: np.random.Generator):
    """Blend random pairs of examples and their one-hot targets (Zhang et al. 2018)."""
    if alpha <= 0:
        return x, y
    lam = rng.beta(alpha, alpha, size=len(x)).astype(np.float32)
    order = rng.permutation(len(x))
    shape = (-1,) + (1,) * (x.ndim - 1)
    return lam.reshape(shape) * x + (1 - lam.reshape(shape)) * x[order], lam[:, None] * y + (1 - lam[:, None]) * y[order]


def model_input(kind: str, db_window_batch: np.ndarray, norm: Normalisation, config: FeatureConfig) -> np.ndarray:
    return cnn_batch(db_window_batch, norm) if kind == "cnn" else lstm_batch(db_window_batch, norm, config)


def clip_windows(split: Split, config: FeatureConfig):
    """All inference windows of every clip (as at serving time) with the clip each belongs to."""
    windows, owners = [], []
    for index, levels in enumerate(split.levels):
        clip_db, _ = db_windows(levels, config)
        windows.append(clip_db)
        owners.extend([index] * len(clip_db))
    return np.concatenate(windows), np.array(owners)


def clip_scores(window_probabilities: np.ndarray, owners: np.ndarray, n_clips: int) -> np.ndarray:
    """Mean window probabilities per clip."""
    sums = np.zeros((n_clips, window_probabilities.shape[1]))
    np.add.at(sums, owners, window_probabilities)
    return sums / np.bincount(owners, minlength=n_clips)[:, None]


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0))))


class BestEpoch:
    """Model selection and early stopping on the validation list.

    Keeps the weights of the epoch with the best validation clip accuracy (lower validation loss
    breaks ties) and says when ``patience`` epochs have passed without one.
    """

    def __init__(self, patience: int):
        self.patience, self.best, self.weights, self.waited = patience, None, None, 0

    def update(self, record: dict, model) -> bool:
        """Take one epoch's record; True when training should stop."""
        if self.best is None or (record["val_clip_accuracy"], -record["val_loss"]) > (
                self.best["val_clip_accuracy"], -self.best["val_loss"]):
            self.best, self.weights, self.waited = record, model.get_weights(), 0
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self, model):
        model.set_weights(self.weights)
        return self.best


def train_window_model(kind: str, train: Split, valid: Split, norm: Normalisation,
                       config: FeatureConfig, settings: TrainingSettings, seed: int, build=None):
    """Train the CNN or the LSTM on random windows; keep the epoch with the best validation clips.

    ``kind`` names the input ("cnn": log-mel windows, "lstm": MFCC sequences); ``build(config,
    settings)`` makes another network on that input (``core.learn.experiments``).
    """
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = (build or (build_cnn if kind == "cnn" else build_lstm))(config, settings)
    valid_windows, valid_owners = clip_windows(valid, config)
    valid_x = model_input(kind, valid_windows, norm, config)
    valid_window_labels = valid.labels[valid_owners]
    history, selection = [], BestEpoch(settings.patience)
    for epoch in range(1, settings.max_epochs + 1):
        started = time.perf_counter()
        clips = captured(train, settings.capture_probability, rng, config, settings.capture_images)
        windows, labels = random_crops(clips, train.labels, settings.windows_per_clip, config.window_columns, rng)
        x = model_input(kind, augment(windows, rng, settings, norm, config), norm, config)
        x, y = mixup(x, np.eye(len(GENRES), dtype=np.float32)[labels], settings.mixup_alpha, rng)
        fit = model.fit(x, y, batch_size=settings.batch_size, epochs=1, verbose=0, shuffle=True)
        probabilities = model.predict(valid_x, batch_size=256, verbose=0)
        clip_accuracy = float(np.mean(clip_scores(probabilities, valid_owners, len(valid.clips)).argmax(1) == valid.labels))
        record = {
            "epoch": epoch,
            "loss": float(fit.history["loss"][0]), "accuracy": float(fit.history["accuracy"][0]),
            "val_loss": cross_entropy(probabilities, valid_window_labels),
            "val_accuracy": float(np.mean(probabilities.argmax(1) == valid_window_labels)),
            "val_clip_accuracy": clip_accuracy,
            "seconds": round(time.perf_counter() - started, 2),
            "learning_rate": float(model.optimizer.learning_rate),
        }
        history.append(record)
        stop = selection.update(record, model)
        log(f"  {kind} epoch {epoch:3d}  loss {record['loss']:.3f}  acc {record['accuracy']:.3f}  "
            f"val_loss {record['val_loss']:.3f}  val_acc {record['val_accuracy']:.3f}  "
            f"val_clip_acc {clip_accuracy:.3f}  {record['seconds']:.1f}s{'  *' if selection.waited == 0 else ''}")
        if stop:
            break
        if selection.waited and selection.waited % settings.plateau_epochs == 0:
            model.optimizer.learning_rate.assign(float(model.optimizer.learning_rate) / 2)
    audit.chose_on(f"best epoch ({kind})", train.clips + valid.clips)
    return model, history, selection.restore(model)


def train_baseline(train: Split, valid: Split, norm: Normalisation, settings: TrainingSettings, seed: int):
    """The dense network on standard-scaled clip statistics, early-stopped on validation accuracy."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_baseline(train.features.shape[1], settings)
    x, y = baseline_batch(train.features, norm), np.eye(len(GENRES), dtype=np.float32)[train.labels]
    valid_x, valid_y = baseline_batch(valid.features, norm), np.eye(len(GENRES), dtype=np.float32)[valid.labels]
    history, selection = [], BestEpoch(settings.patience)
    for epoch in range(1, settings.max_epochs + 1):
        started = time.perf_counter()
        fit = model.fit(x, y, batch_size=settings.batch_size, epochs=1, verbose=0, shuffle=True,
                        validation_data=(valid_x, valid_y))
        record = {"epoch": epoch, **{key: float(value[0]) for key, value in fit.history.items()},
                  "seconds": round(time.perf_counter() - started, 2)}
        record["val_clip_accuracy"] = record["val_accuracy"]  # one window per clip
        history.append(record)
        if selection.update(record, model):
            break
    best = selection.restore(model)
    audit.chose_on("best epoch (baseline)", train.clips + valid.clips)
    log(f"  baseline: best epoch {best['epoch']}, val_acc {best['val_accuracy']:.3f}")
    return model, history, best


# ----------------------------------------------------------------------------- leaky protocol
def segment_split(split: Split, width: int, seed: int, fractions=(0.7, 0.1)) -> tuple[Split, Split, Split]:
    """The leaky protocol: cut every clip into consecutive windows and split the windows at random.

    Windows of one recording land in training and test alike, as in many tutorials and course
    projects; the result is saved as leaky and shown next to the honest one, never instead of it.
    """
    segments, levels = [], []
    for clip, clip_levels in zip(split.clips, split.levels):
        for index in range(clip_levels.shape[1] // width):
            segments.append(f"{clip}#{index}")
            levels.append(clip_levels[:, index * width:(index + 1) * width])
    order = np.random.default_rng(seed).permutation(len(segments))
    n_train, n_valid = int(fractions[0] * len(order)), int(fractions[1] * len(order))
    parts = (order[:n_train], order[n_train:n_train + n_valid], order[n_train + n_valid:])
    empty = np.zeros((0, split.features.shape[1]))
    return tuple(Split([segments[i] for i in part], [levels[i] for i in part], empty, split.config) for part in parts)


def leaky_experiment(everything: Split, norm: Normalisation, config: FeatureConfig,
                     settings: dict[str, TrainingSettings], seed: int, models: list[str]) -> dict:
    """Train the same CNN and LSTM under a random segment split and measure segment accuracy."""
    train, valid, test = segment_split(everything, config.window_columns, seed)
    results = {
        "protocol": "random segment split (leaky): every clip cut into consecutive "
                    f"{config.window_seconds:.1f} s segments, segments split 70/10/20 at random, so segments "
                    "of the same recording are in training and test",
        "segments": {"train": len(train.clips), "valid": len(valid.clips), "test": len(test.clips)},
        "clips": len(everything.clips), "models": {},
    }
    for kind in [model for model in models if model in ("cnn", "lstm")]:
        log(f"leaky {kind}: {len(train.clips)} training segments")
        # Every segment is a training example here (7 000 rather than 443 clips), so fewer epochs.
        leaky_settings = dataclasses.replace(settings[kind], windows_per_clip=1,
                                             max_epochs=min(settings[kind].max_epochs, LEAKY_MAX_EPOCHS))
        model, history, best = train_window_model(kind, train, valid, norm, config, leaky_settings, seed)
        test_windows, _ = clip_windows(test, config)
        probabilities = model.predict(model_input(kind, test_windows, norm, config), batch_size=256, verbose=0)
        results["models"][kind] = {
            "test_segment_accuracy": float(np.mean(probabilities.argmax(1) == test.labels)),
            "best_epoch": best["epoch"], "history": history,
        }
        log(f"leaky {kind}: test segment accuracy {results['models'][kind]['test_segment_accuracy']:.3f}")
    return results


# ----------------------------------------------------------------------------- artifacts
def architecture(model) -> list[dict]:
    """Layers, output shapes and parameter counts, for the training page."""
    return [{"name": layer.name, "type": type(layer).__name__,
             "output_shape": [None if size is None else int(size) for size in layer.output.shape],
             "parameters": int(layer.count_params())} for layer in model.layers]


def model_settings(epochs: int | None) -> dict[str, TrainingSettings]:
    """The settings chosen on the validation list, per model.

    For the CNN: dropout 0.5 with two frequency and two time masks, 32-column windows and six crops per
    clip; for the LSTM: twelve crops per clip, more epochs and patience (it keeps improving slowly), a
    1-D convolution over time before its two 64-unit layers. Both hear half of their clips with audio
    as simulated recordings each epoch (the CNN also degrades image-only clips in the mel domain; the
    LSTM keeps them clean) and remove each band's (each MFCC's) mean over the window first, so a fixed
    frequency response cancels. The alternatives measured on validation over three seeds, with their
    figures, are the variants of ``artifacts/experiments.json`` (``python -m core.experiments``, the
    Experiments page): without augmentation, without simulated recordings, without centring, GRU,
    bidirectional LSTM, the LSTM without its convolution, a CRNN, the CNN and LSTM ensemble.
    """
    chosen = {
        "cnn": TrainingSettings(dropout=0.5, freq_masks=2, time_masks=2, max_epochs=50, patience=15,
                                capture_probability=0.5, centre_over_time=True),
        "lstm": TrainingSettings(windows_per_clip=12, max_epochs=80, patience=20, capture_probability=0.5,
                                 capture_images=False, centre_over_time=True),
        "baseline": TrainingSettings(max_epochs=200, patience=30, batch_size=32, dropout=0.3),
    }
    if epochs is not None:
        chosen = {name: dataclasses.replace(value, max_epochs=epochs, patience=min(value.patience, epochs))
                  for name, value in chosen.items()}
    return chosen


def _kept_models(path: Path, protocol: str, seed: int, retrained: list[str]) -> dict:
    """Entries of the models not retrained now, when ``--models`` names only some of them."""
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    if (previous.get("split"), previous.get("seed")) != (protocol, seed):
        return {}
    return {name: entry for name, entry in previous["models"].items() if name not in retrained}


def train_all(data_dir: Path, out: Path, models: list[str], protocol: str, seed: int,
              epochs: int | None, leaky: bool, config: FeatureConfig = FeatureConfig(),
              transfer_cache: Path | None = None) -> dict:
    """Train, export and describe the chosen models; return what was written to ``training.json``."""
    from core.learn.export import export_model

    out.mkdir(parents=True, exist_ok=True)
    lists = gtzan.split_lists(data_dir, protocol, seed)
    log(f"loading {len(lists['train'])} training and {len(lists['valid'])} validation clips from {data_dir}")
    train, valid = load_split(data_dir, lists["train"], config), load_split(data_dir, lists["valid"], config)
    norm = Normalisation.fit(train.db, train.features, config)
    settings = model_settings(epochs)
    if any(settings[name].capture_probability > 0 for name in models if name in ("cnn", "lstm")):
        log(f"recording the training clips with audio through {RECORDINGS_PER_CLIP} random speakers and rooms")
        record_through_rooms(data_dir, train, RECORDINGS_PER_CLIP, seed)
    config.save(out / FEATURE_CONFIG_FILE)
    norm.save(out / NORMALISATION_FILE)
    summary = {
        "seed": seed, "split": protocol, "data": {"train_clips": len(train.clips), "valid_clips": len(valid.clips)},
        "source": "spectrogram images" if (Path(data_dir) / "images_original").is_dir() else "audio",
        "models": _kept_models(out / TRAINING_FILE, protocol, seed, models),
    }
    transfer_record = None
    for name in models:
        log(f"training {name}")
        if name == "musicnn":
            from core.learn.transfer import train_transfer

            transfer_started = time.perf_counter()
            transfer_record = train_transfer(data_dir, lists, out, seed, cache_dir=transfer_cache, log=log)
            summary["models"][name] = transfer_record
            continue
        started = time.perf_counter()
        if name == "baseline":
            model, history, best = train_baseline(train, valid, norm, settings[name], seed)
        else:
            model, history, best = train_window_model(name, train, valid, norm, config, settings[name], seed)
        seconds = time.perf_counter() - started
        model.save(out / f"{name}.keras")
        if name in ("cnn", "lstm"):    # the GTZAN-only network every real-music fine-tuning starts from
            model.save(out / GTZAN_STAGE_FILE.format(name))
        export_model(name, model, out)
        summary["models"][name] = {
            "settings": dataclasses.asdict(settings[name]),
            "optimizer": "Adam", "loss": "categorical cross-entropy (one-hot targets, mixup for cnn/lstm)",
            "augmentation": (["random time crops", "level noise", "frequency and time masks", "mixup"]
                             + (["simulated recordings" + ("" if settings[name].capture_images else " (clips with audio only)")]
                                if settings[name].capture_probability > 0 else [])
                             if name != "baseline" else []),
            "best_epoch": best["epoch"], "best_val_clip_accuracy": best["val_clip_accuracy"],
            "training_seconds": round(seconds, 1), "parameters": int(model.count_params()),
            "size_bytes": (out / f"{name}.tflite").stat().st_size,
            "architecture": architecture(model), "history": history,
        }
    if len(list(out.glob("*.tflite"))) > 1:
        from core.learn.verdict import write_verdict

        summary["verdict"] = write_verdict(out, data_dir, log=log, valid_clips=lists["valid"])
    if transfer_record is not None:
        from core.learn.transfer import refit_on_everything

        refit_on_everything(transfer_record, out)
        transfer_record["training_seconds"] = round(time.perf_counter() - transfer_started, 1)
    (out / TRAINING_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    if leaky:
        everything = load_split(data_dir, gtzan.all_clips(data_dir), config)
        results = leaky_experiment(everything, norm, config, settings, seed, models)
        (out / LEAKY_FILE).write_text(json.dumps(results, indent=1) + "\n")
    return summary
