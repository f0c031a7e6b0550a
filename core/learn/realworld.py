"""Real recordings from outside GTZAN: read, heard through simulated devices, and split by their folds.

The folder ``data/realworld`` (``LABELS.csv``: ``file, genre, label_confidence, fold, group, ...``)
holds labelled recordings grouped into five folds so that an artist or a collection never spans
two. The product learns from them and chooses with them only through those folds
(``core.learn.crossval``): a clip's figure always comes from models that never saw its fold.
Learning side; the clips never enter the repository or the app.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import zlib
from pathlib import Path

import numpy as np

from core.serve.config import GENRES, FeatureConfig

LABELS_FILE = "LABELS.csv"
REALWORLD_ENV = "GENRE_LAB_REALWORLD"
CAPTURES_PER_CLIP = 2      # simulated speaker -> room -> microphone versions of each real clip, besides the clean one


@dataclasses.dataclass(frozen=True)
class RealClip:
    """One labelled recording and the fold (and artist or collection) it belongs to."""

    file: str           # path relative to the folder, ``<genre>/<slug>.<ext>``
    genre: str
    fold: int
    group: str
    confidence: str     # "high" or "medium" (the folder's README says which is which)

    @property
    def label(self) -> int:
        return GENRES.index(self.genre)


def default_realworld_dir(gtzan_dir: Path | None = None) -> Path | None:
    """The real recordings: ``$GENRE_LAB_REALWORLD``, else ``realworld`` beside the GTZAN folder (beside the
    repository's ``../shared/data`` when none is given), if present."""
    candidates = [os.environ.get(REALWORLD_ENV)]
    # Beside a given GTZAN folder only (a test's tiny folder has none); else beside the repository.
    candidates.append(Path(gtzan_dir).parent / "realworld" if gtzan_dir is not None
                      else Path(__file__).resolve().parents[3] / "shared" / "data" / "realworld")
    for candidate in candidates:
        if candidate and (Path(candidate) / LABELS_FILE).exists():
            return Path(candidate)
    return None


def read_clips(folder: Path) -> list[RealClip]:
    """Every clip of ``LABELS.csv`` with its fold; refuses a file without folds or with unknown genres."""
    with open(Path(folder) / LABELS_FILE, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "fold" not in rows[0]:
        raise ValueError(f"{Path(folder) / LABELS_FILE} has no 'fold' column: cross-validation needs grouped folds")
    clips = [RealClip(row["file"], row["genre"].strip().lower(), int(row["fold"]), row.get("group") or row["file"],
                      row.get("label_confidence", "")) for row in rows]
    unknown = sorted({clip.genre for clip in clips} - set(GENRES))
    if unknown:
        raise ValueError(f"{folder} labels clips with genres the models do not know: {', '.join(unknown)}")
    return clips


def check_grouped(clips: list[RealClip]) -> None:
    """Refuse folds where one artist or collection (``group``) sits in two folds."""
    folds: dict[str, set[int]] = {}
    for clip in clips:
        folds.setdefault(clip.group, set()).add(clip.fold)
    split = sorted(group for group, seen in folds.items() if len(seen) > 1)
    if split:
        raise ValueError(f"groups in more than one fold: {', '.join(split[:3])}")


def clip_rng(seed: int, file: str) -> np.random.Generator:
    """A random stream of its own for each clip, so a clip's simulated versions do not depend on the list."""
    return np.random.default_rng([seed, zlib.crc32(file.encode())])


def decode_clip(folder: Path, clip: RealClip, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The clip's samples through the app's own decoder (mono, the models' rate)."""
    from core.serve.audio import decode

    return decode(Path(folder) / clip.file, config).samples


def captured_versions(samples: np.ndarray, rng: np.random.Generator, captures: int,
                      sample_rate: int) -> list[tuple[str, np.ndarray]]:
    """The clean clip and ``captures`` versions through random speakers, rooms, microphones and codecs."""
    from core.learn.capture import capture, random_capture

    return [("audio", samples)] + [("audio captured", capture(samples, sample_rate, random_capture(rng), rng))
                                   for _ in range(captures)]


def tagger_tables(folder: Path, clips: list[RealClip], taggers: dict[str, Path], level_db: float | None, seed: int,
                  captures: int = CAPTURES_PER_CLIP, log=print):
    """Every tagger's outputs (``{name: PatchTable}``) for the same patches of every version of every clip.

    Each clip is decoded once, heard clean and through ``captures`` random devices (its own seeded
    stream), brought to the head's level and cut into 3 s patches that every tagger reads.
    """
    from ai_edge_litert.interpreter import Interpreter

    from core.learn.transfer import PatchTable
    from core.serve.musicnn_input import log_mel, patches
    from core.serve.pretrained import tagger_outputs

    config = FeatureConfig()
    interpreters = {}
    for name, path in taggers.items():
        interpreters[name] = Interpreter(model_path=str(path), num_threads=2)
        interpreters[name].allocate_tensors()
    outputs = {name: ([], []) for name in taggers}
    owners, kinds = [], []
    for index, clip in enumerate(clips):
        rng = clip_rng(seed, clip.file)
        for kind, samples in captured_versions(decode_clip(folder, clip, config), rng, captures, config.sample_rate):
            batch = patches(log_mel(samples, config.sample_rate, target_db=level_db))
            for name, interpreter in interpreters.items():
                tags, penultimate = tagger_outputs(interpreter, batch)
                outputs[name][0].append(tags)
                outputs[name][1].append(penultimate)
            owners.extend([index] * len(batch))
            kinds.extend([kind] * len(batch))
        if (index + 1) % 25 == 0 or index + 1 == len(clips):
            log(f"  real recordings through the taggers: {index + 1}/{len(clips)}")
    labels = np.array([clip.label for clip in clips])
    return {name: PatchTable([clip.file for clip in clips], np.concatenate(tags), np.concatenate(penultimate),
                             np.array(owners), np.array(kinds), labels)
            for name, (tags, penultimate) in outputs.items()}
