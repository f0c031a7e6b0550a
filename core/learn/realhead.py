"""The transfer model's genre head, learned from GTZAN and from real recordings, chosen by grouped CV.

The head reads a clip's **mean** tagger outputs (``HeadSettings.pooling = "clip"``): the average of
musicnn's tag logits (and, if chosen, its penultimate units) over the evenly spread 3 s patches the
app hears, so a training row is one version of one clip: GTZAN clips from their spectrogram images
and MP3s (clean and through simulated devices, ``core.learn.transfer``) and the real recordings of
the training folds (clean and through simulated devices, ``core.learn.realworld``).

What it reads, how strongly it is regularised, how it uses the MSD tags that name a genre (not at
all, as a pull on its weights, or as a fixed anchor of the logit that training cannot wash out) and
how much a real clip weighs against a GTZAN clip are chosen by grouped cross-validation inside the
training folds (``FoldHeads.choose``), never with the fold being predicted.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from threadpoolctl import threadpool_limits

from core.learn import audit
from core.learn.transfer import PatchTable, balanced_weights, fit_head, head_prior, prior_weights
from core.serve.config import GENRES
from core.serve.pretrained import HeadSettings, TransferHead, softmax

# GTZAN versions a head learns from ("audio" alone: the clips with MP3s, clean and through devices).
GTZAN_MIXES: dict[str, tuple[str, ...]] = {
    "audio": ("audio", "audio captured"),
    "audio and images": ("image", "image captured", "audio", "audio captured"),
}
REAL_KINDS = ("audio", "audio captured")
# The head must hear what users give it: GTZAN's validation clips from their MP3s and through random
# simulated devices and rooms. Half of a setting's score is the real clips' leave-one-fold-out accuracy,
# half the mean over these views. (A user's clip is never a spectrogram image: with the images view as
# well, the real clips' nested estimate fell by several points.)
VALID_VIEWS = ("audio", "audio captured")
HEAD_REAL_SHARE = 0.5
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
    """Every combination, the most regularised first (ties go to the earlier one). A pull towards the genre
    tags needs the tags among the features."""
    return [HeadChoice(f, l, p, w, m) for m, f, l, p, w in itertools.product(mixes, features, sorted(l2, reverse=True),
                                                                             priors, real_weights)
            if not (p == "pull" and f not in ("tags", "both"))]


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
class FoldHeads:
    """Heads fitted on GTZAN and on the real clips of some folds, each fitted once and remembered.

    Nested cross-validation fits the same (setting, training folds) pair for several outer folds, and
    the head families of ``core.learn.crossval.head_variants`` share settings: remembering the fits
    makes the whole study affordable on two cores.
    """

    def __init__(self, gtzan: ClipRows, real: ClipRows, folds: np.ndarray, tags: list[str], fitted: dict | None = None,
                 valid: ClipRows | None = None):
        """``fitted``: the fits of another ``FoldHeads`` over the same rows (a second tagger's blocks may be
        added: a setting that does not read them fits the same). ``valid``: GTZAN's validation rows, which
        the choice also reads (``HEAD_REAL_SHARE``); never fitted on."""
        self.gtzan, self.real, self.folds, self.tags, self.valid = gtzan, real, folds, tags, valid
        self.fitted: dict = {} if fitted is None else fitted

    def head(self, choice: HeadChoice, train_folds) -> TransferHead:
        key = (choice, () if choice.real_weight == 0 else tuple(sorted(train_folds)))   # GTZAN only: one fit
        if key not in self.fitted:
            with threadpool_limits(1):      # small fits: BLAS threads only wait for each other on two cores
                self.fitted[key] = fit_clip_head(self.gtzan, self.real.subset(np.isin(self.folds, key[1])), choice,
                                                 self.tags, 1, None)
        return self.fitted[key]

    def predict(self, choice: HeadChoice, train_folds, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, probabilities) of the clean real clips of ``fold`` from the head trained on ``train_folds``."""
        assert fold not in train_folds, "a fold is never predicted by a head that learned from it"
        rows = np.flatnonzero((self.real.kinds == "audio") & (self.folds == fold))
        return rows, head_probabilities(self.head(choice, train_folds), self.real.subset(rows))

    def accuracy(self, choice: HeadChoice, within: list[int]) -> float:
        """Leave-one-fold-out accuracy over the folds ``within`` (no fold outside ``within`` is learned from)."""
        correct = total = 0
        for fold in within:
            rows, probabilities = self.predict(choice, [other for other in within if other != fold], fold)
            correct += int(np.sum(probabilities.argmax(axis=1) == self.real.labels[rows]))
            total += len(rows)
        return correct / total

    def valid_accuracy(self, choice: HeadChoice, train_folds) -> dict[str, float]:
        """Accuracy of the head trained on ``train_folds`` on each of GTZAN's validation views (one row each)."""
        head = self.head(choice, train_folds)
        scores = {}
        for view in VALID_VIEWS:
            rows = self.valid.subset(self.valid.kinds == view)
            scores[view] = float(np.mean(head_probabilities(head, rows).argmax(axis=1) == rows.labels))
        return scores

    def choose(self, grid: list[HeadChoice], within: list[int], log=None) -> tuple[HeadChoice, list[dict]]:
        """The grid point with the best score over ``within`` (the first wins ties): the leave-one-fold-out
        accuracy on the real clips and, with GTZAN's validation rows, their mean accuracy, weighed
        ``HEAD_REAL_SHARE`` to the rest."""
        trials = []
        for choice in grid:
            trial = {"choice": dataclasses.asdict(choice), "accuracy": self.accuracy(choice, within)}
            if self.valid is not None:
                trial["valid"] = self.valid_accuracy(choice, within)
                trial["score"] = (HEAD_REAL_SHARE * trial["accuracy"]
                                  + (1 - HEAD_REAL_SHARE) * float(np.mean(list(trial["valid"].values()))))
            trials.append(trial)
        best = max(range(len(grid)), key=lambda index: trials[index].get("score", trials[index]["accuracy"]))
        audit.chose_on("real-world head", [*self.gtzan.clips, *self.real.clips[np.isin(self.folds, within)],
                                           *(() if self.valid is None else self.valid.clips)])
        if log:
            log(f"  head chosen on folds {within}: {grid[best]} (real {trials[best]['accuracy']:.3f}, "
                f"score {trials[best].get('score', trials[best]['accuracy']):.3f})")
        return grid[best], trials

    def nested(self, grid: list[HeadChoice], log=None) -> dict:
        """For each outer fold k: the choice made inside the other folds, fitted on them, scored on k."""
        every = sorted(set(self.folds.tolist()))
        chosen, correct, total = {}, 0, 0
        for fold in every:
            inner = [other for other in every if other != fold]
            with audit.predicting(fold):
                choice, _ = self.choose(grid, inner)
                rows, probabilities = self.predict(choice, inner, fold)
            correct += int(np.sum(probabilities.argmax(axis=1) == self.real.labels[rows]))
            total += len(rows)
            chosen[fold] = dataclasses.asdict(choice)
        result = {"oof_accuracy": correct / total, "clips": total, "choices": chosen}
        if log:
            log(f"  nested CV: out-of-fold accuracy {result['oof_accuracy']:.3f} over {total} clips")
        return result
