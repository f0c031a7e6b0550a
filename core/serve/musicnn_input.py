"""Audio to the input of the pretrained musicnn tagger, in plain NumPy (and soxr).

musicnn (Pons & Serra 2019) reads 3 s patches of a 96-band log-compressed mel spectrogram at 16 kHz:
its extractor runs ``librosa.load(path, sr=16000)``, ``librosa.feature.melspectrogram`` with a
512-point FFT and a hop of 256, and ``log10(10000 * mel + 1)``. This module computes the same
numbers without librosa or TensorFlow, so serving stays light; ``tests/test_musicnn.py`` checks it
against librosa.

One deliberate difference: the extractor casts the mel spectrogram to float16 before the logarithm.
Under NumPy 2, ``10000 * x`` then stays float16 and overflows to ``inf`` for loud bands (NumPy 1's
value-based casting computed it in float32), so the mel spectrogram stays float32 here. That also
skips the float16 rounding of the mel values, which moved the logarithm by up to about 2e-4.
"""

from __future__ import annotations

import numpy as np
import soxr

from core.serve.config import PretrainedConfig
from core.serve.representation import fit_columns, mel_power

RESAMPLE_QUALITY = "HQ"   # soxr quality of librosa.load's default res_type "soxr_hq"


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Mono float32 samples at ``target_rate``, as ``librosa.resample(res_type="soxr_hq")`` gives them.

    Like librosa, the result is cut or zero-padded to ``ceil(len(samples) * target_rate / source_rate)``.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if source_rate == target_rate:
        return samples
    resampled = soxr.resample(samples, source_rate, target_rate, quality=RESAMPLE_QUALITY)
    length = int(np.ceil(len(samples) * target_rate / source_rate))
    return np.pad(resampled[:length], (0, max(0, length - len(resampled))))


def mel_spectrogram(samples: np.ndarray, source_rate: int, config: PretrainedConfig = PretrainedConfig()) -> np.ndarray:
    """musicnn's mel power spectrogram (frames x n_mels, float32) of mono samples at any rate.

    Resampled to ``config.sample_rate``, centred frames padded with ``config.pad_mode``, periodic
    Hann window, power spectrum, Slaney mel filters.
    """
    resampled = resample(samples, source_rate, config.sample_rate)
    return mel_power(resampled, config, config.pad_mode).T


def level_db(mel: np.ndarray) -> float:
    """A spectrogram's level: 10 log10 of its mean mel power over frames and bands."""
    return float(10.0 * np.log10(np.mean(mel, dtype=np.float64) + 1e-20))


MAX_LEVEL_GAIN_DB = 40.0   # near-silence is raised at most this much, so hiss does not become music


def at_level(mel: np.ndarray, target_db: float, max_gain_db: float = MAX_LEVEL_GAIN_DB) -> np.ndarray:
    """Mel power scaled so its ``level_db`` is ``target_db``: the same music at any recording level.

    musicnn's ``log10(10000 * mel + 1)`` sees loudness, so without this a quiet recording of the
    same music gets another answer (``python -m core.evaluate --audio-only --gain-db -24``).
    """
    gain_db = min(target_db - level_db(mel), max_gain_db)
    return (mel * np.float32(10.0 ** (gain_db / 10.0))).astype(np.float32)


def compress(mel: np.ndarray, config: PretrainedConfig = PretrainedConfig(), target_db: float | None = None) -> np.ndarray:
    """musicnn's ``log10(log_gain * mel + 1)`` in float32, after levelling to ``target_db`` if given."""
    if target_db is not None:
        mel = at_level(mel, target_db)
    return np.log10(np.float32(config.log_gain) * mel + np.float32(1.0))


def log_mel(samples: np.ndarray, source_rate: int, config: PretrainedConfig = PretrainedConfig(),
            target_db: float | None = None) -> np.ndarray:
    """The tagger's input (frames x n_mels, float32): ``compress(mel_spectrogram(...))``.

    ``target_db`` None gives musicnn's own extractor; the genre head says which level it was trained at.
    """
    return compress(mel_spectrogram(samples, source_rate, config), config, target_db)


def patch_starts(n_frames: int, n_patches: int | None, hop_frames: int, patch_frames: int) -> np.ndarray:
    """First frame of each patch.

    Without ``n_patches``: every ``hop_frames`` frames, as long as a whole patch fits (musicnn's
    extractor, whose default hop is one patch: the tail shorter than a patch is left out). With
    ``n_patches``: that many starts spread evenly from the first frame to the last whole patch.
    """
    last = max(n_frames - patch_frames, 0)
    if n_patches is None:
        return np.arange(0, last + 1, hop_frames)
    return np.round(np.linspace(0, last, n_patches)).astype(int)


# A long file's units share this many tagger patches (at least one each), so the tagger's time grows by one
# patch, not three, per 30 s beyond 5 minutes: with the shipped head's three per unit, files up to 5 minutes
# are heard as before and a 10-minute file hears one patch per unit. The head reads the clip's mean tagger
# outputs, which patches spread over the whole file estimate without hearing every 30 s three times
# (``python -m core.bench`` times the 10-minute file).
PATCHES_PER_FILE = 30


def patch_counts(unit_frames: list[int], per_unit: int, full_unit_frames: float,
                 patch_frames: int = PretrainedConfig.patch_frames, per_file: int = PATCHES_PER_FILE) -> list[int]:
    """How many evenly spread patches the tagger hears in each unit of a clip (frame counts ``unit_frames``).

    A clip of one unit hears ``per_unit`` patches, overlapping when it is short: a 10 s clip costs what a
    30 s one does and is heard whole, not through a single 3 s patch. The units of a longer file share
    ``per_file`` patches (at most ``per_unit`` each, at least one); its last, shorter unit gets
    proportionally fewer (at least one), so it weighs in the clip's average as much as it lasts.
    """
    if len(unit_frames) == 1:
        return [per_unit if unit_frames[0] > patch_frames else 1]
    budget = max(1, min(per_unit, per_file // len(unit_frames)))
    return [max(1, min(budget, round(budget * frames / full_unit_frames))) for frames in unit_frames]


def patches(log_mel: np.ndarray, n_patches: int | None = None, hop_frames: int = PretrainedConfig.patch_frames,
            patch_frames: int = PretrainedConfig.patch_frames) -> np.ndarray:
    """Patches of a log-mel spectrogram (frames x n_mels) for the model: (patches, patch_frames, n_mels).

    A spectrogram shorter than one patch is looped along time to fill one, as
    ``core.serve.representation.fit_columns`` does for the genre models.
    """
    filled = fit_columns(log_mel.T, patch_frames).T
    starts = patch_starts(len(filled), n_patches, hop_frames, patch_frames)
    return np.ascontiguousarray(np.stack([filled[start:start + patch_frames] for start in starts]), dtype=np.float32)
