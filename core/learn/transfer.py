"""The transfer model: GTZAN genres from the pretrained musicnn MSD tagger, trained here.

musicnn (Pons & Serra 2019) was trained on 3 s patches of the Million Song Dataset's audio to
predict 50 Last.fm tags, seven of which are GTZAN genres. Its network stays frozen (LiteRT,
``artifacts/musicnn.tflite``); what is trained here is a multinomial logistic regression from its
per-patch outputs (the 50 tag logits, optionally its 200-unit penultimate layer) to the ten genres,
which can be pulled towards the tag -> genre mapping its own tags already know (``TAG_PRIOR``) so
that a head fitted to a few hundred GTZAN clips keeps what a million songs taught it; validation
decides how strongly (``HEAD_GRID``).

Most GTZAN clips exist only as spectrogram images (128 mel bands of 22050 Hz audio, 11.1 columns
per second, 80 dB relative to the clip's maximum), so the tagger's input is derived from them:
the power is mapped to musicnn's 96 bands with a non-negative band map, brought to a level
calibrated on the training clips that also have audio, resampled to 62.5 frames per second and
log-compressed like musicnn's own front end. Learning side: needs SciPy, never TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
from scipy import optimize

from core.learn import audit
from core.serve.artifacts import ARTIFACTS_DIR, HEAD_FILE, TAGGER_DESCRIPTION_FILE, TAGGER_FILE
from core.serve.config import GENRES, FeatureConfig, PretrainedConfig
from core.serve.pretrained import HeadSettings, TransferHead, feature_matrix, softmax
from core.serve.representation import column_frames, mel_filterbank

# The MSD tags that name a GTZAN genre (or, for disco, its sound). The head starts from here.
TAG_PRIOR: dict[str, tuple[str, ...]] = {
    "blues": ("blues",),
    "country": ("country",),
    "disco": ("70s", "funk", "dance"),
    "hiphop": ("Hip-Hop", "rnb"),
    "jazz": ("jazz",),
    "metal": ("metal", "heavy metal"),
    "pop": ("pop", "catchy", "indie pop"),
    "rock": ("rock", "classic rock", "hard rock", "alternative rock", "Progressive rock"),
}


# ----------------------------------------------------------------------------- images -> tagger input
@functools.lru_cache(maxsize=2)
def band_map(feature: FeatureConfig = FeatureConfig(), pretrained: PretrainedConfig = PretrainedConfig()) -> np.ndarray:
    """Non-negative (pretrained bands x image bands) matrix: musicnn's mel filters from the images'.

    Both filter banks are drawn as responses over a 1 Hz frequency grid; each musicnn filter is
    fitted by a non-negative combination of image filters (``scipy.optimize.nnls``).
    """
    grid = np.arange(0.0, pretrained.fmax, 1.0)

    def response(sample_rate, n_fft, n_mels, fmin, fmax):
        weights = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
        bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        return np.stack([np.interp(grid, bins, row) for row in weights]) / (sample_rate / n_fft)

    source = response(feature.sample_rate, feature.n_fft, feature.n_mels, feature.fmin, feature.fmax)
    target = response(pretrained.sample_rate, pretrained.n_fft, pretrained.n_mels, pretrained.fmin, pretrained.fmax)
    return np.stack([optimize.nnls(source.T, row)[0] for row in target]).astype(np.float32)


def image_power(db: np.ndarray) -> np.ndarray:
    """Image dB (20 log10 of the mel power relative to the clip's maximum) back to relative power."""
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 20.0)


