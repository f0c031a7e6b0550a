"""The Keras models, built from the feature configuration: the three served ones and the variants
``core.learn.experiments`` measures against them.

Training-time only: serving runs their LiteRT exports (``core.learn.export``, ``core.serve.inference``) so that
the app never imports TensorFlow.
"""

from __future__ import annotations

import dataclasses

from core.serve.config import GENRES, FeatureConfig

# The models trained here (the transfer model's head is trained by core.learn.transfer).
KERAS_MODELS = ("cnn", "lstm", "baseline")


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """Hyperparameters of one model, chosen on the validation list and saved with the model."""

    learning_rate: float = 1e-3
    batch_size: int = 32
    max_epochs: int = 40
    patience: int = 10
    windows_per_clip: int = 6            # random crops drawn from every training clip per epoch
    dropout: float = 0.3
    noise_levels: float = 1.5            # std of Gaussian noise added to the levels (MP3 robustness)
    freq_masks: int = 1                  # SpecAugment-style masks
    time_masks: int = 1
    mask_fraction: float = 0.15
    mixup_alpha: float = 0.2
    capture_probability: float = 0.0    # share of training clips heard as if captured by a device in a room, each epoch
    capture_images: bool = True          # False: only clips with audio are captured (image-only clips stay clean)
    centre_over_time: bool = False       # the network first removes each band's (coefficient's) mean over the window
    plateau_epochs: int = 4              # halve the learning rate after this many epochs without progress


def centred_over_time(inputs):
    """The window minus each band's mean over its time steps (bands x time x 1, or time x coefficients).

    A speaker's, a room's or a microphone's fixed frequency response adds a constant to each band in
    dB (and to each MFCC), so a network that only sees the variation over time does not hear it.
    """
    from keras import layers

    over_time = layers.AveragePooling2D((1, inputs.shape[2])) if len(inputs.shape) == 4 else \
        layers.GlobalAveragePooling1D(keepdims=True)
    return layers.Subtract(name="centred_over_time")([inputs, over_time(inputs)])


def cnn_input_shape(config: FeatureConfig) -> tuple[int, int, int]:
    return (config.n_mels, config.window_columns, 1)


def lstm_input_shape(config: FeatureConfig) -> tuple[int, int]:
    return (config.window_columns, config.n_mfcc)


def build_cnn(config: FeatureConfig, settings: TrainingSettings, filters=(16, 32, 64, 128)):
    """Four convolution blocks (conv, batch norm, ReLU, pooling), then an average over time only.

    Averaging over time but not over frequency keeps where in the spectrum the patterns are, which
    matters for genre (a bass line and a hi-hat look alike to a filter, not to the classifier).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=cnn_input_shape(config), name="log_mel")
    x = centred_over_time(inputs) if settings.centre_over_time else inputs
    for block, width in enumerate(filters):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{block + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{block + 1}")(x)
        x = layers.ReLU(name=f"relu{block + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block + 1}")(x)
    x = layers.AveragePooling2D(pool_size=(1, x.shape[2]), name="average_over_time")(x)
    x = layers.Flatten(name="frequency_by_channel")(x)
    x = layers.Dropout(settings.dropout, name="dropout")(x)
    outputs = layers.Dense(len(GENRES), activation="softmax", name="genre")(x)
    return _compiled(keras.Model(inputs, outputs, name="cnn"), settings)


def build_lstm(config: FeatureConfig, settings: TrainingSettings, front_filters=64, units=(64, 64), dense=64):
    """A 1-D convolution over time, two stacked LSTMs, a ReLU dense layer with dropout, softmax.

    The convolution (3 columns, about 0.3 s) turns each MFCC frame and its neighbours into local
    patterns before the LSTMs read them in order; on the validation list it lifted the LSTM by about
    3 points (three seeds, ``core.learn.train.model_settings``).
    """
    return build_recurrent(config, settings, "lstm", front_filters=front_filters, units=units, dense=dense)


def build_recurrent(config: FeatureConfig, settings: TrainingSettings, cell: str = "lstm",
                    bidirectional: bool = False, front_filters: int | None = 64, units=(64, 64), dense=64,
                    name: str = "lstm"):
    """The LSTM's family on MFCC sequences: ``cell`` "lstm" or "gru", optionally bidirectional,
    with or without the convolution over time in front (``front_filters=None``)."""
    import keras
    from keras import layers

    recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[cell]
    inputs = keras.Input(shape=lstm_input_shape(config), name="mfcc_sequence")
    x = centred_over_time(inputs) if settings.centre_over_time else inputs
    if front_filters:
        x = layers.Conv1D(front_filters, 3, padding="same", use_bias=False, name="conv_over_time")(x)
        x = layers.BatchNormalization(name="bn")(x)
        x = layers.ReLU(name="relu")(x)
    for index, width in enumerate(units):
        layer = recurrent(width, return_sequences=index < len(units) - 1, name=f"{cell}{index + 1}")
        x = (layers.Bidirectional(layer, name=f"bi_{cell}{index + 1}") if bidirectional else layer)(x)
    x = layers.Dense(dense, activation="relu", name="dense")(x)
    x = layers.Dropout(settings.dropout, name="dropout")(x)
    outputs = layers.Dense(len(GENRES), activation="softmax", name="genre")(x)
    return _compiled(keras.Model(inputs, outputs, name=name), settings)


def build_crnn(config: FeatureConfig, settings: TrainingSettings, filters=(16, 32, 64), units=64):
    """A CRNN (Choi et al. 2017): the CNN's convolution blocks on the log-mel window, pooling
    frequency more than time, then a GRU over the remaining time steps."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=cnn_input_shape(config), name="log_mel")
    x = centred_over_time(inputs) if settings.centre_over_time else inputs
    for block, (width, pool) in enumerate(zip(filters, ((2, 2), (4, 2), (4, 2)))):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{block + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{block + 1}")(x)
        x = layers.ReLU(name=f"relu{block + 1}")(x)
        x = layers.MaxPooling2D(pool, name=f"pool{block + 1}")(x)
    x = layers.Permute((2, 1, 3), name="time_first")(x)
    x = layers.Reshape((x.shape[1], x.shape[2] * x.shape[3]), name="time_steps")(x)
    x = layers.GRU(units, name="gru")(x)
    x = layers.Dropout(settings.dropout, name="dropout")(x)
    outputs = layers.Dense(len(GENRES), activation="softmax", name="genre")(x)
    return _compiled(keras.Model(inputs, outputs, name="crnn"), settings)


def build_baseline(n_features: int, settings: TrainingSettings, widths=(256, 128, 64)):
    """The original report's network on standard-scaled clip statistics."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(n_features,), name="clip_features")
    x = inputs
    for index, width in enumerate(widths):
        x = layers.Dense(width, activation="relu", name=f"dense{index + 1}")(x)
        x = layers.Dropout(settings.dropout, name=f"dropout{index + 1}")(x)
    outputs = layers.Dense(len(GENRES), activation="softmax", name="genre")(x)
    return _compiled(keras.Model(inputs, outputs, name="baseline"), settings)


def _compiled(model, settings: TrainingSettings):
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss="categorical_crossentropy",  # one-hot targets, so mixup can blend them
        metrics=["accuracy"],
    )
    return model
