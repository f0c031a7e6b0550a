"""Classify audio files, or every audio file in folders, from the command line.

    python -m core.predict FILE_OR_FOLDER [...] [--json | --csv] [--output FILE] [--jobs N] [--quiet]

Folders are searched recursively for audio files (by extension); their other files are skipped and
counted. One record per file, in the order of the inputs (a folder's files in name order). A file
that cannot be classified gets its one-sentence reason and does not stop the others; the exit status
is 0 when every file was classified and 1 otherwise. ``--jobs N`` classifies in N worker processes,
each loading the models once. ``--output FILE`` appends the records to FILE and skips the files
already recorded there, so an interrupted run resumes where it stopped. A progress bar with files
per second and time left goes to stderr when it is a terminal (``--quiet`` hides it).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from core.serve.errors import AudioError
from core.serve.records import analysis_record, csv_columns, csv_values, error_record

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".aiff", ".aif", ".au"})
PROGRESS_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"


def classify_file(classifier, path: str) -> dict:
    """The ``--json`` record of one file: its predictions, or the reason it was not classified."""
    try:
        return analysis_record(path, classifier.analyse(Path(path)))
    except FileNotFoundError:
        return error_record(path, "The file does not exist.")
    except IsADirectoryError:
        return error_record(path, "This is a folder, not an audio file.")
    except PermissionError:
        return error_record(path, "The file cannot be read (permission denied).")
    except AudioError as error:
        return error_record(path, str(error))


def describe(record: dict) -> str:
    """One human-readable line per file."""
    if not record["ok"]:
        return f"{record['file']}: error: {record['error']}"
    opinions = ", ".join(f"{name} {model['genre']} ({max(model['probabilities'].values()):.0%})"
                         for name, model in record["models"].items())
    cut = " (first part only)" if record["truncated"] else ""
    return f"{record['file']}: {opinions}{cut}"


def find_audio(inputs: Iterable[str]) -> tuple[list[str], int]:
    """The files to classify and how many files in the folders were skipped as not audio.

    An input that is not a folder is kept as given (so a missing or mistyped file gets its error
    record); a folder gives its audio files and those of its subfolders, in name order.
    """
    files, not_audio = [], 0
    for given in inputs:
        if not os.path.isdir(given):
            files.append(given)
            continue
        for folder, subfolders, names in os.walk(given):
            subfolders.sort()
            for name in sorted(names):
                if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                    files.append(os.path.join(folder, name))
                else:
                    not_audio += 1
    return files, not_audio


def csv_line(values: Iterable) -> str:
    """One CSV row as text, quoted by the csv module, without its line end."""
    text = io.StringIO()
    csv.writer(text, lineterminator="").writerow(values)
    return text.getvalue()


class OutputError(Exception):
    """An ``--output`` file that cannot be read, resumed or written; ``str(error)`` is the sentence to show."""


def _reason(error: OSError) -> str:
    """The operating system's reason, as the end of a sentence: ``'permission denied'``."""
    return (error.strerror or "unknown error").lower()


def read_output(path: Path, as_csv: bool) -> tuple[dict[str, bool], list[str] | None]:
    """The files an earlier run recorded in ``path`` (each with whether it was classified) and its CSV header.

    A last line cut short by an interrupted run is removed from the file, so that file is classified
    again and new records start on a line of their own.
    """
    if not path.exists():
        return {}, None
    try:
        data = path.read_bytes()
        complete = data[:data.rfind(b"\n") + 1]
        if len(complete) < len(data):
            with open(path, "r+b") as stream:
                stream.truncate(len(complete))
    except OSError as error:
        raise OutputError(f"{path} cannot be read: {_reason(error)}.") from error
    lines = complete.decode("utf-8", errors="surrogateescape").splitlines()
    if as_csv:
        try:
            rows = list(csv.reader(lines))
        except csv.Error:
            raise OutputError(f"{path} is not a CSV file written by this command, so it cannot be resumed.") from None
        return {row[0]: row[1] == "true" for row in rows[1:] if len(row) > 1}, (rows[0] if rows else None)
    recorded = {}
    for line in filter(str.strip, lines):
        try:
            record = json.loads(line)
            recorded[record["file"]] = record["ok"]
        except (ValueError, TypeError, KeyError):
            raise OutputError(f"{path} is not a JSON lines file written by this command, "
                              "so it cannot be resumed.") from None
    return recorded, None


_classifier = None  # the GenreClassifier of a worker process


def _start_worker(num_threads: int) -> None:
    """Pool initializer: load the models once per worker; Ctrl-C is left to the main process."""
    global _classifier
    from core.serve.inference import GenreClassifier

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _classifier = GenreClassifier(num_threads=num_threads)


def _classify_in_worker(path: str) -> dict:
    """A worker's task: one file's record."""
    return classify_file(_classifier, path)


def _model_names_in_worker() -> list[str]:
    """The models a worker loaded, for the CSV header."""
    return _classifier.output_names