def image_log_mel(db: np.ndarray, gain: float, band_gain: np.ndarray | None = None,
                  feature: FeatureConfig = FeatureConfig(), pretrained: PretrainedConfig = PretrainedConfig(),
                  target_db: float | None = None) -> np.ndarray:
    """musicnn's input (frames x 96, float32) derived from a clip's image dB matrix (128 x columns).

    ``gain`` is the mel power of the clip's loudest image cell on musicnn's scale, or with
    ``target_db`` the power is levelled to that instead, as ``core.serve.musicnn_input.at_level``
    levels audio. ``band_gain`` is a per-band correction (the two analyses' different window
    lengths treat tones and noise differently); columns are placed at the times of the STFT frames
    they show and interpolated (in the log domain) to musicnn's frame rate.
    """
    from core.serve.musicnn_input import at_level

    power = band_map(feature, pretrained) @ image_power(db)
    if band_gain is not None:
        power *= band_gain[:, None]
    power = power * gain if target_db is None else at_level(power, target_db)
    log_power = np.log(np.maximum(power, 1e-12))
    n_frames = 1 + int(round(db.shape[1] / feature.column_rate_hz * pretrained.sample_rate)) // pretrained.hop_length
    reference = int(round(db.shape[1] / feature.image_columns * feature.reference_frames))
    column_s = column_frames(reference, feature)[:db.shape[1]] * feature.hop_length / feature.sample_rate
    frame_s = np.arange(n_frames) * pretrained.hop_length / pretrained.sample_rate
    resampled = np.stack([np.interp(frame_s, column_s, band) for band in log_power])
    return np.log10(pretrained.log_gain * np.exp(resampled.T) + 1.0).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Calibration:
    """How image-derived inputs are made to look like the audio's, from the training clips with both."""

    gains: np.ndarray             # per-clip gains of image power (used when inputs are not levelled)
    band_gain: np.ndarray         # per-band correction, (96,)
    level_db: float | None        # every input's level (``musicnn_input.level_db``), None = as recorded


def training_level_db(mels: list[np.ndarray]) -> float:
    """The level the tagger's inputs are brought to: the median of the training clips' audio."""
    from core.serve.musicnn_input import level_db

    return float(np.median([level_db(mel) for mel in mels]))


def calibrate(pairs: list[tuple[np.ndarray, np.ndarray]], rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip gains and a shared per-band gain that make image-derived inputs match the audio's.

    ``pairs`` holds (image dB, musicnn input computed from the same clip's audio), from training
    clips only. Alternates: each clip's gain matching its band means, then the median per-band
    residual over clips. Unlevelled training draws image-derived examples at these clips' gains,
    so they come at realistic levels.
    """
    band_gain = np.ones(PretrainedConfig().n_mels)
    for _ in range(rounds):
        gains, residuals = [], []
        for db, audio_log_mel in pairs:
            target = audio_log_mel.mean(axis=0)

            def error(log_gain):
                derived = image_log_mel(db, np.exp(log_gain), band_gain).mean(axis=0)
                return float(np.mean((derived - target) ** 2))

            gain = float(np.exp(optimize.minimize_scalar(error, bounds=(-10, 25), method="bounded").x))
            gains.append(gain)
            residuals.append(target - image_log_mel(db, gain, band_gain).mean(axis=0))
        band_gain = band_gain * 10.0 ** np.median(residuals, axis=0)
    return np.array(gains), band_gain


# ----------------------------------------------------------------------------- the head
def prior_weights(tags: list[str], n_features: int, strength: float) -> np.ndarray:
    """(genres x features) weights: ``strength`` from each genre to its own tags, zero elsewhere."""
    weights = np.zeros((len(GENRES), n_features))
    for genre, genre_tags in TAG_PRIOR.items():
        for tag in genre_tags:
            weights[GENRES.index(genre), tags.index(tag)] = strength / len(genre_tags)
    return weights


def fit_head(x: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray, prior: np.ndarray,
             l2: float, offset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted multinomial logistic regression with an L2 pull towards ``prior`` (L-BFGS).

    ``x`` is standardised; ``offset`` (rows x genres), when given, is a fixed part of every logit
    (a tag-anchored head learns only the correction to it). Returns weights (genres x features) and
    biases (genres,).
    """
    n_classes, n_features = prior.shape
    targets = np.eye(n_classes)[labels]
    weight = sample_weight / sample_weight.sum()
    fixed = 0.0 if offset is None else offset

    def loss(theta):
        w = theta[:n_classes * n_features].reshape(n_classes, n_features)
        b = theta[n_classes * n_features:]
        p = softmax(x @ w.T + b + fixed)
        value = -np.sum(weight * np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-12)))
        value += l2 * np.sum((w - prior) ** 2)
        residual = (p - targets) * weight[:, None]
        gradient_w = residual.T @ x + 2 * l2 * (w - prior)
        return value, np.concatenate([gradient_w.ravel(), residual.sum(axis=0)])

    theta0 = np.concatenate([prior.ravel(), np.zeros(n_classes)])
    result = optimize.minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return (result.x[:n_classes * n_features].reshape(n_classes, n_features), result.x[n_classes * n_features:])


