"""Fine-tuning musicnn's top layers on GTZAN, against the frozen tagger with the same head.

The shipped transfer model keeps musicnn frozen and trains a logistic-regression head on its tag
logits and penultimate layer (``core.learn.transfer``). The other route is to train the network
itself. Its front end and mid-end, convolutions over 3 s patches, are what a million songs taught
it; with 442 training clips only its backend is trained here: the dense layer from the pooled
features to the penultimate units (1506 -> 200), the tag layer (200 -> 50) and the head on top,
jointly. Its batch normalisations keep the statistics of the Million Song Dataset.

The backend's input, the pools over time of each patch (``pool_flat``), is computed once by a
LiteRT export of the port with that third output, from the same seeded versions of the same clips
as the head's tables, so the frozen head and every fine-tuned one are scored on the same patches.

Training starts from the tagger's weights and the frozen head fitted on the training list with the
shipped settings (what it reads, its regularisation, the mix of image-derived and audio examples,
clip- and genre-balanced weights). The dense layers are pulled towards their pretrained weights
(L2-SP: Li, Grandvalet & Davoine, "Explicit inductive bias for transfer learning with
convolutional networks", ICML 2018) and the head towards its tag prior as in ``fit_head``; dropout
acts on the pools. Every epoch is scored on the validation views (images, audio, audio measured);
the pull and the learning rate are chosen by the mean over seeds of each run's best epoch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import keras
import numpy as np

from core.learn import audit
from core.learn.transfer import (POOLED_WIDTH, PatchTable, TransferData, balanced_weights, fit_on, head_prior,
                                 transfer_tables, validation_scores, view_scores)
from core.serve.artifacts import ARTIFACTS_DIR, TAGGER_DESCRIPTION_FILE, TRUNK_WEIGHTS_FILE
from core.serve.config import GENRES
from core.serve.pretrained import HeadSettings, TransferHead

TRAINED_LAYERS = ("penultimate_dense", "tag_logits")      # the backend's dense layers, named as in the port


@dataclasses.dataclass(frozen=True)
class FinetuneSettings:
    """How the backend is fine-tuned."""

    pull: float = 0.1               # L2-SP strength towards the pretrained dense weights
    learning_rate: float = 3e-4     # Adam
    epochs: int = 12
    batch_size: int = 256
    dropout: float = 0.5            # on the pooled features


FINETUNE_GRID = tuple(FinetuneSettings(pull=pull, learning_rate=rate) for pull in (1.0, 0.1, 0.01)
                      for rate in (1e-4, 3e-4))


@keras.saving.register_keras_serializable(package="genre_lab")
class PullTowards(keras.regularizers.Regularizer):
    """``strength * sum((w - anchor)^2)``: keeps a layer near given weights instead of near zero."""

    def __init__(self, strength: float, anchor):
        self.strength = float(strength)
        self.anchor = np.asarray(anchor, dtype=np.float32)

    def __call__(self, weights):
        return self.strength * keras.ops.sum(keras.ops.square(weights - self.anchor))

    def get_config(self) -> dict:
        return {"strength": self.strength, "anchor": self.anchor.tolist()}


# ----------------------------------------------------------------------------- the port and its pools
def load_port(artifacts_dir: Path = ARTIFACTS_DIR):
    """The Keras port of the tagger with the weights ``core.musicnn_port`` verified and saved."""
    from core.learn.musicnn_port import build_musicnn

    port = build_musicnn()
    port.load_weights(Path(artifacts_dir) / TRUNK_WEIGHTS_FILE)
    return port


def with_pools(port):
    """The port with a third output, the backend's pools (``pool_flat``), beside the tags and penultimate units."""
    outputs = {"tag_logits": port.output["tag_logits"], "penultimate": port.output["penultimate"],
               "pooled": port.get_layer("pool_flat").output}
    return keras.Model(port.input, outputs, name="musicnn_msd_pooled")


def pooled_tagger(port, cache_dir: Path, artifacts_dir: Path = ARTIFACTS_DIR) -> Path:
    """A LiteRT file of the port that outputs the backend's pools beside the tags and penultimate units.

    Cached by the trunk's weights: the tables made with it are cached by its bytes.
    """
    from core.learn.musicnn_port import to_litert

    key = hashlib.sha256((Path(artifacts_dir) / TRUNK_WEIGHTS_FILE).read_bytes()).hexdigest()[:16]
    path = Path(cache_dir) / f"musicnn-pooled-{key}.tflite"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        to_litert(with_pools(port), path, "float32")
    return path


# ----------------------------------------------------------------------------- the model trained here
def build_top(port, head: TransferHead, tags: list[str], settings: FinetuneSettings):
    """Pools -> musicnn's backend (its dense layers trainable) -> the head's features -> genre probabilities.

    With the port's weights and ``head``'s, its output is the frozen transfer model's, patch for patch.
    """
    pooled = keras.Input((POOLED_WIDTH,), name="pooled")
    normalised = _copied(port, "pool_bn")(pooled)
    dropped = keras.layers.Dropout(settings.dropout, name="pool_dropout")(normalised)
    dense = _copied(port, "penultimate_dense", settings.pull)(dropped)
    penultimate = _copied(port, "penultimate")(dense)
    tag_logits = _copied(port, "tag_logits", settings.pull)(penultimate)
    features = {"tags": tag_logits, "penultimate": penultimate,
                "both": keras.layers.Concatenate(name="head_features")([tag_logits, penultimate])}[head.settings.features]
    standardised = keras.layers.Normalization(mean=head.mean, variance=head.std ** 2, name="standardise")(features)
    prior = head_prior(tags, head.std, head.settings)
    genre = keras.layers.Dense(len(GENRES), activation="softmax", name="genre",
                               kernel_regularizer=PullTowards(head.settings.l2, prior.T))
    probabilities = genre(standardised)
    genre.set_weights([head.weights.T, head.bias])
    return keras.Model(pooled, probabilities, name="musicnn_backend_finetuned")


