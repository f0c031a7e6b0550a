"""Serving: decode a clip, compute its representations, run the exported models, combine their verdict.

Runs on NumPy, SciPy, soxr, soundfile and LiteRT only. Nothing here imports ``core.learn``,
``core.app``, TensorFlow, Keras, librosa or scikit-learn (``.importlinter`` and
``tests/test_architecture.py`` check it).
"""
