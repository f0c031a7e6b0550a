"""Keras models to LiteRT flatbuffers, so that serving never imports TensorFlow."""

from __future__ import annotations

from pathlib import Path

# The LSTM's recurrent loop converts only with a fixed batch; serving feeds it this many windows
# at a time (padding the last batch).
LSTM_BATCH = 8


def to_litert(model, path: str | Path, batch_size: int | None = None) -> Path:
    """Convert a Keras model to a ``.tflite`` file with float32 weights (exact, not quantised)."""
    import tempfile

    import tensorflow as tf

    signature = [tf.TensorSpec((batch_size,) + tuple(model.input_shape[1:]), tf.float32)]
    with tempfile.TemporaryDirectory() as saved_model:
        model.export(saved_model, format="tf_saved_model", input_signature=signature, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        flatbuffer = converter.convert()
    path = Path(path)
    path.write_bytes(flatbuffer)
    return path


def export_model(name: str, model, directory: str | Path) -> Path:
    """Write ``<name>.tflite`` beside the Keras model, with the batch size serving expects."""
    return to_litert(model, Path(directory) / f"{name}.tflite", LSTM_BATCH if name == "lstm" else None)
