"""The pretrained musicnn taggers (Pons & Serra 2019) as Keras 3 models and LiteRT files.

musicnn 0.1.0 (ISC licence) ships its networks as TensorFlow 1 checkpoints and builds them with
``tf.compat.v1.layers``, which TensorFlow 2.16 and later no longer provide next to Keras 3. This
module rebuilds the MSD-trained musicnn (``MSD_musicnn``: 50 Million Song Dataset tags), or the
MagnaTagATune-trained one of the same architecture and input (``MTT_musicnn``: 50 MagnaTagATune tags),
as a Keras 3 functional model, loads every variable of the checkpoint into it, checks it against the
original TensorFlow 1 graph, and exports what serving needs to LiteRT::

    python -m core.musicnn_port [--checkpoint MSD_musicnn|MTT_musicnn] [--out artifacts]
                                [--data ../shared/data/gtzan] [--musicnn DIR]

For ``MSD_musicnn`` (the default, the tagger genre-lab serves) it writes ``musicnn.tflite`` (input
``log_mel``: patches x 187 frames x 96 mel bands, any number of patches; outputs ``tag_logits`` and
``penultimate``, see below), ``musicnn.json`` (source, licence, tag names, front-end settings,
outputs, verification figures), ``musicnn_trunk.weights.h5`` (the Keras port's weights:
``build_musicnn().load_weights(path)``, so training needs neither the wheel nor TensorFlow 1
checkpoints) and the test fixture ``tests/data/musicnn_reference.npz`` (three patches and the
original graph's outputs on them). For ``MTT_musicnn`` the same files are ``musicnn_mtt.tflite``,
``musicnn_mtt.json``, ``musicnn_mtt_trunk.weights.h5`` and ``tests/data/musicnn_mtt_reference.npz``
(``PORTS``); nothing serves that tagger yet.

The wheel comes from ``ensure_wheel``: an unpacked copy in ``$GENRE_LAB_MUSICNN``, in ``../musicnn``
beside the repository or in ``~/.cache/genre-lab/musicnn``, else ``pip download`` into that cache.
The reference is the graph the authors saved with the checkpoint (its ``.meta`` file, TensorFlow
1.12), imported into its own ``tf.Graph`` and run in graph mode with ``is_training`` false; it is
the graph the wheel's ``models.build_musicnn`` builds, op for op, and needs no ``tf.compat.v1.layers``.

Each LiteRT file's outputs, in ``get_output_details()`` order: 0 ``penultimate`` (patches x 200,
tensor ``StatefulPartitionedCall_1:0``), 1 ``tag_logits`` (patches x 50, before the sigmoid,
``StatefulPartitionedCall_1:1``). Order and tensor names are the converter's choice, so readers
find the outputs by signature name (``get_signature_runner("serving_default")``) or by width
(``litert_outputs``); its JSON file records both.

Weights stay float32: float16 weights halve the file (1.6 MB instead of 3.2 MB) but move the tag
probabilities by up to 2e-3 (logits by 0.02, the penultimate layer by 0.011) for no measurable
speed gain, since LiteRT widens them to float32 when it loads the model and computes in float32.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.serve.artifacts import (ARTIFACTS_DIR, MTT_TAGGER_DESCRIPTION_FILE, MTT_TAGGER_FILE, MTT_TRUNK_WEIGHTS_FILE,
                                  ROOT, TAGGER_DESCRIPTION_FILE, TAGGER_FILE, TRUNK_WEIGHTS_FILE)
from core.serve.config import PretrainedConfig

MUSICNN_ENV = "GENRE_LAB_MUSICNN"
MUSICNN_VERSION = "0.1.0"
WHEEL = f"musicnn-{MUSICNN_VERSION}-py3-none-any.whl"
DEFAULT_CACHE = Path.home() / ".cache" / "genre-lab" / "musicnn"
SIBLING_COPY = ROOT.parent / "musicnn"


@dataclass(frozen=True)
class Port:
    """One checkpoint of the wheel and where its port goes."""

    checkpoint: str            # its folder in the wheel (``musicnn/<checkpoint>/``)
    labels: str                # the list of its tag names in the wheel's ``configuration.py``
    name: str                  # "name" in the description
    model_name: str            # the Keras model's name
    tagger_file: str           # in ``--out``
    description_file: str
    trunk_weights_file: str
    fixture: Path


PORTS = {port.checkpoint: port for port in (
    Port("MSD_musicnn", "MSD_LABELS", "musicnn MSD tagger", "musicnn_msd", TAGGER_FILE, TAGGER_DESCRIPTION_FILE,
         TRUNK_WEIGHTS_FILE, ROOT / "tests" / "data" / "musicnn_reference.npz"),
    Port("MTT_musicnn", "MTT_LABELS", "musicnn MTT tagger", "musicnn_mtt", MTT_TAGGER_FILE, MTT_TAGGER_DESCRIPTION_FILE,
         MTT_TRUNK_WEIGHTS_FILE, ROOT / "tests" / "data" / "musicnn_mtt_reference.npz"),
)}
CHECKPOINT = "MSD_musicnn"        # the tagger genre-lab serves
FIXTURE = PORTS[CHECKPOINT].fixture
MTT_FIXTURE = PORTS["MTT_musicnn"].fixture

SOURCE = {
    "package": "musicnn", "version": MUSICNN_VERSION, "wheel": WHEEL, "checkpoint": CHECKPOINT,
    "licence": "ISC", "authors": ["Jordi Pons", "Xavier Serra"],
    "paper": "Pons & Serra, \"musicnn: pre-trained convolutional neural networks for music audio tagging\", "
             "ISMIR 2019 late-breaking/demo",
}

# Architecture of MSD_musicnn and MTT_musicnn (models.build_musicnn with num_filt_midend=64, num_units_backend=200).
N_TAGS = 50
TIMBRAL_FILTERS = 204             # int(1.6 * 128)
TEMPORAL_FILTERS = 51             # int(1.6 * 32)
MIDEND_FILTERS = 64
BACKEND_UNITS = 200
BN_EPSILON = 1e-3                 # tf.compat.v1.layers.batch_normalization's default

# Each Keras layer and the checkpoint scope (tf.compat.v1.layers' automatic names) it takes its weights from.
CHECKPOINT_SCOPES = {
    "input_bn": "batch_normalization",
    "timbral_74_conv": "conv2d", "timbral_74_bn": "batch_normalization_1",
    "timbral_77_conv": "conv2d_1", "timbral_77_bn": "batch_normalization_2",
    "temporal_128_conv": "conv2d_2", "temporal_128_bn": "batch_normalization_3",
    "temporal_64_conv": "conv2d_3", "temporal_64_bn": "batch_normalization_4",
    "temporal_32_conv": "conv2d_4", "temporal_32_bn": "batch_normalization_5",
    "midend_1_conv": "conv2d_5", "midend_1_bn": "batch_normalization_6",
    "midend_2_conv": "conv2d_6", "midend_2_bn": "batch_normalization_7",
    "midend_3_conv": "conv2d_7", "midend_3_bn": "batch_normalization_8",
    "pool_bn": "batch_normalization_9",
    "penultimate_dense": "dense", "penultimate": "batch_normalization_10",
    "tag_logits": "dense_1",
}
# Checkpoint variable names of a layer's weights, in Keras's order.
WEIGHT_NAMES = {
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
    "Conv1D": ("kernel", "bias"), "Conv2D": ("kernel", "bias"), "Dense": ("kernel", "bias"),
}
# Training state saved beside the weights: Adam's slots and its beta powers.
OPTIMIZER_SUFFIXES = ("/Adam", "/Adam_1")
OPTIMIZER_VARIABLES = ("beta1_power", "beta2_power")

# Tensors of the original graph (the .meta file) and what they are.
ORIGINAL_INPUT = "model/Placeholder:0"
ORIGINAL_IS_TRAINING = "model/Placeholder_2:0"
ORIGINAL_TENSORS = {
    "tag_probabilities": "model/Sigmoid:0",
    "tag_logits": "model/dense_1/BiasAdd:0",
    "penultimate": "model/batch_normalization_10/batchnorm/add_1:0",
    "max_pool": "model/Max:0",                    # (patches, 753, 1), squeezed like models.py does
    "mean_pool": "model/moments/Squeeze:0",       # (patches, 753, 1)
}

# What the LiteRT file returns, by signature output name, with its width.
TFLITE_OUTPUTS = {"tag_logits": N_TAGS, "penultimate": BACKEND_UNITS}
TFLITE_INPUT = "log_mel"
MAX_PATCHES = 16                  # the largest batch verified; the input's batch dimension is dynamic
# Largest difference from the original graph accepted, as a fraction of each output's range: float32
# weights agree to about 1e-6, float16 weights to about 3e-3.
TOLERANCE = {"float32": 1e-5, "float16": 1e-2}
REFERENCE_CLIPS = ("blues/blues.00000.mp3", "jazz/jazz.00000.mp3")


# ----------------------------------------------------------------------------- the wheel
def _unpacked(folder: Path, checkpoint: str) -> Path:
    return folder / "wheel" / "musicnn" / checkpoint


def ensure_wheel(cache_dir: str | Path | None = None, checkpoint: str = CHECKPOINT) -> Path:
    """The ``checkpoint`` folder (``MSD_musicnn``, ``MTT_musicnn``) of an unpacked musicnn 0.1.0 wheel,
    fetched if needed.

    A folder holds the wheel file and its unpacked copy under ``wheel/``. It is ``cache_dir`` when
    given, else ``$GENRE_LAB_MUSICNN``, else ``../musicnn`` beside the repository when that has an
    unpacked copy, else ``~/.cache/genre-lab/musicnn``. A missing wheel is fetched with
    ``pip download --no-deps musicnn==0.1.0`` (never installed: it pins a NumPy of 2019).
    """
    if cache_dir is None and os.environ.get(MUSICNN_ENV):
        cache_dir = os.environ[MUSICNN_ENV]
    if cache_dir is None:
        cache_dir = SIBLING_COPY if _unpacked(SIBLING_COPY, checkpoint).is_dir() else DEFAULT_CACHE
    folder = Path(cache_dir).expanduser()
    unpacked = _unpacked(folder, checkpoint)
    if (unpacked / ".index").is_file():
        return unpacked
    wheel = folder / WHEEL
    if not wheel.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--dest", str(folder), f"musicnn=={MUSICNN_VERSION}"], check=True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder / "wheel")
    return unpacked


def read_checkpoint(folder: str | Path) -> dict[str, np.ndarray]:
    """The network's variables in a musicnn checkpoint folder, by name (optimizer state left out).

    The checkpoint's prefix is the folder itself (files ``.index``, ``.data-00000-of-00001``) and its
    ``checkpoint`` state file names a folder on the authors' machine, so ``tf.train.load_checkpoint``
    given the folder looks there and fails; the reader it would return is opened on the prefix instead.
    """
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(f"{Path(folder)}/")
    return {name: reader.get_tensor(name) for name in sorted(reader.get_variable_to_shape_map())
            if not name.endswith(OPTIMIZER_SUFFIXES) and name not in OPTIMIZER_VARIABLES}


def checkpoint_tags(checkpoint: Path) -> list[str]:
    """The 50 tag names of a checkpoint folder in output order: its ``labels`` list (``MSD_LABELS``,
    ``MTT_LABELS``) in the wheel's ``configuration.py``."""
    labels = PORTS[checkpoint.name].labels
    tree = ast.parse((checkpoint.parent / "configuration.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == labels for target in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError(f"no {labels} in {checkpoint.parent / 'configuration.py'}")


def licence_notice(checkpoint: Path) -> str:
    """The wheel's ISC copyright and permission notice, which must travel with copies of the weights."""
    return (checkpoint.parents[1] / f"musicnn-{MUSICNN_VERSION}.dist-info" / "LICENSE.md").read_text().strip()


# ----------------------------------------------------------------------------- the Keras port
def _batch_norm(name: str):
    import keras

    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def _frequency_max(features, name: str):
    """Max over the whole frequency axis: (batch, time, bands, filters) to (batch, time, filters)."""
    import keras

    pooled = keras.layers.MaxPooling2D(pool_size=(1, features.shape[2]), name=f"{name}_pool")(features)
    return keras.layers.Reshape((-1, features.shape[3]), name=f"{name}_squeeze")(pooled)


def _timbral_block(normalised, bands: int, name: str):
    """Filters 7 frames by ``bands`` mel bands (time zero-padded by 3 each side), then max over frequency."""
    import keras

    padded = keras.layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"{name}_pad")(normalised)
    conv = keras.layers.Conv2D(TIMBRAL_FILTERS, (7, bands), activation="relu", name=f"{name}_conv")(padded)
    return _frequency_max(_batch_norm(f"{name}_bn")(conv), name)


def _temporal_block(normalised, frames: int, name: str):
    """Filters ``frames`` frames by one band ('same' padding over time), then max over frequency."""
    import keras

    conv = keras.layers.Conv2D(TEMPORAL_FILTERS, (frames, 1), padding="same", activation="relu",
                               name=f"{name}_conv")(normalised)
    return _frequency_max(_batch_norm(f"{name}_bn")(conv), name)


def _midend_layer(features, name: str):
    """Seven frames by every feature, 64 filters (zero-padded by 3 each side: 'same')."""
    import keras

    conv = keras.layers.Conv1D(MIDEND_FILTERS, 7, padding="same", activation="relu", name=f"{name}_conv")(features)
    return _batch_norm(f"{name}_bn")(conv)


def build_musicnn(patch_frames: int = PretrainedConfig.patch_frames, n_mels: int = PretrainedConfig.n_mels,
                  name: str = PORTS[CHECKPOINT].model_name):
    """musicnn (MSD_musicnn or MTT_musicnn, the same network) in inference mode as a Keras 3 functional
    model called ``name`` (weights not loaded).

    Input ``log_mel`` (batch, patch_frames, n_mels) float32; outputs a dict: ``tag_logits`` (50,
    before the sigmoid), ``penultimate`` (200, the batch-normalised dense layer), ``mean_pool`` and
    ``max_pool`` (753 each, the backend's pools over time). Layers as in the wheel's ``models.py``:
    the 2-D convolutions that span all their input's features are 1-D convolutions here, and the
    backend's pools are interleaved (max, mean per feature) as ``tf.concat(..., 2)`` then flatten
    laid them out, so the checkpoint's weights load unchanged.
    """
    import keras

    log_mel = keras.Input((patch_frames, n_mels), name=TFLITE_INPUT)
    image = keras.layers.Reshape((patch_frames, n_mels, 1), name="add_channel")(log_mel)
    normalised = _batch_norm("input_bn")(image)
    front = [
        _timbral_block(normalised, int(0.4 * n_mels), "timbral_74"),
        _timbral_block(normalised, int(0.7 * n_mels), "timbral_77"),
        _temporal_block(normalised, 128, "temporal_128"),
        _temporal_block(normalised, 64, "temporal_64"),
        _temporal_block(normalised, 32, "temporal_32"),
    ]
    front_end = keras.layers.Concatenate(name="front_end")(front)
    mid_1 = _midend_layer(front_end, "midend_1")
    mid_2 = keras.layers.Add(name="midend_2_residual")([_midend_layer(mid_1, "midend_2"), mid_1])
    mid_3 = keras.layers.Add(name="midend_3_residual")([_midend_layer(mid_2, "midend_3"), mid_2])
    features = keras.layers.Concatenate(name="mid_end")([front_end, mid_1, mid_2, mid_3])

    max_pool = keras.layers.GlobalMaxPooling1D(name="max_pool")(features)
    mean_pool = keras.layers.GlobalAveragePooling1D(name="mean_pool")(features)
    width = features.shape[-1]
    pairs = keras.layers.Concatenate(name="pool_pairs")([keras.layers.Reshape((width, 1), name="max_column")(max_pool),
                                                         keras.layers.Reshape((width, 1), name="mean_column")(mean_pool)])
    pooled = _batch_norm("pool_bn")(keras.layers.Flatten(name="pool_flat")(pairs))
    dense = keras.layers.Dense(BACKEND_UNITS, activation="relu", name="penultimate_dense")(pooled)
    penultimate = _batch_norm("penultimate")(dense)
    logits = keras.layers.Dense(N_TAGS, name="tag_logits")(penultimate)
    outputs = {"tag_logits": logits, "penultimate": penultimate, "mean_pool": mean_pool, "max_pool": max_pool}
    return keras.Model(log_mel, outputs, name=name)


def load_checkpoint_weights(model, variables: dict[str, np.ndarray]) -> None:
    """Set every weight of ``build_musicnn``'s model from the checkpoint's variables.

    Raises ``ValueError`` when a variable is missing, left unused or of another size.
    """
    used = set()
    for layer_name, scope in CHECKPOINT_SCOPES.items():
        layer = model.get_layer(layer_name)
        names = [f"{scope}/{weight}" for weight in WEIGHT_NAMES[type(layer).__name__]]
        missing = [name for name in names if name not in variables]
        if missing:
            raise ValueError(f"checkpoint has no {missing} for layer {layer_name}")
        values = []
        for name, weight in zip(names, layer.get_weights()):
            value = variables[name]
            if value.size != weight.size:
                raise ValueError(f"{name} has shape {value.shape}, layer {layer_name} expects {weight.shape}")
            values.append(value.reshape(weight.shape))
        layer.set_weights(values)
        used.update(names)
    unused = sorted(set(variables) - used)
    if unused:
        raise ValueError(f"checkpoint variables not used by the port: {unused}")
    unloaded = [layer.name for layer in model.layers if layer.weights and layer.name not in CHECKPOINT_SCOPES]
    if unloaded:
        raise ValueError(f"layers with weights not in the checkpoint: {unloaded}")


def serving_model(port):
    """The port with only what serving reads: ``tag_logits`` and ``penultimate``."""
    import keras

    return keras.Model(port.input, {name: port.output[name] for name in TFLITE_OUTPUTS}, name=f"{port.name}_serving")


# ----------------------------------------------------------------------------- the original graph
def original_outputs(checkpoint: Path, batch: np.ndarray) -> dict[str, np.ndarray]:
    """The authors' TensorFlow 1 graph (the checkpoint's ``.meta``) on a batch of patches, in graph mode."""
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    meta_graph = meta_graph_pb2.MetaGraphDef.FromString((checkpoint / ".meta").read_bytes())
    # TensorFlow 1.12 recorded output shapes that today's shape inference disagrees with (the
    # reserve space of FusedBatchNormGrad, a training op); they are hints only, so drop them.
    for node in meta_graph.graph_def.node:
        node.attr.pop("_output_shapes", None)
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True)
        with tf.compat.v1.Session(graph=graph) as session:
            saver.restore(session, f"{checkpoint}/")
            fetches = {name: graph.get_tensor_by_name(tensor) for name, tensor in ORIGINAL_TENSORS.items()}
            feed = {graph.get_tensor_by_name(ORIGINAL_INPUT): batch, graph.get_tensor_by_name(ORIGINAL_IS_TRAINING): False}
            values = session.run(fetches, feed)
    return {name: np.squeeze(value, axis=2) if value.ndim == 3 else value for name, value in values.items()}