def _copied(port, name: str, pull: float | None = None):
    """A new layer like the port's ``name`` with its weights: pulled towards them when ``pull`` is given,
    frozen (batch normalisation in inference mode) otherwise."""
    source = port.get_layer(name)
    anchors = source.get_weights()
    config = source.get_config()
    if pull is not None:
        config |= {"kernel_regularizer": PullTowards(pull, anchors[0]), "bias_regularizer": PullTowards(pull, anchors[1])}
    layer = type(source).from_config(config)
    layer.build(source.input.shape)
    layer.set_weights(anchors)
    layer.trainable = pull is not None
    return layer


def training_arrays(table: PatchTable, kinds: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pools, labels and sample weights of the training patches: every clip and genre weighs the same,
    as in ``train_head``; the weights average 1, so the pulls keep ``fit_head``'s scale."""
    mask = table.select(kinds)
    labels = table.labels[table.clip_index[mask]]
    weight = balanced_weights(table.clip_index[mask], labels)
    return table.pooled[mask], labels, weight / weight.mean()


def finetune(port, head: TransferHead, tags: list[str], train: PatchTable, valid: PatchTable, kinds: tuple[str, ...],
             settings: FinetuneSettings, seed: int) -> tuple[list[dict], dict]:
    """Fine-tune from ``head`` and the port; the validation views after each epoch, and the best epoch's weights."""
    keras.utils.set_random_seed(seed)
    model = build_top(port, head, tags, settings)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="sparse_categorical_crossentropy")
    pooled, labels, weight = training_arrays(train, kinds)
    history, best = [], {"mean": -1.0}
    for epoch in range(1, settings.epochs + 1):
        model.fit(pooled, labels, sample_weight=weight, batch_size=settings.batch_size, epochs=1, shuffle=True,
                  verbose=0)
        probabilities = model.predict(valid.pooled, batch_size=4096, verbose=0)
        scores = view_scores(lambda mask: probabilities[mask], valid)
        history.append({"epoch": epoch, "valid": scores, "mean": float(np.mean(list(scores.values())))})
        if history[-1]["mean"] > best["mean"]:
            best = history[-1] | {"weights": {layer.name: layer.get_weights() for layer in model.layers
                                              if layer.name in TRAINED_LAYERS + ("genre",)}}
    audit.chose_on("fine-tuned tagger epoch", train.clips + valid.clips)
    return history, best


def finetuned_tagger(port, best: dict, head: TransferHead) -> tuple[object, TransferHead]:
    """The port with the best epoch's dense weights and the head with its genre layer, ready to export."""
    for name in TRAINED_LAYERS:
        port.get_layer(name).set_weights(best["weights"][name])
    kernel, bias = best["weights"]["genre"]
    return port, TransferHead(head.settings, head.mean, head.std, kernel.T.astype(np.float64),
                              bias.astype(np.float64), head.extra)


# ----------------------------------------------------------------------------- the experiment
def choose_finetuning(data_dir: Path, lists: dict[str, list[str]], record: dict, table_seed: int, seeds: list[int],
                      cache_dir: Path, grid=FINETUNE_GRID, artifacts_dir: Path = ARTIFACTS_DIR, log=print) -> dict:
    """Every fine-tuning setting with every seed, scored on validation against the frozen head on the same patches.

    ``record`` is ``training.json``'s entry of the transfer model: its head settings, training mix and
    data are kept, and its tables are drawn with ``table_seed`` (``core.train``'s seed). Returns the
    trials, the frozen head's scores, the chosen trial's index and, for its first seed, the port and head to export.
    """
    port = load_port(artifacts_dir)
    tagger = pooled_tagger(port, cache_dir, artifacts_dir)
    tables, _ = transfer_tables(data_dir, lists, tagger, table_seed, TransferData(**record["data"]), cache_dir, log)
    tags = json.loads((Path(artifacts_dir) / TAGGER_DESCRIPTION_FILE).read_text())["tags"]
    settings = HeadSettings(**record["settings"])
    kinds = tuple(record["training_kinds"])
    frozen = fit_on(tables["train"], tables["train"].select(kinds), tags, settings)
    frozen_scores = validation_scores(frozen, tables["valid"])
    log("fine-tuning: frozen head on the same patches: "
        + "  ".join(f"{view} {value:.3f}" for view, value in frozen_scores.items()))
    trials, firsts = [], {}
    for index, trial in enumerate(grid):
        runs = []
        for seed in seeds:
            started = time.perf_counter()
            history, best = finetune(port, frozen, tags, tables["train"], tables["valid"], kinds, trial, seed)
            runs.append({"seed": seed, "best_epoch": best["epoch"], "valid": best["valid"], "mean": best["mean"],
                         "history": history, "seconds": time.perf_counter() - started})
            if seed == seeds[0]:
                firsts[index] = best
            log(f"  pull {trial.pull:g} rate {trial.learning_rate:g} seed {seed}: best epoch {best['epoch']}, "
                + "  ".join(f"{view} {value:.3f}" for view, value in best["valid"].items()))
        trials.append({"settings": dataclasses.asdict(trial), "runs": runs,
                       "mean": float(np.mean([run["mean"] for run in runs]))})
    chosen = max(range(len(trials)), key=lambda index: trials[index]["mean"])
    audit.chose_on("fine-tuning settings", tables["train"].clips + tables["valid"].clips)
    return {"trials": trials, "chosen": chosen, "frozen_valid": frozen_scores,
            "first_seed": finetuned_tagger(port, firsts[chosen], frozen)}
