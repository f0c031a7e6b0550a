"""The bundled example clips in ``artifacts/examples/`` and what the models say about them (read only).

The clips are one GTZAN test-list clip per genre, chosen and copied by ``python -m core.examples``
(``core.learn.examples``). The hosted app has no data folder, so they are committed with the
repository; this module only reads them.

``gallery.json`` records what every served model (and the combined verdict) says about each clip,
with the SHA-256 of the artifacts that decide the answers (``artifact_stamp``) and of each clip.
``read_gallery`` compares both with what is there now, so a gallery left over from models since
retrained, or from other clips, is reported stale instead of shown.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from core.serve.artifacts import ARTIFACTS_DIR, EXAMPLES_DIR, artifact_stamp, sha256
from core.serve.catalog import SHORT_TITLES
from core.serve.config import GENRES

MANIFEST_NAME = "examples.json"
GALLERY_NAME = "gallery.json"
GALLERY_COMMAND = "python -m core.examples --gallery-only"
# How the clips were chosen, in words (keep in step with core.learn.examples.choose_examples).
CHOSEN_HOW = ("One 30 s clip per genre from GTZAN's fault-filtered **test** list, so no model was trained or "
              "tuned on them: in each genre the lowest-numbered clip among those with the best available audio, "
              "taken whatever the models make of it. For research and teaching only.")

# Source quality, best first: the note MANIFEST.csv puts in square brackets, and what it means.
FULL_QUALITY = "full quality"
PEAK_NORMALISED = "peak-normalised copy (level slightly above the original, full band)"
FROM_16_KHZ = "made from a 16 kHz copy (no content above 8 kHz)"
QUALITY_RANK = {FULL_QUALITY: 0, PEAK_NORMALISED: 1, FROM_16_KHZ: 2}


@dataclasses.dataclass(frozen=True)
class Example:
    """One bundled clip."""

    genre: str
    clip: str            # GTZAN clip id, e.g. "blues/blues.00012"
    path: Path
    quality: str = FULL_QUALITY

    @property
    def label(self) -> str:
        """What a picker shows, e.g. ``"blues (blues.00012)"``."""
        return f"{self.genre} ({self.clip.split('/')[-1]})"


def example_clips(directory: str | Path = EXAMPLES_DIR) -> list[Example]:
    """The bundled examples in ``directory``, in GENRES order; empty when there are none.

    A clip is a file ``<genre>.<NNNNN>.mp3`` whose genre is one of GENRES; its source quality is
    read from ``examples.json`` when the command wrote one.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    qualities = {}
    manifest = directory / MANIFEST_NAME
    if manifest.exists():
        qualities = {row["clip"]: row["quality"] for row in json.loads(manifest.read_text())["examples"]}
    found = []
    for path in sorted(directory.glob("*.mp3")):
        parts = path.name.split(".")
        if len(parts) == 3 and parts[0] in GENRES and parts[1].isdigit():
            clip = f"{parts[0]}/{parts[0]}.{parts[1]}"
            found.append(Example(parts[0], clip, path, qualities.get(clip, FULL_QUALITY)))
    return sorted(found, key=lambda example: (GENRES.index(example.genre), example.clip))


@dataclasses.dataclass(frozen=True)
class Gallery:
    """The stored gallery as it stands against the clips and models there are now."""

    status: str                        # "fresh", "stale" or "missing"
    note: str | None                   # one plain sentence when not fresh
    columns: tuple[str, ...] = ()      # model names, then "verdict" when the classifier had one
    answers: dict = dataclasses.field(default_factory=dict)   # clip -> column -> {genre, confidence, right}

    @property
    def fresh(self) -> bool:
        return self.status == "fresh"


def read_gallery(examples_dir: str | Path = EXAMPLES_DIR, artifacts_dir: str | Path = ARTIFACTS_DIR) -> Gallery:
    """``gallery.json`` of ``examples_dir`` checked against its clips and the artifacts in ``artifacts_dir``.

    Stale when the artifacts' stamp differs (models retrained, added or removed since), when the
    clips differ (other clips, or the same names with other bytes) or when the file cannot be read.
    """
    examples_dir = Path(examples_dir)
    path = examples_dir / GALLERY_NAME
    again = f"`{GALLERY_COMMAND}` computes them again."
    if not path.exists():
        return Gallery("missing", "What each model says about these clips is not computed yet: "
                                  f"`{GALLERY_COMMAND}` computes it.")
    try:
        stored = json.loads(path.read_text())
        answers = {record["clip"]: dict(record["answers"]) for record in stored["examples"]}
        hashes = {record["clip"]: record["sha256"] for record in stored["examples"]}
        columns, stamp = tuple(stored["columns"]), dict(stored["artifacts"])
    except (ValueError, KeyError, TypeError):
        return Gallery("stale", f"The stored answers ({path.name}) cannot be read. {again}")
    if stamp != artifact_stamp(artifacts_dir):
        return Gallery("stale", "The models were retrained or changed after the answers for these clips were "
                                f"computed, so no right/wrong marks are shown. {again}")
    examples = example_clips(examples_dir)
    if hashes != {example.clip: sha256(example.path) for example in examples}:
        return Gallery("stale", "The example clips changed after the answers for them were computed, so no "
                                f"right/wrong marks are shown. {again}")
    return Gallery("fresh", None, columns, answers)


def gallery_summary(gallery: Gallery) -> str | None:
    """How many clips each column gets right, in one sentence (None when the gallery is not fresh)."""
    if not gallery.fresh or not gallery.answers or not gallery.columns:
        return None
    total = len(gallery.answers)
    counts = [(SHORT_TITLES.get(name, name),
               sum(bool(answers.get(name, {}).get("right")) for answers in gallery.answers.values()))
              for name in gallery.columns]
    parts = [f"the {title} {right}" for title, right in counts]
    parts[0] = f"The {counts[0][0]} gets {counts[0][1]} of these {total} clips right"
    return (", ".join(parts) + f" (computed by running the current models on these clips). {total} clips are "
            "a small sample: the Home page has the accuracy on the whole test list.")
