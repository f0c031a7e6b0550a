"""Learning: the GTZAN data, model builders, training, export, evaluation, the benchmark and the reports.

May use TensorFlow, Keras, librosa and scikit-learn, and imports serving (``core.serve``) for the
one representation, the artifact names and the exported models' behaviour. Nothing outside
``core.learn`` and the ``core/<command>.py`` entry points imports it.
"""
