"""Classify audio files from the command line.

    python -m core.predict FILE [FILE ...] [--json]

One line per file, in order. A file that cannot be classified gets its one-sentence reason and does
not stop the others; the exit status is 0 when every file was classified and 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.audio import decode
from core.config import GENRES
from core.errors import AudioError


def classify_file(classifier, path: str) -> dict:
    """The ``--json`` record of one file: its predictions, or the reason it was not classified."""
    try:
        analysis = classifier.analyse(decode(Path(path), classifier.config))
    except FileNotFoundError:
        return {"file": path, "ok": False, "error": "The file does not exist."}
    except IsADirectoryError:
        return {"file": path, "ok": False, "error": "This is a folder, not an audio file."}
    except PermissionError:
        return {"file": path, "ok": False, "error": "The file cannot be read (permission denied)."}
    except AudioError as error:
        return {"file": path, "ok": False, "error": str(error)}
    return {
        "file": path, "ok": True,
        "duration_s": round(analysis.duration_s, 3), "analysed_s": round(analysis.analysed_s, 3),
        "truncated": analysis.truncated, "notices": list(analysis.notices),
        "models": {
            name: {"genre": prediction.genre,
                   "probabilities": {genre: round(float(p), 6) for genre, p in zip(GENRES, prediction.probabilities)}}
            for name, prediction in analysis.predictions.items()
        },
    }


def describe(record: dict) -> str:
    """One human-readable line per file."""
    if not record["ok"]:
        return f"{record['file']}: error: {record['error']}"
    opinions = ", ".join(f"{name} {model['genre']} ({max(model['probabilities'].values()):.0%})"
                         for name, model in record["models"].items())
    cut = " (first part only)" if record["truncated"] else ""
    return f"{record['file']}: {opinions}{cut}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, MP3, Ogg, AIFF, AU)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)

    from core.inference import GenreClassifier

    classifier = GenreClassifier()
    all_ok = True
    for path in args.files:
        record = classify_file(classifier, path)
        all_ok &= record["ok"]
        print(json.dumps(record) if args.json else describe(record), flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
