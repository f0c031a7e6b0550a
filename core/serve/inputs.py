"""From image levels to the tensors each model reads, shared by training, evaluation and serving.

The CNN reads windows of the dB mel spectrogram, standardised per mel band; the LSTM reads the
MFCC sequence of the same window, standardised per coefficient; the baseline reads the 57 clip
statistics, standard-scaled. All statistics come from the training list only
(``artifacts/normalisation.json``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from core.serve.config import FeatureConfig
from core.serve.representation import dct_matrix, fit_columns, levels_to_db, window_starts


@dataclasses.dataclass(frozen=True)
class Normalisation:
    """Means and standard deviations measured on the training list."""

    mel_mean: np.ndarray       # (n_mels,) dB
    mel_std: np.ndarray
    mfcc_mean: np.ndarray      # (n_mfcc,)
    mfcc_std: np.ndarray
    features_mean: np.ndarray  # (57,) clip statistics
    features_std: np.ndarray

    @classmethod
    def fit(cls, train_db: list[np.ndarray], train_features: np.ndarray, config: FeatureConfig) -> "Normalisation":
        """Statistics of the training clips' dB spectrograms, MFCCs and clip features."""
        mel = np.concatenate(train_db, axis=1)
        mfcc = dct_matrix(config.n_mfcc, config.n_mels) @ mel
        return cls(
            mel_mean=mel.mean(axis=1), mel_std=mel.std(axis=1) + 1e-6,
            mfcc_mean=mfcc.mean(axis=1), mfcc_std=mfcc.std(axis=1) + 1e-6,
            features_mean=train_features.mean(axis=0), features_std=train_features.std(axis=0) + 1e-12,
        )

    def save(self, path: str | Path) -> None:
        values = {field.name: getattr(self, field.name).tolist() for field in dataclasses.fields(self)}
        Path(path).write_text(json.dumps(values, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Normalisation":
        values = json.loads(Path(path).read_text())
        return cls(**{name: np.asarray(value, dtype=np.float32) for name, value in values.items()})


def db_windows(levels: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every model window of one unit: dB windows (n, n_mels, window) and their start columns."""
    db = fit_columns(levels_to_db(levels, config), config.window_columns)
    starts = window_starts(db.shape[1], config.window_columns, config.window_hop_columns)
    windows = np.stack([db[:, start:start + config.window_columns] for start in starts])
    return windows, starts


def cnn_batch(db_window_batch: np.ndarray, norm: Normalisation) -> np.ndarray:
    """dB windows (n, n_mels, window) to CNN input (n, n_mels, window, 1)."""
    standardised = (db_window_batch - norm.mel_mean[:, None]) / norm.mel_std[:, None]
    return standardised[..., np.newaxis].astype(np.float32)


def lstm_batch(db_window_batch: np.ndarray, norm: Normalisation, config: FeatureConfig) -> np.ndarray:
    """dB windows (n, n_mels, window) to LSTM input (n, window, n_mfcc)."""
    mfcc = np.einsum("cm,nmt->nct", dct_matrix(config.n_mfcc, config.n_mels), db_window_batch)
    standardised = (mfcc - norm.mfcc_mean[:, None]) / norm.mfcc_std[:, None]
    return np.transpose(standardised, (0, 2, 1)).astype(np.float32)


def baseline_batch(features: np.ndarray, norm: Normalisation) -> np.ndarray:
    """Clip statistics (n, 57) to standard-scaled baseline input."""
    return ((features - norm.features_mean) / norm.features_std).astype(np.float32)
