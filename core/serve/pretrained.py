"""The transfer model at serving time: the pretrained musicnn tagger (LiteRT) and its genre head (NumPy).

musicnn (Pons & Serra 2019, ISC licence) turns 3 s patches of a 96-band log-mel spectrogram into
50 Million Song Dataset tag logits and a 200-unit penultimate layer (``artifacts/musicnn.tflite``,
ported by ``core.learn.musicnn_port``). The head, a multinomial logistic regression trained by
``core.learn.transfer`` and stored in ``artifacts/transfer_head.json``, maps them to the ten genres.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

TAG_COUNT, PENULTIMATE_WIDTH = 50, 200


@dataclasses.dataclass(frozen=True)
class HeadSettings:
    """What the head reads, how it is regularised and how much of a clip it hears (chosen on validation)."""

    features: str = "tags"            # "tags" (50 logits), "penultimate" (200) or "both"
    l2: float = 1e-2                  # penalty on the distance to the prior weights
    prior_strength: float = 1.0       # weight of a genre's own tags in the prior
    patches_per_unit: int = 10        # 3 s patches spread over each 30 s unit at serving time
    level_db: float | None = None     # the level every input is brought to (None: as recorded)
    # "patches": the clip's answer averages every patch's probabilities; "clip": the head reads the
    # clip's mean tagger outputs (what a head trained on whole clips, real recordings among them, saw).
    pooling: str = "patches"
    # Tag-anchored heads: each genre's logit gets ``anchor`` times the mean raw logit of the MSD tags
    # that name it (``anchor_weights``), a fixed part that training cannot wash out.
    anchor: float = 0.0


def feature_matrix(tag_logits: np.ndarray, penultimate: np.ndarray, which: str) -> np.ndarray:
    """The tagger outputs the head reads, (patches x features)."""
    return {"tags": tag_logits, "penultimate": penultimate,
            "both": np.concatenate([tag_logits, penultimate], axis=1)}[which]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class TaggerHeard:
    """What the tagger heard in one clip, averaged over the patches the head read: kept in the analysis so the
    page can show the tags and explain the head's answer without running the tagger again."""

    tags: tuple[str, ...]        # the MSD tag names, in the tagger's output order
    probabilities: np.ndarray    # (50,) each tag's sigmoid, the mean over the patches
    tag_logits: np.ndarray       # (50,) the mean raw tag logits, what a clip-pooled head reads
    penultimate: np.ndarray      # (200,) the mean penultimate units

    @classmethod
    def of(cls, tags: tuple[str, ...], tag_logits: np.ndarray, penultimate: np.ndarray) -> "TaggerHeard":
        """From the patches' outputs (patches x 50, patches x 200), in float64 so no sigmoid overflows."""
        tag_logits = np.asarray(tag_logits, dtype=np.float64)
        return cls(tags, (1.0 / (1.0 + np.exp(-tag_logits))).mean(axis=0), tag_logits.mean(axis=0),
                   np.asarray(penultimate, dtype=np.float64).mean(axis=0))

    def ranked(self) -> list[tuple[str, float]]:
        """Tags from the most to the least probable."""
        return [(self.tags[index], float(self.probabilities[index])) for index in np.argsort(-self.probabilities)]


@dataclasses.dataclass(frozen=True)
class HeadPush:
    """How a clip's tagger outputs moved the head's logit for one genre against the average genre's."""

    tags: np.ndarray        # (50,) each MSD tag's push: the learned weight on it and the tag anchor
    inner_units: float      # the penultimate units' push together (0 when the head does not read them)
    anchored: np.ndarray    # (50,) bool: the genre's anchor tags (all False without an anchor)


