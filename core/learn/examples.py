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

Reading the folder and the gallery is serving's job (``core.serve.examples``); this module writes them.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path

from core.serve.artifacts import ARTIFACTS_DIR, EXAMPLES_DIR, artifact_stamp, sha256
from core.serve.catalog import VERDICT
from core.serve.config import GENRES
from core.serve.examples import (FROM_16_KHZ, FULL_QUALITY, GALLERY_COMMAND, GALLERY_NAME, MANIFEST_NAME,
                                 PEAK_NORMALISED, QUALITY_RANK, Example, example_clips, gallery_summary,
                                 read_gallery)


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
                candidates.append((QUALITY_RANK[source_quality(row["source_path"])], clip, row))
        if candidates:
            chosen[genre] = min(candidates, key=lambda candidate: candidate[:2])[2]
    return chosen


def build_examples(data_dir: str | Path, out_dir: str | Path = EXAMPLES_DIR) -> list[Example]:
    """(Re)create ``out_dir`` from the data folder: copy one test clip per genre, write the README."""
    from core.learn import gtzan

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
def _answer(prediction, label: str) -> dict:
    return {"genre": prediction.genre, "confidence": round(float(prediction.confidence), 4),
            "right": prediction.genre == label}


def build_gallery(classifier, examples: list[Example]) -> dict:
    """What every model of ``classifier`` (and its combined verdict, when it has one) says about each example.

    Each clip is decoded and analysed as the app does (``decode(path, classifier.config)``, then
    ``classifier.analyse``); the record carries the stamp of ``classifier.artifacts_dir``.
    """
    from core.serve.audio import decode

    records, columns = [], None
    for example in examples:
        analysis = classifier.analyse(decode(example.path, classifier.config))
        answers = {name: _answer(prediction, example.genre) for name, prediction in analysis.predictions.items()}
        if analysis.verdict is not None:
            answers[VERDICT] = _answer(analysis.verdict, example.genre)
        columns = columns or list(answers)
        records.append({"clip": example.clip, "label": example.genre, "file": example.path.name,
                        "sha256": sha256(example.path), "answers": answers})
    return {"written_by": GALLERY_COMMAND, "artifacts": artifact_stamp(classifier.artifacts_dir),
            "columns": columns or [], "examples": records}


def write_gallery(examples_dir: str | Path = EXAMPLES_DIR, artifacts_dir: str | Path = ARTIFACTS_DIR,
                  classifier=None) -> Path:
    """Compute the gallery of the bundled examples with the models in ``artifacts_dir`` and write it.

    Nothing is chosen or copied: the clips are the ones ``examples_dir`` holds.
    """
    if classifier is None:
        from core.serve.inference import GenreClassifier

        classifier = GenreClassifier(artifacts_dir)
    path = Path(examples_dir) / GALLERY_NAME
    path.write_text(json.dumps(build_gallery(classifier, example_clips(examples_dir)), indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    from core.learn import gtzan

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
