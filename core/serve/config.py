"""One source of truth for every number that shapes a model input.

Training writes this configuration next to the models (``artifacts/feature_config.json``) and
inference reads it back, so the representation a model sees when serving can never drift from the
one it was trained on.

The representation is the one of the GTZAN spectrogram images (``RECIPE.md`` in the data folder):
a 128-band mel power spectrogram of a 30 s unit, mapped to dB relative to its maximum, normalised
per unit to 256 levels, and sampled at the 334 frame positions the images show (about 11.1 frames
per second).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)


# The baseline's clip statistics: the columns of GTZAN's features_30_sec.csv (librosa defaults)
# without the four harmonic/percussive ones. On the validation list they changed nothing (three
# seeds, within one clip), and the separation behind them costs about 130 ms of the 180 ms it
# takes to compute all 57 on a 30 s clip.
BASELINE_FEATURES: tuple[str, ...] = (
    tuple(f"{name}_{stat}" for name in ("chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth",
                                        "rolloff", "zero_crossing_rate") for stat in ("mean", "var"))
    + ("tempo",)
    + tuple(f"mfcc{k}_{stat}" for k in range(1, 21) for stat in ("mean", "var"))
)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Sample rate, analysis unit, spectrogram and model-window settings."""

    # Audio.
    sample_rate: int = 22050
    unit_samples: int = 661_794          # one GTZAN clip: 30.01 s, 1293 STFT frames
    max_duration_s: float = 600.0        # longer files are cut here (and the result says so)
    min_duration_s: float = 1.0          # shorter clips are rejected

    # Mel spectrogram (librosa 0.7.2 defaults, as the images were made).
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float = 11025.0
    amin: float = 1e-5
    top_db: float = 80.0
    levels: int = 256

    # Which STFT frames the images show: 334 data columns starting right of x = 54.
    image_columns: int = 334
    image_x0: int = 54
    image_plot_width: float = 334.8

    # Model inputs.
    n_mfcc: int = 20
    window_columns: int = 32             # one model window: 32 columns = about 2.9 s
    window_hop_columns: int = 16         # hop between windows at inference: about 1.4 s
    baseline_features: tuple[str, ...] = BASELINE_FEATURES

    @property
    def reference_frames(self) -> int:
        """STFT frames of one full unit (1293 for GTZAN's 661,794 samples)."""
        return 1 + self.unit_samples // self.hop_length

    @property
    def column_rate_hz(self) -> float:
        """Columns per second of the representation (about 11.1)."""
        return self.image_columns / (self.unit_samples / self.sample_rate)

    @property
    def window_seconds(self) -> float:
        return self.window_columns / self.column_rate_hz

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FeatureConfig":
        return _from_dict(cls, values, "feature configuration")

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "FeatureConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclasses.dataclass(frozen=True)
class PretrainedConfig:
    """Input of the pretrained musicnn MSD tagger (Pons & Serra 2019): log-compressed mel patches.

    The settings of musicnn's ``extractor.batch_data``: ``librosa.load`` at 16 kHz, then
    ``librosa.feature.melspectrogram`` with these FFT and mel settings (librosa defaults otherwise:
    centred frames, periodic Hann window, power 2, Slaney mel scale and normalisation), then
    ``log10(log_gain * mel + 1)``. One patch is 187 frames, 3 s.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    fmin: float = 0.0
    fmax: float = 8000.0
    # How centred frames are padded at the ends: librosa >= 0.10 pads with zeros (the extractor with
    # today's librosa); the librosa 0.6-0.7 of musicnn's time reflected. Only the first and last
    # frame of a signal differ.
    pad_mode: str = "constant"
    log_gain: float = 10000.0
    patch_frames: int = 187

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "PretrainedConfig":
        return _from_dict(cls, values, "pretrained-input configuration")


def _from_dict(cls, values: dict, what: str):
    """A configuration dataclass from its ``to_dict`` (JSON lists back to tuples); unknown keys refused."""
    unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})
