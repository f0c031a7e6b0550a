"""The transfer model's genre head, learned from GTZAN and from real recordings, chosen by grouped CV.

The head reads a clip's **mean** tagger outputs (``HeadSettings.pooling = "clip"``): the average of
musicnn's tag logits (and, if chosen, its penultimate units) over the evenly spread 3 s patches the
app hears, so a training row is one version of one clip: GTZAN clips from their spectrogram images
and MP3s (clean and through simulated devices, ``core.learn.transfer``) and the real recordings of
the training folds (clean and through simulated devices, ``core.learn.realworld``).

What it reads, how strongly it is regularised, how it uses the MSD tags that name a genre (not at
all, as a pull on its weights, or as a fixed anchor of the logit that training cannot wash out) and
how much a real clip weighs against a GTZAN clip are chosen by grouped cross-validation inside the
training folds (``inner_choice``), never with the fold being predicted.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from threadpoolctl import threadpool_limits

from core.learn.transfer import PatchTable, balanced_weights, fit_head, head_prior, prior_weights
from core.serve.config import GENRES
from core.serve.pretrained import HeadSettings, TransferHead, softmax

# GTZAN versions a head learns from ("audio" alone: the clips with MP3s, clean and through devices).
GTZAN_MIXES: dict[str, tuple[str, ...]] = {
    "audio": ("audio", "audio captured"),
    "audio and images": ("image", "image captured", "audio", "audio captured"),
}
REAL_KINDS = ("audio", "audio captured")
# Output blocks of the taggers a head can read; "both" is MSD's tags and penultimate units.
BLOCKS = {"tags": "msd tags", "penultimate": "msd penultimate", "mtt_tags": "mtt tags",
          "mtt_penultimate": "mtt penultimate"}


@dataclasses.dataclass(frozen=True)
class HeadChoice:
    """One point of the head grid."""

    features: str = "tags"        # "+"-joined blocks ("both" = "tags+penultimate")
    l2: float = 1e-2
    prior: str = "pull"           # "none", "pull" (weights pulled towards the genre tags) or "anchor"
    real_weight: float = 4.0      # one real clip weighs this many average GTZAN clips (0: GTZAN only)
    gtzan_mix: str = "audio and images"

    def settings(self, patches_per_unit: int, level_db: float | None) -> HeadSettings:
        return HeadSettings(features=self.features, l2=self.l2, prior_strength=1.0 if self.prior == "pull" else 0.0,
                            patches_per_unit=patches_per_unit, level_db=level_db, pooling="clip",
                            anchor=1.0 if self.prior == "anchor" else 0.0)


def head_grid(features=("tags", "penultimate", "both"), l2=(1e-2, 1e-1, 1.0), priors=("none", "pull", "anchor"),
              real_weights=(1.0, 4.0, 16.0), mixes=tuple(GTZAN_MIXES)) -> list[HeadChoice]:
    """Every combination, the most regularised first (ties go to the earlier one)."""
    return [HeadChoice(f, l, p, w, m) for m, f, l, p, w in itertools.product(mixes, features, sorted(l2, reverse=True),
                                                                             priors, real_weights)]


# ----------------------------------------------------------------------------- clip rows
@dataclasses.dataclass
class ClipRows:
    """One row per version of a clip: its mean tagger outputs over the patches the app would hear."""

    outputs: dict[str, np.ndarray]    # block -> (rows, width)
    clips: np.ndarray                 # (rows,) clip name
    kinds: np.ndarray                 # (rows,) version kind
    labels: np.ndarray                # (rows,) genre index

    def subset(self, mask: np.ndarray) -> "ClipRows":
        return ClipRows({name: value[mask] for name, value in self.outputs.items()}, self.clips[mask],
                        self.kinds[mask], self.labels[mask])

    def matrix(self, features: str) -> np.ndarray:
        names = features.replace("both", "tags+penultimate").split("+")
        return np.concatenate([self.outputs[name] for name in names], axis=1)


def version_slices(table: PatchTable) -> list[tuple[int, str, slice]]:
    """(clip index, kind, rows) of every version in a table.

    A clip's versions of one kind sit one after another with equal patch counts: a captured
    version has as many patches as the clean one it came from.
    """
    slices, start, n = [], 0, len(table.kind)
    while start < n:
        stop = start
        while stop < n and table.clip_index[stop] == table.clip_index[start] and table.kind[stop] == table.kind[start]:
            stop += 1
        clip, kind = int(table.clip_index[start]), str(table.kind[start])
        clean = kind.split(" ")[0]
        size = int(np.sum((table.clip_index == clip) & (table.kind == clean))) or (stop - start)
        slices.extend((clip, kind, slice(first, min(first + size, stop))) for first in range(start, stop, size))
        start = stop
    return slices


def serving_patches(rows: slice, count: int) -> np.ndarray:
    """The ``count`` evenly spread patches of a version, as the app picks them from a 30 s unit."""
    return rows.start + np.unique(np.round(np.linspace(0, rows.stop - rows.start - 1, count)).astype(int))


def clip_rows(tables: dict[str, PatchTable], patches_per_unit: int) -> ClipRows:
    """Mean outputs per version from one table per tagger ("msd", and "mtt" when measured): same patches."""
    msd = tables["msd"]
    outputs: dict[str, list] = {name: [] for name in BLOCKS if name.startswith("mtt") <= ("mtt" in tables)}
    clips, kinds, labels = [], [], []
    for clip, kind, rows in version_slices(msd):
        chosen = serving_patches(rows, patches_per_unit)
        outputs["tags"].append(msd.tag_logits[chosen].mean(axis=0))
        outputs["penultimate"].append(msd.penultimate[chosen].mean(axis=0))
        if "mtt" in tables:
            outputs["mtt_tags"].append(tables["mtt"].tag_logits[chosen].mean(axis=0))
            outputs["mtt_penultimate"].append(tables["mtt"].penultimate[chosen].mean(axis=0))
        clips.append(msd.clips[clip])
        kinds.append(kind)
        labels.append(int(msd.labels[clip]))
    return ClipRows({name: np.stack(value) for name, value in outputs.items()}, np.array(clips), np.array(kinds),
                    np.array(labels))


def concatenate_rows(first: ClipRows, second: ClipRows) -> ClipRows:
    shared = [name for name in first.outputs if name in second.outputs]
    return ClipRows({name: np.concatenate([first.outputs[name], second.outputs[name]]) for name in shared},
                    np.concatenate([first.clips, second.clips]), np.concatenate([first.kinds, second.kinds]),
                    np.concatenate([first.labels, second.labels]))


# ----------------------------------------------------------------------------- fitting
def anchor_matrix(tags: list[str]) -> np.ndarray:
    """(genres x 50): each genre's mean over the MSD tags that name it (zero rows: classical, reggae)."""
    return prior_weights(tags, len(tags), 1.0)


