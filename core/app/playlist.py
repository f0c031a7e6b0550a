"""A playlist at once, for the Classify page: the table of a visitor's uploaded clips, how often each model
got the genres the visitor expected, and the table as CSV.

Every function takes the files' records (``core.serve.records``: what ``python -m core.predict --json``
writes for a file) and the expected genre of each row (None where the visitor gave none).
"""

from __future__ import annotations

import csv
import io
from typing import Sequence

import numpy as np
import pandas as pd

from core.app.style import column_title
from core.serve.catalog import TITLES, VERDICT
from core.serve.config import GENRES
from core.serve.records import csv_columns, csv_values

PLAYLIST_MAX = 30           # files analysed from one upload
FILE, PROBLEM, EXPECTED = "File", "Problem", "Expected genre"


def shown_outputs(output_names: Sequence[str]) -> list[str]:
    """The combined verdict first, then the models."""
    return sorted(output_names, key=lambda name: name != VERDICT)


def answer(record: dict, name: str) -> tuple[str, float] | None:
    """An output's genre and confidence for a file, or None when the file was not classified."""
    model = record.get("models", {}).get(name)
    return (model["genre"], max(model["probabilities"].values())) if model else None


def playlist_table(records: Sequence[dict], output_names: Sequence[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per file: its name, each output's genre and confidence, an empty expected genre and, last (it is
    long), why the file was not classified, a column only when one was not. Also each column's help text."""
    outputs = shown_outputs(output_names)
    problems = any(not record["ok"] for record in records)
    rows = []
    for record in records:
        row = {FILE: record["file"]}
        for name in outputs:
            found = answer(record, name)
            row[column_title(name)] = f"{found[0]} {found[1]:.0%}" if found else ""
        rows.append(row | {EXPECTED: None} | ({PROBLEM: record.get("error", "")} if problems else {}))
    help_texts = ({FILE: "The file you uploaded"}
                  | {column_title(name): f"{TITLES[name]}: its genre and how sure it is" for name in outputs}
                  | {EXPECTED: "The genre you expect: fill it in to see how often each model agrees"}
                  | ({PROBLEM: "Why the file could not be classified"} if problems else {}))
    return pd.DataFrame(rows, columns=list(help_texts)), help_texts


def playlist_scores(records: Sequence[dict], expected: Sequence[str | None],
                    output_names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Each output's (right, counted) over the classified files with an expected genre; empty when there are none."""
    counted = [(record, genre) for record, genre in zip(records, expected) if genre and record["ok"]]
    if not counted:
        return {}
    return {name: (sum(answer(record, name)[0] == genre for record, genre in counted), len(counted))
            for name in shown_outputs(output_names)}


def playlist_confusion(records: Sequence[dict], expected: Sequence[str | None],
                       name: str) -> tuple[np.ndarray, list[str]]:
    """The confusion matrix (expected by answered) of one output over the files with an expected genre, on the
    genres that occur in either, in GTZAN's order."""
    pairs = [(genre, answer(record, name)[0]) for record, genre in zip(records, expected) if genre and record["ok"]]
    genres = [genre for genre in GENRES if any(genre in pair for pair in pairs)]
    matrix = np.zeros((len(genres), len(genres)), dtype=int)
    for wanted, answered in pairs:
        matrix[genres.index(wanted), genres.index(answered)] += 1
    return matrix, genres


def playlist_csv(records: Sequence[dict], expected: Sequence[str | None], output_names: Sequence[str]) -> str:
    """The table as CSV: the columns of ``python -m core.predict --csv``, then the expected genre."""
    outputs = shown_outputs(output_names)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(csv_columns(outputs) + ["expected_genre"])
    for record, genre in zip(records, expected):
        writer.writerow(csv_values(record, outputs) + [genre or ""])
    return text.getvalue()