def reference_patches(data_dir: Path, config: PretrainedConfig = PretrainedConfig()) -> tuple[np.ndarray, list[str]]:
    """The NumPy front end's consecutive patches of ``REFERENCE_CLIPS`` and a label for each."""
    from core.serve.audio import decode
    from core.serve.musicnn_input import log_mel, patches

    batches, labels = [], []
    for clip in REFERENCE_CLIPS:
        audio = decode(data_dir / clip)
        clip_patches = patches(log_mel(audio.samples, audio.sample_rate, config))
        batches.append(clip_patches)
        labels += [f"{clip} patch {index}" for index in range(len(clip_patches))]
    return np.concatenate(batches), labels


def with_probabilities(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``outputs`` and the tag probabilities, the sigmoid of ``tag_logits`` (computed in float64)."""
    return {**outputs, "tag_probabilities": 1.0 / (1.0 + np.exp(-outputs["tag_logits"].astype(np.float64)))}


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def max_differences(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest absolute difference per output present in both."""
    return {name: float(np.max(np.abs(ours[name] - reference[name]))) for name in reference if name in ours}


def check_close(what: str, ours: dict[str, np.ndarray], reference: dict[str, np.ndarray], tolerance: float) -> dict:
    """Print and return the largest absolute differences; raise when one exceeds ``tolerance`` times
    the largest magnitude of that reference output."""
    differences = max_differences(ours, reference)
    print(f"{what}: largest absolute differences {differences}")
    too_far = {name: value for name, value in differences.items()
               if value > tolerance * float(np.max(np.abs(reference[name])))}
    if too_far:
        raise ValueError(f"{what}: differences beyond {tolerance:g} of the reference's range: {too_far}")
    return differences


# ----------------------------------------------------------------------------- LiteRT
def to_litert(model, path: Path, weights: str) -> Path:
    """Convert with a dynamic batch; ``weights`` is ``"float32"`` or ``"float16"`` (computed in float32)."""
    import tensorflow as tf

    signature = [tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, name=TFLITE_INPUT)]
    with tempfile.TemporaryDirectory() as saved_model:
        model.export(saved_model, format="tf_saved_model", input_signature=signature, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        if weights == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        path.write_bytes(converter.convert())
    return path


def litert_outputs(interpreter, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Run a musicnn LiteRT interpreter on a batch of patches; outputs by name.

    The outputs are told apart by their width (50 tags, 200 penultimate units), which does not
    depend on how the converter named or ordered them.
    """
    details = interpreter.get_input_details()[0]
    if tuple(details["shape"]) != batch.shape:
        interpreter.resize_tensor_input(details["index"], batch.shape)
        interpreter.allocate_tensors()
    interpreter.set_tensor(details["index"], np.ascontiguousarray(batch, dtype=np.float32))
    interpreter.invoke()
    by_width = {int(output["shape"][-1]): output["index"] for output in interpreter.get_output_details()}
    return {name: interpreter.get_tensor(by_width[width]).copy() for name, width in TFLITE_OUTPUTS.items()}


def litert_timing(interpreter, batch: np.ndarray, repeats: int = 10) -> float:
    """Median seconds of one warm call on ``batch``."""
    litert_outputs(interpreter, batch)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        litert_outputs(interpreter, batch)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def output_order(path: Path) -> list[dict]:
    """The file's outputs in ``get_output_details`` order: signature name, tensor name and shape."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    runner_outputs = interpreter.get_signature_runner("serving_default").get_output_details()
    names = {details["index"]: name for name, details in runner_outputs.items()}
    return [{"position": position, "name": names[output["index"]], "tensor": output["name"],
             "shape": [-1, int(output["shape"][-1])]}
            for position, output in enumerate(interpreter.get_output_details())]


# ----------------------------------------------------------------------------- command
def export(out: Path, data_dir: Path, musicnn_dir: str | None, weights: str, fixture: Path | None = None,
           checkpoint_name: str = CHECKPOINT) -> dict:
    """Build, verify and export the port of ``checkpoint_name`` (a key of ``PORTS``) to the files
    ``PORTS`` names; ``fixture`` None is its own. Return what was written to its JSON description."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    spec = PORTS[checkpoint_name]
    fixture = spec.fixture if fixture is None else fixture
    config = PretrainedConfig()
    checkpoint = ensure_wheel(musicnn_dir, checkpoint_name)
    port = build_musicnn(config.patch_frames, config.n_mels, spec.model_name)
    load_checkpoint_weights(port, read_checkpoint(checkpoint))

    batch, labels = reference_patches(data_dir, config)
    original = original_outputs(checkpoint, batch)
    keras_outputs = with_probabilities({name: keras.ops.convert_to_numpy(value)
                                        for name, value in port(batch, training=False).items()})
    keras_vs_original = check_close(f"Keras port vs original graph ({len(batch)} patches)", keras_outputs, original,
                                    TOLERANCE["float32"])

    out.mkdir(parents=True, exist_ok=True)
    trunk = out / spec.trunk_weights_file
    port.save_weights(trunk)
    reloaded = build_musicnn(config.patch_frames, config.n_mels, spec.model_name)
    reloaded.load_weights(trunk)
    check_close(f"Keras port reloaded from {trunk.name}", {name: keras.ops.convert_to_numpy(value) for name, value
                                                          in reloaded(batch, training=False).items()}, keras_outputs, 0.0)

    tflite = to_litert(serving_model(port), out / spec.tagger_file, weights)
    interpreter = Interpreter(model_path=str(tflite), num_threads=2)
    interpreter.allocate_tensors()
    litert = with_probabilities(_concatenate([litert_outputs(interpreter, batch[start:start + MAX_PATCHES])
                                              for start in range(0, len(batch), MAX_PATCHES)]))
    one_by_one = _concatenate([litert_outputs(interpreter, batch[index:index + 1]) for index in range(len(batch))])
    litert_vs_original = check_close(f"LiteRT ({weights} weights, {MAX_PATCHES} patches a call) vs original graph",
                                     litert, original, TOLERANCE[weights])
    check_close("LiteRT vs Keras port", litert, keras_outputs, TOLERANCE[weights])
    check_close(f"LiteRT one patch a call vs {MAX_PATCHES}", one_by_one, litert, TOLERANCE["float32"])
    per_patch, per_ten = litert_timing(interpreter, batch[:1]), litert_timing(interpreter, batch[:10])
    print(f"LiteRT warm, 2 threads: {1000 * per_patch:.1f} ms per patch, {1000 * per_ten:.1f} ms per batch of 10; "
          f"{tflite.stat().st_size / 1e6:.2f} MB")

    chosen = [0, len(batch) // 4, len(batch) // 2]   # two blues patches (first and middle), the first jazz one
    fixture.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(fixture, patches=batch[chosen], labels=np.array([labels[index] for index in chosen]),
                        **{name: original[name][chosen] for name in ("tag_probabilities", "penultimate")})
    description = {
        "name": spec.name,
        "source": {**SOURCE, "checkpoint": checkpoint_name, "licence_notice": licence_notice(checkpoint)},
        "tags": checkpoint_tags(checkpoint),
        "patch_frames": config.patch_frames,
        "front_end": config.to_dict(),
        "input": {"name": TFLITE_INPUT, "shape": [-1, config.patch_frames, config.n_mels], "dtype": "float32"},
        "outputs": output_order(tflite),
        "weights": weights,
        "verification": {
            "clips": list(REFERENCE_CLIPS), "patches": len(batch),
            "keras_vs_original_max_abs": keras_vs_original, "litert_vs_original_max_abs": litert_vs_original,
        },
    }
    (out / spec.description_file).write_text(json.dumps(description, indent=2) + "\n")
    return description


def main(argv: list[str] | None = None) -> int:
    from core.learn.gtzan import default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", choices=tuple(PORTS), default=CHECKPOINT,
                        help=f"which of the wheel's musicnn checkpoints to port (default: {CHECKPOINT}, the served "
                             "tagger; MTT_musicnn writes musicnn_mtt.*)")
    parser.add_argument("--out", type=Path, default=ARTIFACTS_DIR, help="artifacts folder (default: artifacts/)")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="GTZAN folder with the reference clips (default: $GENRE_LAB_DATA or ../shared/data/gtzan)")
    parser.add_argument("--musicnn", default=None, help=f"folder with the musicnn wheel (default: ${MUSICNN_ENV}, "
                                                        f"../musicnn or {DEFAULT_CACHE})")
    parser.add_argument("--weights", choices=("float32", "float16"), default="float32", help="LiteRT weight type")
    parser.add_argument("--fixture", type=Path, default=None,
                        help=f"where the test fixture goes (default: {FIXTURE.relative_to(ROOT)} or "
                             f"{MTT_FIXTURE.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("no GTZAN folder: pass --data or set GENRE_LAB_DATA")
    export(args.out, args.data, args.musicnn, args.weights, args.fixture, args.checkpoint)
    return 0
