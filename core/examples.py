"""The bundled example clips: one GTZAN test-list clip per genre, shipped in ``artifacts/examples/``.

    python -m core.examples [--data DIR] [--out artifacts/examples]   # (re)create the folder

The examples come from the fault-filtered *test* list (Kereliuk, Sturm & Larsen 2015), so no model
was trained or tuned on them. For each genre the command takes the test clips that have audio in
the data folder, prefers full-quality sources (``MANIFEST.csv`` marks the others in square
brackets: 16 kHz copies and peak-normalised copies), and picks the first by clip id, so the choice
is the same on every run. The MP3 bytes are copied unchanged. ``examples.json`` records what was
chosen and why; ``README.md`` says where the clips come from.

``example_clips()`` only reads the folder: the hosted app has no data folder, so the clips must be
committed with the repository.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import shutil
import sys
from pathlib import Path

from core.config import GENRES

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "examples"
MANIFEST_NAME = "examples.json"

# Source quality, best first: the note MANIFEST.csv puts in square brackets, and what it means.
FULL_QUALITY = "full quality"
PEAK_NORMALISED = "peak-normalised copy (level slightly above the original, full band)"
FROM_16_KHZ = "made from a 16 kHz copy (no content above 8 kHz)"
_QUALITY_RANK = {FULL_QUALITY: 0, PEAK_NORMALISED: 1, FROM_16_KHZ: 2}


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


def source_quality(source_path: str) -> str:
    """The quality of a clip's source from its ``MANIFEST.csv`` ``source_path`` note."""
    if "[" not in source_path:
        return FULL_QUALITY
    note = source_path[source_path.index("["):].lower()
    return FROM_16_KHZ if "16 khz" in note else PEAK_NORMALISED


def choose_examples(test_clips: list[str], manifest_rows: list[dict], genres=GENRES) -> dict[str, dict]:
    """For each genre, the MANIFEST row of the test clip to bundle (best quality, then lowest id).

    ``test_clips`` are clip ids (``"blues/blues.00012"``); ``manifest_rows`` are rows of
    ``MANIFEST.csv`` (``path``, ``genre``, ``source_path``, ...). A genre without any test clip
    that has audio is left out.
    """
    by_path = {row["path"]: row for row in manifest_rows}
    chosen = {}
    for genre in genres:
        candidates = []
        for clip in test_clips:
            row = by_path.get(f"{clip}.mp3")
            if clip.split("/")[0] == genre and row is not None:
                candidates.append((_QUALITY_RANK[source_quality(row["source_path"])], clip, row))
        if candidates:
            chosen[genre] = min(candidates, key=lambda candidate: candidate[:2])[2]
    return chosen


def build_examples(data_dir: str | Path, out_dir: str | Path = EXAMPLES_DIR) -> list[Example]:
    """(Re)create ``out_dir`` from the data folder: copy one test clip per genre, write the README."""
    from core import gtzan

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    with (data_dir / "MANIFEST.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen = choose_examples(gtzan.read_split(data_dir, "test"), rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in list(out_dir.glob("*.mp3")) + [out_dir / MANIFEST_NAME]:
        stale.unlink(missing_ok=True)
    records = []
    for genre, row in chosen.items():
        source = data_dir / row["path"]
        target = out_dir / source.name
        shutil.copyfile(source, target)
        records.append({
            "clip": row["path"][:-len(".mp3")], "genre": genre, "file": target.name,
            "quality": source_quality(row["source_path"]), "duration_s": float(row["duration_s"]),
            "bytes": target.stat().st_size, "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
            "original_source": f"{row['source_repo']}: {row['source_path']}",
        })
    manifest = {"list": "test (fault-filtered)", "examples": records}
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n")
    (out_dir / "README.md").write_text(readme(records, [genre for genre in GENRES if genre not in chosen]))
    return example_clips(out_dir)


def readme(records: list[dict], missing: list[str]) -> str:
    """The folder's README: where the clips come from, what they may be used for, which was chosen."""
    lines = [
        "# Example clips", "",
        "_Written by `python -m core.examples`; do not edit by hand._", "",
        "One 30 s clip per genre from the GTZAN genre collection (G. Tzanetakis and P. Cook, "
        "\"Musical genre classification of audio signals\", IEEE Transactions on Speech and Audio "
        "Processing, 2002), for research and teaching only. The original clips have no rights "
        "clearance; do not redistribute them beyond that use.", "",
        "Every clip is on the fault-filtered **test** list (Kereliuk, Sturm & Larsen, \"Deep learning "
        "and music adversaries\", IEEE Transactions on Multimedia, 2015), so no model of this project "
        "was trained or tuned on it. The files are the MP3s of the shared data folder (64 kbit/s, mono, "
        "22050 Hz, LAME 3.100), copied byte for byte. Where a genre has no full-quality test clip with "
        "audio, the best available copy was taken and its quality is said below.", "",
        "| genre | clip | file | source quality | duration | SHA-256 of the file |",
        "|---|---|---|---|---:|---|",
    ]
    for record in records:
        lines.append(f"| {record['genre']} | {record['clip']} | `{record['file']}` | {record['quality']} | "
                     f"{record['duration_s']:.2f} s | `{record['sha256'][:16]}…` |")
    if missing:
        lines += ["", "No test clip with audio for: " + ", ".join(missing) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from core import gtzan

    parser = argparse.ArgumentParser(prog="python -m core.examples", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir(), help="GTZAN data folder")
    parser.add_argument("--out", type=Path, default=EXAMPLES_DIR)
    args = parser.parse_args(argv)
    if args.data is None or not (Path(args.data) / "MANIFEST.csv").exists():
        parser.error("no data folder with MANIFEST.csv: pass --data DIR or set GENRE_LAB_DATA")
    for example in build_examples(args.data, args.out):
        print(f"{example.genre:10s} {example.clip:22s} {example.quality}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
