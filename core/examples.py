"""The bundled example clips: one GTZAN test-list clip per genre, shipped in ``artifacts/examples/``.

    python -m core.examples [--data DIR] [--out artifacts/examples]   # (re)create the folder
    python -m core.examples --gallery-only [--artifacts DIR]          # only recompute gallery.json

The examples come from the fault-filtered *test* list (Kereliuk, Sturm & Larsen 2015), so no model
was trained or tuned on them. For each genre the command takes the test clips that have audio in
the data folder, prefers full-quality sources (``MANIFEST.csv`` marks the others in square
brackets: 16 kHz copies and peak-normalised copies), and picks the first by clip id, so the choice
is the same on every run. The MP3 bytes are copied unchanged. ``examples.json`` records what was
chosen and why; ``README.md`` says where the clips come from.

``gallery.json`` records what every served model (and the combined verdict, when there is one) says
about each bundled clip, computed by the classifier exactly as the app computes it, with the SHA-256
of the artifacts that decide the answers (``artifact_stamp``) and of each clip. ``read_gallery``
compares both with what is there now, so a gallery left over from models since retrained, or from
other clips, is reported stale instead of shown. ``--gallery-only`` recomputes it from the bundled
clips without the data folder, without choosing or copying anything.

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

from core.catalog import SHORT_TITLES, TITLES, VERDICT
from core.config import GENRES

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
EXAMPLES_DIR = ARTIFACTS_DIR / "examples"
MANIFEST_NAME = "examples.json"
GALLERY_NAME = "gallery.json"
GALLERY_COMMAND = "python -m core.examples --gallery-only"
# The artifacts besides the *.tflite models that decide a clip's answers, when present.
STAMP_FILES = ("feature_config.json", "normalisation.json", "transfer_head.json", "verdict.json")
# How the clips were chosen, in words (keep in step with choose_examples).
CHOSEN_HOW = ("One 30 s clip per genre from GTZAN's fault-filtered **test** list, so no model was trained or "
              "tuned on them: in each genre the lowest-numbered clip among those with the best available audio, "
              "taken whatever the models make of it. For research and teaching only.")
RIGHT, WRONG = "✅", "❌"

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
        "`gallery.json` holds what every model says about each clip, computed by running the models on it "
        "(`python -m core.examples`; after retraining, `python -m core.examples --gallery-only` recomputes only "
        "it), with the SHA-256 of the model files it was computed with, so the app can tell when it is stale.", "",
        "| genre | clip | file | source quality | duration | SHA-256 of the file |",
        "|---|---|---|---|---:|---|",
    ]
    for record in records:
        lines.append(f"| {record['genre']} | {record['clip']} | `{record['file']}` | {record['quality']} | "
                     f"{record['duration_s']:.2f} s | `{record['sha256'][:16]}…` |")
    if missing:
        lines += ["", "No test clip with audio for: " + ", ".join(missing) + "."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the gallery
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stamp_paths(artifacts_dir: str | Path = ARTIFACTS_DIR) -> list[Path]:
    """The artifacts that decide the classifier's answers: every ``*.tflite`` and ``STAMP_FILES``, if present."""
    folder = Path(artifacts_dir)
    paths = sorted(folder.glob("*.tflite")) + [folder / name for name in STAMP_FILES]
    return [path for path in paths if path.is_file()]


def artifact_stamp(artifacts_dir: str | Path = ARTIFACTS_DIR) -> dict[str, str]:
    """File name -> SHA-256 of every artifact in ``stamp_paths``: different models, different stamp."""
    return {path.name: _sha256(path) for path in stamp_paths(artifacts_dir)}


def _answer(prediction, label: str) -> dict:
    return {"genre": prediction.genre, "confidence": round(float(prediction.confidence), 4),
            "right": prediction.genre == label}


