"""The GTZAN data folder: split lists, spectrogram images, clip features and audio paths.

Training-time only (it needs Pillow and matplotlib's colour table); the app never imports it.
Layout of the folder: ``README.md`` and ``RECIPE.md`` in ``../shared/data/gtzan``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from core.serve.config import GENRES, FeatureConfig

DATA_ENV = "GENRE_LAB_DATA"
SPLIT_FILES = {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}
# Data rows of the images (y counted from the top) and the plot height they span.
_IMAGE_TOP_ROW, _IMAGE_BOTTOM_ROW, _IMAGE_HEIGHT, _IMAGE_PLOT_HEIGHT = 36, 251, 287, 217.44
AUDIO_SUFFIXES = (".wav", ".au", ".mp3", ".flac", ".ogg", ".aif", ".aiff")


def default_data_dir() -> Path | None:
    """The data folder: ``$GENRE_LAB_DATA``, else ``../shared/data/gtzan`` beside the repo, if present."""
    candidates = [os.environ.get(DATA_ENV), Path(__file__).resolve().parents[3] / "shared" / "data" / "gtzan"]
    for candidate in candidates:
        if candidate and Path(candidate, "splits").is_dir():
            return Path(candidate)
    return None


def clip_id(entry: str) -> str:
    """``'blues/blues.00012.wav'`` (a split entry or a path) to ``'blues/blues.00012'``."""
    name = Path(entry).name
    stem = name.rsplit(".", 1)[0] if name.count(".") >= 2 else name
    return f"{stem.split('.')[0]}/{stem}"


def genre_of(clip: str) -> str:
    return clip.split("/", 1)[0]


def read_split(data_dir: Path, split: str) -> list[str]:
    """Clip ids of one fault-filtered split list (``train``, ``valid`` or ``test``)."""
    lines = (Path(data_dir) / "splits" / SPLIT_FILES[split]).read_text().split()
    return [clip_id(line) for line in lines if line.strip()]


def image_path(data_dir: Path, clip: str) -> Path:
    genre, stem = clip.split("/")
    return Path(data_dir) / "images_original" / genre / (stem.replace(".", "") + ".png")


def find_audio(data_dir: Path, clip: str, lossless_first: bool = True) -> Path | None:
    """The clip's audio in a GTZAN-layout folder (``<genre>/<genre>.NNNNN.<ext>``), or None.

    The shared folder's ``lossless/`` copy is preferred to its MP3 unless ``lossless_first`` is False.
    """
    genre, stem = clip.split("/")
    candidates = [Path(data_dir) / genre / f"{stem}{suffix}" for suffix in AUDIO_SUFFIXES]
    lossless = Path(data_dir) / "lossless" / genre / f"{stem}.flac"
    candidates = [lossless] + candidates if lossless_first else candidates
    return next((path for path in candidates if path.exists()), None)


def all_clips(data_dir: Path) -> list[str]:
    """Every clip of the collection that has an image or audio in the folder, sorted."""
    clips = {f"{path.parent.name}/{path.stem[:-5]}.{path.stem[-5:]}"
             for path in Path(data_dir).glob("images_original/*/*.png")}
    clips |= {clip_id(path.name) for suffix in AUDIO_SUFFIXES
              for path in Path(data_dir).glob(f"*/*{suffix}") if path.parent.name in GENRES}
    return sorted(clips)


@functools.lru_cache(maxsize=1)
def _magma_lookup() -> dict[int, int]:
    """Packed RGB of each magma table colour, as the images stored it, to its level."""
    from matplotlib import colormaps

    rgb = np.round(255 * colormaps["magma"](np.arange(256))[:, :3]).astype(np.int64)
    packed = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    return {int(value): level for level, value in enumerate(packed)}


@functools.lru_cache(maxsize=1)
def _band_rows() -> np.ndarray:
    """For mel band 0..127, one image row (y from the top) that shows it."""
    rows = np.arange(_IMAGE_TOP_ROW, _IMAGE_BOTTOM_ROW + 1)
    band_tops = np.floor(np.round(256.0 * (_IMAGE_TOP_ROW + np.arange(128) * _IMAGE_PLOT_HEIGHT / 128)) / 256.0)
    band_of_row = np.searchsorted(band_tops, _IMAGE_HEIGHT - rows, side="right") - 1
    return np.array([rows[band_of_row == band][0] for band in range(128)])


def read_image_levels(path: Path, config: FeatureConfig) -> np.ndarray:
    """A GTZAN spectrogram image back to its levels (uint8, 128 mel bands x 334 columns)."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int64)
    x0 = config.image_x0 + 1
    data = pixels[_band_rows(), x0:x0 + config.image_columns]
    packed = (data[..., 0] << 16) | (data[..., 1] << 8) | data[..., 2]
    lookup = _magma_lookup()
    try:
        levels = np.vectorize(lookup.__getitem__, otypes=[np.uint8])(packed)
    except KeyError as error:
        raise ValueError(f"{path} is not a GTZAN spectrogram image (unknown colour)") from error
    return levels


def load_features_table(data_dir: Path):
    """``features_30_sec.csv`` as a pandas DataFrame indexed by clip id."""
    import pandas as pd

    table = pd.read_csv(Path(data_dir) / "features_30_sec.csv")
    table.index = [clip_id(name) for name in table["filename"]]
    return table


def label_index(clip: str) -> int:
    return GENRES.index(genre_of(clip))


def split_lists(data_dir: Path, protocol: str, seed: int) -> dict[str, list[str]]:
    """The fault-filtered lists, or a random track-level split of the same size per genre."""
    lists = {part: read_split(data_dir, part) for part in ("train", "valid", "test")}
    if protocol == "filtered":
        return lists
    rng = np.random.default_rng(seed)
    everything = all_clips(data_dir)
    shuffled = [everything[i] for i in rng.permutation(len(everything))]
    n_train, n_valid = (round(len(shuffled) * len(lists[p]) / 930) for p in ("train", "valid"))
    return {"train": shuffled[:n_train], "valid": shuffled[n_train:n_train + n_valid],
            "test": shuffled[n_train + n_valid:]}