def row_weights(gtzan: ClipRows, real: ClipRows, real_weight: float) -> np.ndarray:
    """GTZAN rows: every clip and genre weighs the same; a real clip weighs ``real_weight`` average GTZAN clips."""
    gtzan_weight = balanced_weights(gtzan.clips, gtzan.labels)
    per_gtzan_clip = gtzan_weight.sum() / len(np.unique(gtzan.clips))
    _, index, sizes = np.unique(real.clips, return_inverse=True, return_counts=True)
    return np.concatenate([gtzan_weight, real_weight * per_gtzan_clip / sizes[index] if len(real.clips) else []])


def fit_clip_head(gtzan: ClipRows, real: ClipRows, choice: HeadChoice, tags: list[str],
                  patches_per_unit: int, level_db: float | None) -> TransferHead:
    """The head of ``choice`` fitted on GTZAN's rows of its mix and on ``real`` (the training folds)."""
    gtzan = gtzan.subset(np.isin(gtzan.kinds, GTZAN_MIXES[choice.gtzan_mix]))
    real = real.subset(np.isin(real.kinds, REAL_KINDS)) if choice.real_weight > 0 else real.subset(
        np.zeros(len(real.clips), bool))
    rows = concatenate_rows(gtzan, real)
    x = rows.matrix(choice.features)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    settings = choice.settings(patches_per_unit, level_db)
    anchor = anchor_matrix(tags) if choice.prior == "anchor" else None
    offset = None if anchor is None else rows.outputs["tags"] @ anchor.T
    prior = head_prior(tags, std, settings) if choice.features in ("tags", "penultimate", "both") \
        else np.zeros((len(GENRES), x.shape[1]))
    weights, bias = fit_head((x - mean) / std, rows.labels, row_weights(gtzan, real, choice.real_weight), prior,
                             choice.l2, offset)
    return TransferHead(settings, mean, std, weights, bias, anchor_weights=anchor)


