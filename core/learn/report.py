"""Write the model card and the README's results block from what training and evaluation wrote.

    python -m core.report      # rewrite artifacts/MODEL_CARD.md and the README's results block
"""

from __future__ import annotations

from pathlib import Path

from core.serve.artifacts import (ARTIFACTS_DIR, FEATURE_CONFIG_FILE, MODEL_CARD_FILE, ROOT, benchmark, evaluation, leaky,
                                  load_test, training)
from core.serve.catalog import TITLES
from core.serve.config import GENRES, FeatureConfig
from core.serve.results import (TRANSFER_CREDIT, in_catalogue_order, realworld_genre_table, robustness_table,
                                view_notes)

README = ROOT / "README.md"
RESULTS_START, RESULTS_END = "<!-- results:start (written by python -m core.report) -->", "<!-- results:end -->"
LOAD_START, LOAD_END = "<!-- load:start (written by python tests/load_sessions.py --write) -->", "<!-- load:end -->"


def model_card(artifacts_dir: Path = ARTIFACTS_DIR) -> str:
    """The model card as Markdown, from the JSON files training and evaluation wrote."""
    config = FeatureConfig.load(Path(artifacts_dir) / FEATURE_CONFIG_FILE)
    trained, scores, leaked = training(artifacts_dir), evaluation(artifacts_dir), leaky(artifacts_dir)
    lines = [
        "# Model card: genre-lab", "",
        "_Written by `python -m core.report` from the JSON files in this folder; do not edit by hand._", "",
        "## Data",
        f"GTZAN (Tzanetakis & Cook 2002), 10 genres, 30 s clips. Split: `{trained['split']}` "
        "(fault-filtered, artist-conditional lists of Kereliuk, Sturm & Larsen 2015) with "
        f"{trained['data']['train_clips']} training and {trained['data']['valid_clips']} validation clips; "
        "every choice (early stopping, model selection, settings) was made on the validation list; "
        "the test list was never used for a choice, only for the figures below.", "",
        *([f"Real recordings: {trained['realworld']['real_clips']} labelled clips from outside GTZAN "
           f"(`data/{trained['realworld']['folder']}`), in five folds grouped by artist or collection. The transfer "
           "head, the CNN, the LSTM and the verdict learned from them only through those folds (grouped "
           "cross-validation; the real-world column below is out of fold); the shipped models were then refitted "
           "on GTZAN plus every real clip.", ""] if trained.get("realworld") else []),
        f"Input: {config.n_mels}-band mel spectrogram, {config.column_rate_hz:.1f} columns per second, "
        f"{config.levels} levels over {config.top_db:.0f} dB, normalised per 30 s unit; model windows of "
        f"{config.window_columns} columns ({config.window_seconds:.1f} s), {config.n_mfcc} MFCCs for the LSTM.", "",
        "## Models and training",
        "| model | parameters | best epoch | validation clip accuracy | training time |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, model in in_catalogue_order(trained["models"]):
        lines.append(f"| {TITLES[name]} | {model['parameters']:,} | {model.get('best_epoch') or 'n/a'} | "
                     f"{model['best_val_clip_accuracy']:.1%} | {model['training_seconds']:.0f} s |")
    if "musicnn" in trained["models"]:
        lines += ["", TRANSFER_CREDIT]
    if trained.get("verdict"):
        verdict = trained["verdict"]
        chosen_on = ("GTZAN's validation list and the real recordings' out-of-fold predictions"
                     if "real_share" in verdict else "the validation list")
        lines += ["", f"The combined verdict averages the models' probabilities with weights chosen on {chosen_on} "
                  "(" + ", ".join(f"{TITLES[name]} {weight:.0%}" for name, weight in verdict["weights"].items())
                  + "; validation " + ", ".join(f"{view} {value:.1%}" for view, value in verdict["valid"].items()) + ")."]
    if scores:
        test = scores["test"]
        lines += ["", f"## Results on the fault-filtered test list ({test['clips']} clips)",
                  "| model | clip accuracy | window accuracy | macro F1 |", "|---|---:|---:|---:|"]
        for name, model in test["models"].items():
            lines.append(f"| {TITLES[name]} | {model['clip_accuracy']:.1%} | "
                         f"{model['window_accuracy']:.1%} | {model['macro_f1']:.3f} |")
        lines += ["", "Per-genre F1 on the test list:", "",
                  "| genre | " + " | ".join(TITLES[name] for name in test["models"]) + " |",
                  "|---|" + "---:|" * len(test["models"])]
        for genre in GENRES:
            lines.append(f"| {genre} | " + " | ".join(
                f"{model['per_genre'][genre]['f1']:.2f}" for model in test["models"].values()) + " |")
        lines += ["", "## Beyond the test images", "", *robustness_table(artifacts_dir), "", *view_notes(artifacts_dir),
                  *realworld_lines(artifacts_dir)]
    if leaked:
        lines += ["", "## The same models under a leaky protocol",
                  f"{leaked['protocol']}: " + "; ".join(
                      f"{TITLES[name]} {model['test_segment_accuracy']:.1%}" for name, model in leaked["models"].items())
                  + ". Inflated by design; shown only to explain published course-project numbers."]
    lines += [
        "", "## Intended use and limits",
        "Teaching and demonstration of genre classification on GTZAN's 10 genres. Not for judging "
        "real-world music: GTZAN is small (1000 clips, mostly from before 2002), has repeated clips, "
        "mislabelings and distortions (Sturm 2013), and heavy artist repetition. The models know only "
        "these 10 genres and answer one of them for any input, speech or noise included; a low "
        "confidence or a disagreement between the models is a sign the clip is outside what they know.",
    ]
    return "\n".join(lines) + "\n"


def realworld_lines(artifacts_dir: Path = ARTIFACTS_DIR) -> list[str]:
    """The verdict's cross-validated recall per real-world genre, with a sentence on how to read it."""
    table = realworld_genre_table(artifacts_dir)
    if not table:
        return []
    return ["", "The combined verdict on the real recordings, per genre (cross-validated; genres with fewer than "
                "five clips are anecdotes):", "", *table]


def readme_results(artifacts_dir: Path = ARTIFACTS_DIR) -> str:
    """The README's tables of measured results: accuracy on every view, size and speed."""
    trained, scores, leaked, speed = training(artifacts_dir), evaluation(artifacts_dir), leaky(artifacts_dir), benchmark(artifacts_dir)
    lines = robustness_table(artifacts_dir) + [""] + view_notes(artifacts_dir) + realworld_lines(artifacts_dir) \
        if scores else []
    lines += ["", "| model | macro F1 (test) | leaky segment split | parameters | warm inference |",
              "|---|---:|---:|---:|---:|"]
    for name, model in in_catalogue_order(trained["models"]):
        test = scores["test"]["models"].get(name) if scores else None
        leaky_score = leaked["models"].get(name) if leaked else None
        warm = speed["ours"]["per_model_ms"].get(name) if speed else None
        cells = [TITLES[name],
                 f"{test['macro_f1']:.3f}" if test else "n/a",
                 f"{leaky_score['test_segment_accuracy']:.1%}" if leaky_score else "n/a",
                 f"{model['parameters']:,}",
                 f"{warm:.1f} ms" if warm is not None else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    if speed:
        ours, common, targets, library = speed["ours"], speed["common"], speed["targets"], speed.get("library") or {}
        lines += ["", f"Speed and memory (`python -m core.bench`, {speed['machine']}, clip {speed['clip']}):", "",
                  "| | genre-lab (LiteRT, NumPy) | common way (librosa + TensorFlow) | target |", "|---|---:|---:|---:|",
                  f"| warm: decode + features + all models | {ours['warm_ms']:.0f} ms | {common['warm_ms']:.0f} ms | {targets['warm_ms']:.0f} ms |",
                  *([f"| warm: the transfer model's branch (its front end included; beside the others, on a second thread) | "
                     f"{ours['per_model_ms']['musicnn']:.0f} ms | | |"] if "musicnn" in ours["per_model_ms"] else []),
                  *([f"| `python -m core.predict --jobs 1`: per clip after the first | "
                     f"{library['ms_per_clip_after_first']:.0f} ms | | {targets['predict_ms_per_clip']:.0f} ms |"]
                    if "ms_per_clip_after_first" in library else []),
                  f"| cold: process start to first result | {ours['cold_s']:.1f} s | {common['cold_s']:.1f} s | {targets['cold_s']:.0f} s |",
                  f"| peak resident memory | {ours['peak_mb']:.0f} MB | {common['peak_mb']:.0f} MB | {targets['peak_mb']:.0f} MB |",
                  f"| 10-minute file | {speed['ten_minutes']['seconds']:.2f} s | | {targets['ten_minutes_s']:.0f} s |",
                  *([f"| the feature baseline's 53 clip statistics of 30 s (one thread) | "
                     f"{ours['clip_statistics_ms']:.1f} ms | {common['clip_statistics_ms']:.0f} ms | "
                     f"{targets['clip_statistics_ms']:.0f} ms |"]
                    if "clip_statistics_ms" in ours else [])]
        if "speedup_ceiling" in library:
            source = library.get("source", "the bundled examples")
            lines += ["", f"`python -m core.predict` on {library['clips']} clips ({source}): "
                          f"{library['jobs_1_clips_per_s']:.1f} clips/s "
                          f"with one job, {library['jobs_2_clips_per_s']:.1f} with two ({library['speedup']:.2f}x; target "
                          f"{targets['library_speedup']}x). One job already keeps {library['jobs_1_cores_busy']:.2f} cores "
                          f"busy (the transfer model runs beside the other models, on two threads of its own), so a second "
                          f"job can add at most {library['speedup_ceiling']:.2f}x."]
    return "\n".join(lines)


def readme_load(artifacts_dir: Path = ARTIFACTS_DIR) -> str:
    """The README's load figures: many visitors uploading at once, and one visitor's playlist."""
    load = load_test(artifacts_dir)
    if not load:
        return "Not measured yet: run `python tests/load_sessions.py --sessions 30 --playlist 30 --write`."
    crowd, playlist, targets = load["sessions"], load["playlist"], load["targets"]
    return "\n".join([
        f"Measured {load['measured']} on {load['machine']} (the browsers on the same cores at lower priority) by "
        f"`{load['command']}`:", "",
        "| | server before the uploads | peak | target | answers |", "|---|---:|---:|---:|---|",
        f"| {crowd['sessions']} visitors upload one clip each at the same moment | {crowd['baseline_mb']:.0f} MB "
        f"(every page open) | {crowd['peak_mb']:.0f} MB | ≤ {targets['sessions_peak_mb']} MB | "
        f"{crowd['answered']} of {crowd['sessions']} answered: first after {crowd['first_answer_s']:.0f} s, median "
        f"{crowd['median_answer_s']:.0f} s, last {crowd['last_answer_s']:.0f} s ({crowd['server_cpu_s']:.0f} s of "
        "server CPU) |",
        f"| one visitor uploads {playlist['files']} files at once | {playlist['baseline_mb']:.0f} MB (the page open) | "
        f"{playlist['peak_mb']:.0f} MB ({playlist['peak_above_idle_mb']:+.0f} MB) | ≤ "
        f"+{targets['playlist_above_idle_mb']} MB | "
        + (f"the table complete after {playlist['table_s']:.0f} s ({playlist['server_cpu_s']:.0f} s of server CPU) |"
           if playlist["answered"] else "not answered |"),
    ])


def replace_block(text: str, start: str, end: str, body: str) -> str:
    """``text`` with what lies between the markers ``start`` and ``end`` replaced by ``body``."""
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def update_readme(artifacts_dir: Path = ARTIFACTS_DIR, readme: Path = README) -> None:
    """Replace the README's results and load blocks with figures from ``artifacts_dir``."""
    text = replace_block(readme.read_text(), RESULTS_START, RESULTS_END, readme_results(artifacts_dir))
    if LOAD_START in text:
        text = replace_block(text, LOAD_START, LOAD_END, readme_load(artifacts_dir))
    readme.write_text(text)


def write_model_card(artifacts_dir: Path = ARTIFACTS_DIR) -> Path:
    path = Path(artifacts_dir) / MODEL_CARD_FILE
    path.write_text(model_card(artifacts_dir))
    return path


def main() -> int:
    print(write_model_card(ARTIFACTS_DIR))
    if README.exists() and RESULTS_START in README.read_text():
        update_readme()
        print(README)
    return 0