def train_head(tag_logits: np.ndarray, penultimate: np.ndarray, labels: np.ndarray, groups: np.ndarray,
               tags: list[str], settings: HeadSettings) -> TransferHead:
    """Fit the head on per-patch outputs; every clip (``groups``) and genre weighs the same."""
    x = feature_matrix(tag_logits, penultimate, settings.features)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    weights, bias = fit_head((x - mean) / std, labels, balanced_weights(groups, labels), head_prior(tags, std, settings),
                             settings.l2)
    return TransferHead(settings, mean, std, weights, bias)


def balanced_weights(groups: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-patch weights under which every clip (``groups``) and every genre weighs the same."""
    _, group_index, group_sizes = np.unique(groups, return_inverse=True, return_counts=True)
    weight = 1.0 / group_sizes[group_index]
    return weight / np.maximum(np.bincount(labels, weights=weight, minlength=len(GENRES))[labels], 1e-12)


def head_prior(tags: list[str], std: np.ndarray, settings: HeadSettings) -> np.ndarray:
    """The weights the head is pulled towards, on standardised features: a genre's own tags, or zero."""
    if settings.features == "penultimate":
        return np.zeros((len(GENRES), len(std)))
    prior = prior_weights(tags, len(std), settings.prior_strength) * std[None, :]
    prior[:, len(tags):] = 0.0          # "both": the penultimate units have no prior
    return prior


# ----------------------------------------------------------------------------- training examples
@dataclasses.dataclass(frozen=True)
class TransferData:
    """How many captured versions of each clip the head sees, besides the clean one."""

    audio_captures: int = 2       # random speaker/room/microphone/codec versions of a clip's audio
    image_captures: int = 2       # random mel-domain capture versions of a clip's image
    levelled: bool = True         # every input brought to the training clips' median level


def clip_versions(clip_db: np.ndarray | None, audio: np.ndarray | None, clip: str, rng: np.random.Generator,
                  calibration: Calibration, data: TransferData, measure: bool,
                  feature: FeatureConfig = FeatureConfig()) -> list[tuple[str, np.ndarray]]:
    """Every version of one clip as (kind, musicnn input).

    Kinds: ``image`` and ``image captured`` (from the spectrogram image, levelled or at a calibrated
    level), and for clips with audio ``audio``, ``audio captured`` and, with ``measure``, ``audio
    measured`` (the clip's tuning room, for choosing on validation, never for training; the rooms that
    measure the test list are others).
    """
    from core.learn.capture import augment_db, capture, measurement_capture, random_capture
    from core.serve.musicnn_input import log_mel

    level = calibration.level_db

    def from_image(db: np.ndarray) -> np.ndarray:
        # A levelled input ignores the gain; it is drawn all the same, so the random stream (and so the
        # cached tables and the shipped head) stays what it was when levelling came in.
        return image_log_mel(db, float(rng.choice(calibration.gains)), calibration.band_gain, feature, target_db=level)

    def from_audio(samples: np.ndarray) -> np.ndarray:
        return log_mel(samples, feature.sample_rate, target_db=level)

    versions = []
    if clip_db is not None:
        versions.append(("image", from_image(clip_db)))
        for _ in range(data.image_captures):
            versions.append(("image captured", from_image(augment_db(clip_db, rng, feature))))
    if audio is None:
        return versions
    versions.append(("audio", from_audio(audio)))
    for _ in range(data.audio_captures):
        versions.append(("audio captured", from_audio(capture(audio, feature.sample_rate, random_capture(rng), rng))))
    if measure:
        versions.append(("audio measured", from_audio(measurement_capture(audio, feature.sample_rate, clip, "tuning"))))
    return versions


@dataclasses.dataclass
class PatchTable:
    """Tagger outputs of every patch of every version of every clip, with where each came from."""

    clips: list[str]
    tag_logits: np.ndarray       # (patches, 50)
    penultimate: np.ndarray      # (patches, 200)
    clip_index: np.ndarray       # (patches,) index into clips
    kind: np.ndarray             # (patches,) version kind
    labels: np.ndarray           # (clips,)
    pooled: np.ndarray | None = None   # (patches, 1506) the backend's pools, from a tagger that outputs them

    def select(self, kinds: tuple[str, ...], clips: set[str] | None = None) -> np.ndarray:
        mask = np.isin(self.kind, kinds)
        if clips is not None:
            mask &= np.isin(np.array(self.clips)[self.clip_index], sorted(clips))
        return mask

    def save(self, path: Path) -> None:
        pooled = {} if self.pooled is None else {"pooled": self.pooled}
        np.savez_compressed(path, clips=np.array(self.clips), tag_logits=self.tag_logits,
                            penultimate=self.penultimate, clip_index=self.clip_index, kind=self.kind,
                            labels=self.labels, **pooled)

    @classmethod
    def load(cls, path: Path) -> "PatchTable":
        values = np.load(path)
        return cls(clips=list(values["clips"]), pooled=values["pooled"] if "pooled" in values.files else None,
                   **{name: values[name] for name in ("tag_logits", "penultimate", "clip_index", "kind", "labels")})


POOLED_WIDTH = 1506        # musicnn's backend pools (max and mean of 753 features), before its dense layers


def _pooled_output(interpreter) -> np.ndarray | None:
    """The backend's pools from the last run of a tagger that outputs them (``core.learn.finetune``), else None."""
    for output in interpreter.get_output_details():
        if int(output["shape"][-1]) == POOLED_WIDTH:
            return interpreter.get_tensor(output["index"]).copy()
    return None


def tagger_table(clips: list[str], versions_of, interpreter, progress=None) -> PatchTable:
    """Run the tagger over every version of every clip (``versions_of(i, clip)`` gives them)."""
    from core.learn import gtzan
    from core.serve.musicnn_input import patches
    from core.serve.pretrained import tagger_outputs

    tags, penultimate, pooled, owners, kinds = [], [], [], [], []
    for index, clip in enumerate(clips):
        for kind, log_mel in versions_of(index, clip):
            batch = patches(log_mel)
            clip_tags, clip_penultimate = tagger_outputs(interpreter, batch)
            tags.append(clip_tags)
            penultimate.append(clip_penultimate)
            pooled.append(_pooled_output(interpreter))
            owners.extend([index] * len(batch))
            kinds.extend([kind] * len(batch))
        if progress:
            progress(index)
    return PatchTable(clips, np.concatenate(tags), np.concatenate(penultimate), np.array(owners),
                      np.array(kinds), np.array([gtzan.label_index(clip) for clip in clips]),
                      None if pooled[0] is None else np.concatenate(pooled))


def clip_accuracy(head: TransferHead, table: PatchTable, mask: np.ndarray) -> tuple[float, int]:
    """Accuracy of clip-averaged patch probabilities over the clips that have patches in ``mask``."""
    return clip_accuracy_of(head.probabilities(table.tag_logits[mask], table.penultimate[mask]), table, mask)


def clip_accuracy_of(probabilities: np.ndarray, table: PatchTable, mask: np.ndarray) -> tuple[float, int]:
    """Accuracy of clip-averaged ``probabilities`` of the patches in ``mask``, and how many clips they cover."""
    owners = table.clip_index[mask]
    clips = np.unique(owners)
    scores = np.stack([probabilities[owners == clip].mean(axis=0) for clip in clips])
    return float(np.mean(scores.argmax(axis=1) == table.labels[clips])), len(clips)


def fit_on(table: PatchTable, mask: np.ndarray, tags: list[str], settings: HeadSettings) -> TransferHead:
    return train_head(table.tag_logits[mask], table.penultimate[mask], table.labels[table.clip_index[mask]],
                      table.clip_index[mask], tags, settings)


# ----------------------------------------------------------------------------- choosing and training
TRAINING_MIXES: dict[str, tuple[str, ...]] = {
    "images": ("image", "image captured"),
    "audio and images": ("image", "image captured", "audio", "audio captured"),
    "images, captured only": ("image captured", "audio captured"),
}
# Validation views of the head: every clip from its image, and the clips with audio from their MP3
# and from the measurement rooms. The choice maximises their mean.
VALIDATION_VIEWS: dict[str, tuple[str, ...]] = {
    "images": ("image",), "audio": ("audio",), "audio measured": ("audio measured",),
}
# musicnn's time grows with every 3 s patch (python -m core.bench times it): four patches per 30 s keep
# the transfer model within its 150 ms and every model together within 250 ms. Validation scores more
# patches higher (``patches_trials`` in training.json, on the Training page): accuracy traded for a
# responsive app.
SERVING_PATCH_BUDGET = 4
HEAD_GRID = [HeadSettings(features=features, l2=l2, prior_strength=prior)
             for features in ("tags", "penultimate", "both") for l2 in (1e-3, 1e-2, 1e-1) for prior in (0.0, 1.0)
             if not (features == "penultimate" and prior)]


def validation_scores(head: TransferHead, table: PatchTable) -> dict[str, float]:
    """Clip accuracy on each validation view that has clips (an audio-only folder has no images)."""
    return view_scores(lambda mask: head.probabilities(table.tag_logits[mask], table.penultimate[mask]), table)


def view_scores(probabilities_of, table: PatchTable) -> dict[str, float]:
    """Clip accuracy on each validation view that has clips; ``probabilities_of(mask)`` scores a view's patches."""
    return {view: clip_accuracy_of(probabilities_of(table.select(kinds)), table, table.select(kinds))[0]
            for view, kinds in VALIDATION_VIEWS.items() if table.select(kinds).any()}


def choose_head(train: PatchTable, valid: PatchTable, tags: list[str], log=print) -> tuple[HeadSettings, str, list[dict]]:
    """Every head setting and training mix, scored on the validation views; the best by their mean."""
    trials = []
    for mix, kinds in TRAINING_MIXES.items():
        if len(np.unique(train.labels[train.clip_index[train.select(kinds)]])) < 2:
            continue                  # e.g. images only, in a folder of audio without images
        for settings in HEAD_GRID:
            head = fit_on(train, train.select(kinds), tags, settings)
            scores = validation_scores(head, valid)
            trials.append({"mix": mix, "settings": dataclasses.asdict(settings), "valid": scores,
                           "mean": float(np.mean(list(scores.values())))})
            log(f"  transfer head {mix:22s} {settings.features:11s} l2 {settings.l2:g} prior {settings.prior_strength:g}: "
                + "  ".join(f"{view} {value:.3f}" for view, value in scores.items()))
    best = max(trials, key=lambda trial: trial["mean"])
    audit.chose_on("transfer head settings", train.clips + valid.clips)
    return HeadSettings(**best["settings"]), best["mix"], trials


def choose_patches(head: TransferHead, valid: PatchTable, patches_per_clip: int, budget: int,
                   tolerance: float = 0.01) -> tuple[int, dict]:
    """How many evenly spread 3 s patches the tagger hears per 30 s at serving time.

    Every count is scored on the validation clips' audio views (the images when there is no audio);
    the choice is the fewest patches within ``tolerance`` of the best count that fits the ``budget``.
    """
    results = {}
    views = [view for view in ("audio", "audio measured") if valid.select((view,)).any()] or ["image"]
    for count in (2, 3, 4, 5, 6, 8, patches_per_clip):
        scores = []
        for view in views:
            mask = valid.select((view,))
            keep = np.zeros_like(mask)
            for clip in np.unique(valid.clip_index[mask]):
                rows = np.flatnonzero(mask & (valid.clip_index == clip))
                keep[rows[np.unique(np.round(np.linspace(0, len(rows) - 1, count)).astype(int))]] = True
            scores.append(clip_accuracy(head, valid, keep)[0])
        results[count] = float(np.mean(scores))
    affordable = {count: score for count, score in results.items() if count <= budget}
    best = max(affordable.values())
    audit.chose_on("transfer patches per clip", valid.clips)
    return min(count for count, score in affordable.items() if score >= best - tolerance), results


def split_table(data_dir: Path, clips: list[str], interpreter, calibration, data: TransferData, measure: bool,
                seed: int, log=print) -> PatchTable:
    """The tagger's outputs for every version of a list of clips (images for all, audio where present)."""
    from core.learn import gtzan
    from core.serve.audio import decode
    from core.serve.representation import levels_to_db

    feature = FeatureConfig()
    rng = np.random.default_rng(seed)

    def versions_of(index: int, clip: str):
        image = gtzan.image_path(data_dir, clip)
        db = levels_to_db(gtzan.read_image_levels(image, feature), feature) if image.exists() else None
        path = gtzan.find_audio(data_dir, clip, lossless_first=False)
        audio = decode(path, feature).samples if path else None
        return clip_versions(db, audio, clip, rng, calibration, data, measure, feature)

    def progress(index: int) -> None:
        if (index + 1) % 50 == 0 or index + 1 == len(clips):
            log(f"  tagger outputs: {index + 1}/{len(clips)} clips")

    # A folder of images: the clips that have one (jazz.00054 has none); a folder of audio: every clip.
    has_images = (Path(data_dir) / "images_original").is_dir()
    usable = [clip for clip in clips if gtzan.image_path(data_dir, clip).exists()
              or (not has_images and gtzan.find_audio(data_dir, clip, lossless_first=False))]
    return tagger_table(usable, versions_of, interpreter, progress)


def calibration_pairs(data_dir: Path, clips: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image dB, musicnn's mel power spectrogram of the audio) of the listed clips that have both."""
    from core.learn import gtzan
    from core.serve.audio import decode
    from core.serve.musicnn_input import mel_spectrogram
    from core.serve.representation import levels_to_db

    feature = FeatureConfig()
    pairs = []
    for clip in clips:
        path, image = gtzan.find_audio(data_dir, clip, lossless_first=False), gtzan.image_path(data_dir, clip)
        if path and image.exists():
            db = levels_to_db(gtzan.read_image_levels(image, feature), feature)
            pairs.append((db, mel_spectrogram(decode(path, feature).samples, feature.sample_rate)))
    return pairs


def calibration_of(pairs: list[tuple[np.ndarray, np.ndarray]], levelled: bool) -> Calibration:
    """The calibration of image-derived inputs (and, when ``levelled``, the level) from training pairs."""
    from core.serve.musicnn_input import compress

    if not pairs:
        return Calibration(np.ones(1), np.ones(PretrainedConfig().n_mels), None)
    level = training_level_db([mel for _, mel in pairs]) if levelled else None
    gains, band_gain = calibrate([(db, compress(mel, target_db=level)) for db, mel in pairs])
    return Calibration(gains, band_gain, level)


def _cache_key(tagger: Path, seed: int, data: TransferData, part: str, clips: list[str], data_dir: Path) -> str:
    import hashlib

    digest = hashlib.sha256(Path(tagger).read_bytes())
    digest.update(json.dumps([seed, dataclasses.asdict(data), part, clips, str(Path(data_dir).resolve()),
                              CACHE_VERSION]).encode())
    return digest.hexdigest()[:16]


CACHE_VERSION = 2       # bump when the way examples are made changes (2: "audio measured" through the tuning rooms)
CACHE_DIR = Path.home() / ".cache" / "genre-lab" / "transfer"


def cached_table(part: str, make, key: str, cache_dir: Path | None, log) -> PatchTable:
    """A split's tagger outputs from the cache, or made (minutes: every patch goes through musicnn) and cached."""
    if cache_dir is None:
        return make()
    path = Path(cache_dir) / f"{part}-{key}.npz"
    if path.exists():
        log(f"  tagger outputs of the {part} list from {path}")
        return PatchTable.load(path)
    table = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    table.save(path)
    return table


def cached_calibration(data_dir: Path, clips: list[str], levelled: bool, cache_dir: Path | None, log) -> Calibration:
    """``calibration_of`` the training clips with audio (minutes), kept in the cache beside the tables."""
    import hashlib

    key = hashlib.sha256(json.dumps([clips, str(Path(data_dir).resolve()), levelled, CACHE_VERSION]).encode())
    path = None if cache_dir is None else Path(cache_dir) / f"calibration-{key.hexdigest()[:16]}.npz"
    if path is not None and path.exists():
        values = np.load(path)
        level = float(values["level_db"][0]) if values["level_db"].size else None
        return Calibration(values["gains"], values["band_gain"], level)
    log("transfer: calibrating image-derived input on the training clips with audio")
    calibration = calibration_of(calibration_pairs(data_dir, clips), levelled)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, gains=calibration.gains, band_gain=calibration.band_gain,
                 level_db=np.array([] if calibration.level_db is None else [calibration.level_db]))
    return calibration


def concatenate(first: PatchTable, second: PatchTable) -> PatchTable:
    return PatchTable(first.clips + second.clips, np.concatenate([first.tag_logits, second.tag_logits]),
                      np.concatenate([first.penultimate, second.penultimate]),
                      np.concatenate([first.clip_index, second.clip_index + len(first.clips)]),
                      np.concatenate([first.kind, second.kind]), np.concatenate([first.labels, second.labels]))


def transfer_tables(data_dir: Path, lists: dict[str, list[str]], tagger: Path, seed: int, data: TransferData,
                    cache_dir: Path | None, log=print) -> tuple[dict[str, PatchTable], Calibration]:
    """The training and validation tables of ``tagger``'s outputs (cached) and the calibration they used.

    Every version of a clip is drawn from the same seeded stream whichever tagger runs, so two
    taggers' tables hold the same patches in the same order.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tagger), num_threads=2)
    interpreter.allocate_tensors()
    calibration = cached_calibration(data_dir, lists["train"], data.levelled, cache_dir, log)
    tables = {part: cached_table(part, lambda part=part, measure=measure, offset=offset: split_table(
        data_dir, lists[part], interpreter, calibration, data, measure, seed + offset, log),
        _cache_key(tagger, seed, data, part, lists[part], data_dir), cache_dir, log)
        for part, measure, offset in (("train", False, 0), ("valid", True, 1))}
    return tables, calibration


def train_transfer(data_dir: Path, lists: dict[str, list[str]], out: Path, seed: int,
                   data: TransferData = TransferData(), cache_dir: Path | None = CACHE_DIR, log=print) -> dict:
    """Calibrate, extract, choose on validation and train the head; write ``transfer_head.json``.

    Returns the training record for ``training.json``. The head written first is trained on the
    training list only (the verdict is chosen with it); ``refit_on_everything`` then retrains it on
    training and validation clips with the same choices.
    """
    import time

    started = time.perf_counter()
    tagger = Path(out) / TAGGER_FILE
    if not tagger.exists():  # the ported tagger is an input of training, made once by core.learn.musicnn_port
        import shutil

        if not (ARTIFACTS_DIR / TAGGER_FILE).exists():
            raise FileNotFoundError(f"{tagger} is missing: run python -m core.musicnn_port first")
        for name in (TAGGER_FILE, TAGGER_DESCRIPTION_FILE):
            shutil.copyfile(ARTIFACTS_DIR / name, Path(out) / name)
    tags = json.loads((Path(out) / TAGGER_DESCRIPTION_FILE).read_text())["tags"]
    tables, calibration = transfer_tables(data_dir, lists, tagger, seed, data, cache_dir, log)
    gains = calibration.gains
    settings, mix, trials = choose_head(tables["train"], tables["valid"], tags, log)
    head = fit_on(tables["train"], tables["train"].select(TRAINING_MIXES[mix]), tags, settings)
    patches_per_unit, patch_trials = choose_patches(head, tables["valid"], patches_per_clip=10,
                                                    budget=SERVING_PATCH_BUDGET)
    settings = dataclasses.replace(settings, patches_per_unit=patches_per_unit, level_db=calibration.level_db)
    chosen = max(trials, key=lambda trial: trial["mean"])
    record = {
        "settings": dataclasses.asdict(settings), "training_mix": mix, "training_kinds": list(TRAINING_MIXES[mix]),
        "best_valid": chosen["valid"], "best_val_clip_accuracy": chosen["valid"].get("images", chosen["mean"]),
        "head_trials": trials, "patches_trials": patch_trials, "patch_budget": SERVING_PATCH_BUDGET,
        "calibration": {"clips": len(gains), "gain_median": float(np.median(gains)),
                        "gain_range": [float(gains.min()), float(gains.max())], "level_db": calibration.level_db},
        "data": dataclasses.asdict(data),
        "examples": {part: {"clips": len(table.clips), "patches": int(len(table.kind))} for part, table in tables.items()},
        "parameters_head": int(head.weights.size + head.bias.size),
        "parameters": tagger_parameters() + int(head.weights.size + head.bias.size),
        "size_bytes": tagger.stat().st_size,
    }
    extra = {"image_gain": float(np.median(gains)), "band_gain": calibration.band_gain.tolist(), "tags": tags,
             "trained_on": "training list"}
    TransferHead(settings, head.mean, head.std, head.weights, head.bias, extra).save(Path(out) / HEAD_FILE)
    record["seconds_before_refit"] = round(time.perf_counter() - started, 1)
    record["_tables"] = tables
    return record


def tagger_parameters() -> int:
    """Weights of the frozen musicnn network (from the Keras port)."""
    from core.learn.musicnn_port import build_musicnn

    return int(build_musicnn().count_params())


def refit_on_everything(record: dict, out: Path) -> None:
    """Retrain the head on the training and validation lists with the choices made on validation."""

    path = Path(out) / HEAD_FILE
    previous = TransferHead.load(path)
    tables = record.pop("_tables")
    both = concatenate(tables["train"], tables["valid"])
    head = fit_on(both, both.select(TRAINING_MIXES[record["training_mix"]]), previous.extra["tags"], previous.settings)
    TransferHead(previous.settings, head.mean, head.std, head.weights, head.bias,
                 previous.extra | {"trained_on": "training and validation lists"}).save(path)
    record["refit"] = "training and validation lists"