def head_probabilities(head: TransferHead, rows: ClipRows) -> np.ndarray:
    """(rows x genres) probabilities of clip rows, for any feature blocks (MTT included)."""
    x = (rows.matrix(head.settings.features) - head.mean) / head.std
    logits = x @ head.weights.T + head.bias
    if head.anchor_weights is not None:
        logits = logits + head.settings.anchor * rows.outputs["tags"] @ head.anchor_weights.T
    return softmax(logits)


# ----------------------------------------------------------------------------- grouped cross-validation
def fold_predictions(gtzan: ClipRows, real: ClipRows, folds: np.ndarray, choice: HeadChoice, tags: list[str],
                     within: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-fold-out over the folds ``within``: each clean real clip's probabilities from a head
    fitted without its fold (and without any fold outside ``within``). Returns (rows, probabilities)."""
    clean = real.kinds == "audio"
    rows, probabilities = [], []
    for fold in within:
        train = np.isin(folds, [other for other in within if other != fold])
        head = fit_clip_head(gtzan, real.subset(train), choice, tags, 1, None)
        test = np.flatnonzero(clean & (folds == fold))
        rows.append(test)
        probabilities.append(head_probabilities(head, real.subset(test)))
    return np.concatenate(rows), np.concatenate(probabilities)


def inner_choice(gtzan: ClipRows, real: ClipRows, folds: np.ndarray, grid: list[HeadChoice], tags: list[str],
                 within: list[int], log=None) -> tuple[HeadChoice, list[dict]]:
    """The grid point with the best leave-one-fold-out accuracy over the folds ``within`` (first wins ties)."""
    trials = []
    for choice in grid:
        with threadpool_limits(1):      # small fits: BLAS threads only wait for each other on two cores
            rows, probabilities = fold_predictions(gtzan, real, folds, choice, tags, within)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == real.labels[rows]))
        trials.append({"choice": dataclasses.asdict(choice), "accuracy": accuracy})
    best = max(range(len(grid)), key=lambda index: trials[index]["accuracy"])
    if log:
        log(f"  head chosen on folds {within}: {grid[best]} ({trials[best]['accuracy']:.3f})")
    return grid[best], trials


def nested_head_cv(gtzan: ClipRows, real: ClipRows, folds: np.ndarray, grid: list[HeadChoice], tags: list[str],
                   log=None) -> dict:
    """Outer folds: the head for fold k is chosen by leave-one-fold-out inside the other folds and fitted
    on them; returns each fold's choice and the out-of-fold accuracy over the clean real clips."""
    every = sorted(set(folds.tolist()))
    chosen, correct, total = {}, 0, 0
    for fold in every:
        inner = [other for other in every if other != fold]
        choice, _ = inner_choice(gtzan, real, folds, grid, tags, inner)
        head = fit_clip_head(gtzan, real.subset(np.isin(folds, inner)), choice, tags, 1, None)
        test = np.flatnonzero((real.kinds == "audio") & (folds == fold))
        predicted = head_probabilities(head, real.subset(test)).argmax(axis=1)
        correct += int(np.sum(predicted == real.labels[test]))
        total += len(test)
        chosen[fold] = dataclasses.asdict(choice)
    result = {"oof_accuracy": correct / total, "clips": total, "choices": chosen}
    if log:
        log(f"  nested CV: out-of-fold accuracy {result['oof_accuracy']:.3f} over {total} clips")
    return result