@dataclasses.dataclass(frozen=True)
class TransferHead:
    """The trained head: standardisation, weights (genres x features) and biases."""

    settings: HeadSettings
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    extra: dict = dataclasses.field(default_factory=dict)   # calibration and training record
    anchor_weights: np.ndarray | None = None   # (genres x 50 tags) applied to raw tag logits, tag-anchored heads

    def logits(self, tag_logits: np.ndarray, penultimate: np.ndarray) -> np.ndarray:
        """Genre logits of each row of tagger outputs: the learned part plus the fixed tag anchor."""
        x = (feature_matrix(tag_logits, penultimate, self.settings.features) - self.mean) / self.std
        logits = x @ self.weights.T + self.bias
        if self.anchor_weights is not None and self.settings.anchor:
            logits = logits + self.settings.anchor * (np.asarray(tag_logits) @ self.anchor_weights.T)
        return logits

    def probabilities(self, tag_logits: np.ndarray, penultimate: np.ndarray) -> np.ndarray:
        """Genre probabilities of each patch, (patches x 10)."""
        return softmax(self.logits(tag_logits, penultimate))

    def clip_probabilities(self, tag_logits: np.ndarray, penultimate: np.ndarray) -> np.ndarray:
        """The clip's genre probabilities (10,) from all its patches, as the head was trained to pool them."""
        if self.settings.pooling == "clip":
            return softmax(self.logits(tag_logits.mean(axis=0, keepdims=True),
                                       penultimate.mean(axis=0, keepdims=True)))[0]
        return self.probabilities(tag_logits, penultimate).mean(axis=0)

    @property
    def tag_names(self) -> tuple[str, ...]:
        """The MSD tags in the tagger's output order (every head ``core.learn`` saves records them)."""
        return tuple(self.extra["tags"])

    @property
    def reads_tags(self) -> bool:
        return self.settings.features in ("tags", "both")

    def push(self, heard: TaggerHeard, genre: int) -> HeadPush:
        """Each input's push on ``genre``'s logit against the mean over genres (softmax ignores what moves every
        genre alike): input j gives (W[g,j] - mean_k W[k,j]) * x_j, x the standardised mean outputs, and the
        anchor adds anchor * (A[g,j] - mean_k A[k,j]) * tag logit j. Logits are linear in the outputs, so for a
        patch-pooled head this is the mean of the patches' pushes. With the bias's share, the pushes add up
        to the logit's distance from the mean logit.
        """
        x = (feature_matrix(heard.tag_logits[np.newaxis], heard.penultimate[np.newaxis], self.settings.features)[0]
             - self.mean) / self.std
        learned = (self.weights[genre] - self.weights.mean(axis=0)) * x
        count = len(heard.tag_logits)
        tags = learned[:count] if self.reads_tags else np.zeros(count)
        inner = learned[count:] if self.reads_tags else learned
        anchored = np.zeros(count, dtype=bool)
        if self.anchor_weights is not None and self.settings.anchor:
            anchored = self.anchor_weights[genre] != 0
            tags = tags + self.settings.anchor * (self.anchor_weights[genre] - self.anchor_weights.mean(axis=0)) \
                * heard.tag_logits
        return HeadPush(tags, float(inner.sum()), anchored)

    def save(self, path: str | Path) -> None:
        anchor = {} if self.anchor_weights is None else {"anchor_weights": self.anchor_weights.tolist()}
        Path(path).write_text(json.dumps({
            "settings": dataclasses.asdict(self.settings), "mean": self.mean.tolist(), "std": self.std.tolist(),
            "weights": self.weights.tolist(), "bias": self.bias.tolist(), **anchor, **self.extra}, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TransferHead":
        values = json.loads(Path(path).read_text())
        arrays = {name: np.asarray(values.pop(name), dtype=np.float64) for name in ("mean", "std", "weights", "bias")}
        anchor = values.pop("anchor_weights", None)
        return cls(settings=HeadSettings(**values.pop("settings")), extra=values,
                   anchor_weights=None if anchor is None else np.asarray(anchor, dtype=np.float64), **arrays)


def tagger_outputs(interpreter, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run the musicnn LiteRT interpreter on (patches, frames, bands): tag logits and penultimate.

    The two outputs are told apart by their width (50 and 200), which does not depend on how the
    converter ordered or named them.
    """
    details = interpreter.get_input_details()[0]
    if tuple(details["shape"]) != batch.shape:
        interpreter.resize_tensor_input(details["index"], batch.shape)
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()[0]
    interpreter.set_tensor(details["index"], np.ascontiguousarray(batch, dtype=np.float32))
    interpreter.invoke()
    by_width = {int(output["shape"][-1]): output["index"] for output in interpreter.get_output_details()}
    return (interpreter.get_tensor(by_width[TAG_COUNT]).copy(),
            interpreter.get_tensor(by_width[PENULTIMATE_WIDTH]).copy())
