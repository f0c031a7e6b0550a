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