@contextlib.contextmanager
def classifier_pool(jobs: int) -> Iterator[tuple[list[str], Callable[[list[str]], Iterator[dict]]]]:
    """The model names and a function from paths to their records, in order, using ``jobs`` processes.

    One job classifies in this process; more start worker processes that share the cores between
    them (each LiteRT interpreter gets cores / jobs threads). Leaving the context cancels the files not
    started yet, so Ctrl-C stops promptly.
    """
    if jobs == 1:
        from core.serve.inference import GenreClassifier

        classifier = GenreClassifier()
        yield classifier.output_names, lambda paths: (classify_file(classifier, path) for path in paths)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    executor = ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(threads,))
    try:
        # One task per worker, so that every worker starts and loads the models at once.
        started = [executor.submit(_model_names_in_worker) for _ in range(jobs)]
        yield started[0].result(), functools.partial(executor.map, _classify_in_worker)
    finally:
        executor.shutdown(cancel_futures=True)


def _jobs(text: str) -> int:
    """``--jobs``: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _count(number: int, noun: str) -> str:
    """``'1 file'``, ``'2 files'``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The parser (for its error messages) and the arguments."""
    parser = argparse.ArgumentParser(prog="python -m core.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_FOLDER",
                        help="audio files, and folders searched recursively for "
                             + ", ".join(sorted(extension[1:] for extension in AUDIO_EXTENSIONS)) + " files")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON object per file and line")
    form.add_argument("--csv", action="store_true",
                      help="CSV with a header: file, ok, error, duration_s, then <model>_genre and "
                           "<model>_confidence for each model")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="append the records to FILE (JSON lines, or CSV with --csv), flushed per line; "
                             "files already recorded there are skipped, so running the same command again "
                             "resumes an interrupted run (remove a file's line to classify it again)")
    parser.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1, metavar="N",
                        help="worker processes, each loading the models once (default: the number of cores, "
                             "%(default)s here)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it is shown on stderr only when stderr is a terminal)")
    return parser, parser.parse_args(argv)


def open_output(stack: contextlib.ExitStack, output: Path | None) -> Callable[[str], None]:
    """A function that writes one line and flushes it: appended to ``output``, or to stdout around
    the progress bar."""
    if output is None:
        def write(line: str) -> None:
            tqdm.write(line, file=sys.stdout)
            sys.stdout.flush()
        return write
    try:
        stream = stack.enter_context(open(output, "a", encoding="utf-8", errors="surrogateescape", newline=""))
    except OSError as error:
        raise OutputError(f"{output} cannot be written: {_reason(error)}.") from error

    def append(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()
    return append


def classify_into(write: Callable[[str], None], todo: list[str], args: argparse.Namespace,
                  header: list[str] | None) -> bool:
    """Classify ``todo`` with ``args.jobs`` processes and write each record in order (and the CSV
    header unless the output has it); True when every file was classified."""
    all_ok = True
    with classifier_pool(max(1, min(args.jobs, len(todo)))) as (model_names, classify):
        if args.csv:
            columns = csv_columns(model_names)
            if header is None:
                write(csv_line(columns))
            elif header != columns:
                raise OutputError(f"{args.output} has other columns than --csv writes, so it cannot be resumed.")
            format_record = lambda record: csv_line(csv_values(record, model_names))  # noqa: E731
        else:
            format_record = json.dumps if args.json or args.output else describe
        with tqdm(total=len(todo), unit=" files", bar_format=PROGRESS_FORMAT, file=sys.stderr,
                  disable=args.quiet or None) as progress:
            for record in classify(todo):
                all_ok &= record["ok"]
                write(format_record(record))
                if args.output and not record["ok"]:  # the file has it; the user should see it too
                    tqdm.write(describe(record), file=sys.stderr)
                progress.update()
    return all_ok


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser, args = parse_args(argv)
    files, not_audio = find_audio(args.inputs)
    if not files:
        print("No audio files were found in the folders given.", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        try:
            recorded, header = read_output(args.output, args.csv) if args.output else ({}, None)
            write = open_output(stack, args.output)
            todo = [path for path in files if path not in recorded]
            all_ok = all(recorded.get(path, True) for path in files)
            if todo:
                all_ok &= classify_into(write, todo, args, header)
        except OutputError as error:
            parser.error(str(error))
        except KeyboardInterrupt:
            kept = f"; the records so far are in {args.output} and the same command resumes" if args.output else ""
            print(f"Interrupted{kept}.", file=sys.stderr)
            return 130
    if not_audio:
        print(f"Skipped {_count(not_audio, 'file')} in the folders that are not audio (by extension).", file=sys.stderr)
    if len(todo) < len(files):
        print(f"Skipped {_count(len(files) - len(todo), 'file')} already recorded in {args.output}.", file=sys.stderr)
    return 0 if all_ok else 1
