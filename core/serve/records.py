"""The record of one classified file, shared by the command line (``core.predict``: JSON lines, CSV) and the
app's table of uploaded clips, whose CSV download has the command line's columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from core.serve.config import GENRES

if TYPE_CHECKING:      # the command line starts without the analysis code; it loads with the models
    from core.serve.analysis import Analysis

CSV_FIRST_COLUMNS = ["file", "ok", "error", "duration_s"]


def analysis_record(file: str, analysis: Analysis) -> dict:
    """The ``--json`` record of a classified file: what decoding found and every output's probabilities."""
    return {
        "file": file, "ok": True,
        "duration_s": round(analysis.duration_s, 3), "analysed_s": round(analysis.analysed_s, 3),
        "truncated": analysis.truncated, "notices": list(analysis.notices),
        "models": {
            name: {"genre": prediction.genre,
                   "probabilities": {genre: round(float(p), 6) for genre, p in zip(GENRES, prediction.probabilities)}}
            for name, prediction in analysis.outcomes().items()
        },
    }


def error_record(file: str, reason: str) -> dict:
    """The record of a file that was not classified, with the one-sentence reason."""
    return {"file": file, "ok": False, "error": reason}


def csv_columns(model_names: Iterable[str]) -> list[str]:
    """The ``--csv`` header: the file's outcome, then each model's genre and confidence."""
    return CSV_FIRST_COLUMNS + [f"{name}_{column}" for name in model_names for column in ("genre", "confidence")]


def csv_values(record: dict, model_names: Iterable[str]) -> list:
    """A record's cells in the order of :func:`csv_columns`; empty where it has no value."""
    values = [record["file"], "true" if record["ok"] else "false", record.get("error", ""),
              record.get("duration_s", "")]
    for name in model_names:
        model = record.get("models", {}).get(name)
        values += [model["genre"], max(model["probabilities"].values())] if model else ["", ""]
    return values