def build_gallery(classifier, examples: list[Example]) -> dict:
    """What every model of ``classifier`` (and its combined verdict, when it has one) says about each example.

    Each clip is decoded and analysed as the app does (``decode(path, classifier.config)``, then
    ``classifier.analyse``); the record carries the stamp of ``classifier.artifacts_dir``.
    """
    from core.audio import decode

    records, columns = [], None
    for example in examples:
        analysis = classifier.analyse(decode(example.path, classifier.config))
        answers = {name: _answer(prediction, example.genre) for name, prediction in analysis.predictions.items()}
        if analysis.verdict is not None:
            answers[VERDICT] = _answer(analysis.verdict, example.genre)
        columns = columns or list(answers)
        records.append({"clip": example.clip, "label": example.genre, "file": example.path.name,
                        "sha256": _sha256(example.path), "answers": answers})
    return {"written_by": GALLERY_COMMAND, "artifacts": artifact_stamp(classifier.artifacts_dir),
            "columns": columns or [], "examples": records}


def write_gallery(examples_dir: str | Path = EXAMPLES_DIR, artifacts_dir: str | Path = ARTIFACTS_DIR,
                  classifier=None) -> Path:
    """Compute the gallery of the bundled examples with the models in ``artifacts_dir`` and write it.

    Nothing is chosen or copied: the clips are the ones ``examples_dir`` holds.
    """
    if classifier is None:
        from core.inference import GenreClassifier

        classifier = GenreClassifier(artifacts_dir)
    path = Path(examples_dir) / GALLERY_NAME
    path.write_text(json.dumps(build_gallery(classifier, example_clips(examples_dir)), indent=1) + "\n")
    return path


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
    if hashes != {example.clip: _sha256(example.path) for example in examples}:
        return Gallery("stale", "The example clips changed after the answers for them were computed, so no "
                                f"right/wrong marks are shown. {again}")
    return Gallery("fresh", None, columns, answers)


def column_title(name: str) -> str:
    """A gallery column header: the short title with a capital (``"CNN"``, ``"Combined verdict"``)."""
    short = SHORT_TITLES.get(name, name)
    return short[:1].upper() + short[1:]


def answer_cell(answer: dict) -> str:
    """``"✅ blues 62%"`` or ``"❌ jazz 41%"``."""
    return f"{RIGHT if answer['right'] else WRONG} {answer['genre']} {answer['confidence']:.0%}"


def gallery_table(examples: list[Example], gallery: Gallery):
    """One row per example: the clip, GTZAN's label and, when the gallery is fresh, each column's answer.

    Returns the table (pandas) and the help text of each column header (the full titles).
    """
    import pandas as pd

    rows = []
    for example in examples:
        row = {"Clip": example.clip.split("/")[-1], "GTZAN label": example.genre}
        if gallery.fresh:
            answers = gallery.answers.get(example.clip, {})
            for name in gallery.columns:
                row[column_title(name)] = answer_cell(answers[name]) if name in answers else ""
        rows.append(row)
    help_texts = {"Clip": "The GTZAN clip", "GTZAN label": "The genre GTZAN gives this clip"}
    if gallery.fresh:
        help_texts |= {column_title(name): TITLES.get(name, name) for name in gallery.columns}
    return pd.DataFrame(rows, columns=list(help_texts)), help_texts


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


def main(argv: list[str] | None = None) -> int:
    from core import gtzan

    parser = argparse.ArgumentParser(prog="python -m core.examples", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=gtzan.default_data_dir(), help="GTZAN data folder")
    parser.add_argument("--out", type=Path, default=EXAMPLES_DIR)
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS_DIR, help="the models the gallery is computed with")
    parser.add_argument("--gallery-only", action="store_true",
                        help=f"only recompute {GALLERY_NAME} from the clips already in --out (no data folder needed)")
    args = parser.parse_args(argv)
    if not args.gallery_only:
        if args.data is None or not (Path(args.data) / "MANIFEST.csv").exists():
            parser.error("no data folder with MANIFEST.csv: pass --data DIR or set GENRE_LAB_DATA")
        for example in build_examples(args.data, args.out):
            print(f"{example.genre:10s} {example.clip:22s} {example.quality}")
    if not example_clips(args.out):
        print(f"no example clips in {args.out}: no gallery written", file=sys.stderr)
        return 1
    try:
        path = write_gallery(args.out, args.artifacts)
    except FileNotFoundError as error:
        print(f"no gallery written: {error}", file=sys.stderr)
        return 0 if not args.gallery_only else 1
    gallery = read_gallery(args.out, args.artifacts)
    print(f"wrote {path}: " + (gallery_summary(gallery) or gallery.note or ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
