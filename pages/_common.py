"""Streamlit helpers shared by the pages: the navigation, the models, per-session analyses and
missing-file notes.

The models load once per server process (``st.cache_resource``). Bundled examples are public, so
their analyses are shared between visitors (``st.cache_data``, bounded). A visitor's own upload or
recording is analysed into that visitor's ``st.session_state`` only (the last few, keyed by a hash
of the bytes), so nothing one visitor sends is visible to another; so are the CNN's occlusion maps and
the records of a playlist's files (a few kB each: a table of 30 clips keeps 30 records, not 30 analyses).
Nothing is written to disk.

Analyses (and occlusion maps) run one at a time per server process (``ANALYSES_AT_ONCE``), a playlist's
files one by one like single uploads; a visitor whose clip arrives
while another is being analysed waits, with a spinner, and the memory each analysis freed is handed
back to the system. Decoding and the representation of a clip take tens of MB for a moment, so thirty
visitors analysed side by side would need several times the memory of thirty queued, for the same CPU
time (``python tests/load_sessions.py`` measures the queue; its figures are in ``artifacts/load.json``).

``GENRE_LAB_ARTIFACTS`` points the app at another artifacts folder (the tests use it).

Every page calls ``ensure_app_navigation()`` first. Streamlit treats the ``.py`` files of a folder
named ``pages/`` beside the entrypoint as the pages of an old-style multipage app (named after the
files: "streamlit app", "classify", "common", ...) until some session of the server calls
``st.navigation``; from then on it ignores the folder, in every session. So on a fresh server, a
first visit straight to a page's URL (a shared link, a bookmark) runs that page's file on its own,
without ``streamlit_app.py``. ``ensure_app_navigation`` notices, calls the app's ``st.navigation``
(which switches the whole server to the app's own pages for good) and reruns through the entrypoint.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from pathlib import Path

import streamlit as st

from core.serve.analysis import Analysis
from core.serve.artifacts import (BENCHMARK_FILE, EVALUATION_FILE, EXPERIMENTS_FILE, FEATURE_CONFIG_FILE, LEAKY_FILE,
                                  TRAINING_FILE, artifacts_dir, stamp_paths)
from core.serve.errors import AudioError
from core.serve.examples import EXAMPLES_DIR, GALLERY_NAME, example_clips, read_gallery
from core.serve.occlusion import OcclusionMap
from core.serve.records import analysis_record, error_record

ROUTED_KEY = "routed_by_app_navigation"   # session state: this run came through streamlit_app.py
SESSION_CLIPS = 3              # analyses of uploads and recordings (and their occlusion maps) a session keeps
SESSION_KEY = "clip_analyses"
OCCLUSION_KEY = "occlusion_maps"
OCCLUSION_ASKED = "occlusion_asked"    # set by the button's callback, read once
RECORDS_KEY = "clip_records"
RECORDS_KEPT = 60              # records (a few kB each) of uploaded files a session keeps: two full playlists
PLOT_CONFIG = {"displaylogo": False}
# Analyses running at once in the server process, for all sessions together. Each needs about 40 MB
# while it runs and keeps both cores busy, so more at once cost memory for no less CPU time.
ANALYSES_AT_ONCE = 1
WAITING = "Waiting for the clips other visitors sent just before yours…"
_ANALYSIS_SLOTS = threading.BoundedSemaphore(ANALYSES_AT_ONCE)

# Which command writes each artifact.
COMMANDS = {
    "models": "python -m core.train",
    TRAINING_FILE: "python -m core.train",
    EVALUATION_FILE: "python -m core.train (it evaluates the test list once, at the end)",
    LEAKY_FILE: "python -m core.train (without --no-leaky)",
    BENCHMARK_FILE: "python -m core.bench",
    "examples": "python -m core.examples",
    EXPERIMENTS_FILE: "python -m core.experiments",
}


def _app_pages() -> list:
    """The app's pages, in navigation order, each with its title, icon and URL."""
    return [
        st.Page("pages/home.py", title="Home", icon="🏠", default=True),
        st.Page("pages/classify.py", title="Classify a clip", icon="🎧", url_path="classify"),
        st.Page("pages/how-it-works.py", title="How it works", icon="💡", url_path="how-it-works"),
        st.Page("pages/training.py", title="Training", icon="📈", url_path="training"),
        st.Page("pages/comparison.py", title="Comparison", icon="⚖️", url_path="comparison"),
        st.Page("pages/experiments.py", title="Experiments", icon="🧪", url_path="experiments"),
    ]


def app_navigation():
    """The app's ``st.navigation`` for ``streamlit_app.py`` to run; marks the run as routed by it."""
    st.session_state[ROUTED_KEY] = True
    return st.navigation(_app_pages())


def ensure_app_navigation() -> None:
    """Let the page go on when ``streamlit_app.py`` routed this run, else route it there (see above)."""
    if st.session_state.pop(ROUTED_KEY, False):
        return
    st.navigation(_app_pages())
    st.rerun()


def missing(what: str, artifact: str) -> None:
    """Tell the user that ``what`` needs an artifact that is not there yet, and which command makes it."""
    st.info(f"{what} will appear here once `artifacts/{artifact}` exists. It is written by "
            f"`{COMMANDS[artifact]}`.", icon="ℹ️")


def _stamp() -> tuple:
    """The artifacts folder and when its serving files last changed: a retrained model is loaded anew."""
    folder = artifacts_dir()
    return (str(folder),) + tuple((path.name, path.stat().st_mtime_ns) for path in stamp_paths(folder))


@st.cache_resource(show_spinner="Loading the models…", max_entries=2)
def _classifier(stamp: tuple):
    from core.serve.inference import GenreClassifier

    return GenreClassifier(stamp[0])


def classifier():
    """The models, loaded once per server process; None (after saying so) when none are exported."""
    try:
        return _classifier(_stamp())
    except FileNotFoundError:
        st.info(f"No trained models in `{artifacts_dir().name}/` yet. They are written by "
                f"`{COMMANDS['models']}`.", icon="ℹ️")
        return None


@contextlib.contextmanager
def _analysis_slot(waiting: str | None = None):
    """Hold one of the ``ANALYSES_AT_ONCE`` analysis slots; while waiting for it, show ``waiting``."""
    if not _ANALYSIS_SLOTS.acquire(blocking=False):
        with st.spinner(waiting) if waiting else contextlib.nullcontext():
            _ANALYSIS_SLOTS.acquire()
    try:
        yield
    finally:
        _return_freed_memory()
        _ANALYSIS_SLOTS.release()


def _return_freed_memory() -> None:
    """Hand the memory an analysis freed back to the operating system (glibc keeps it otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@st.cache_data(max_entries=12, show_spinner="Classifying the example…")
def _example_analysis(path: str, stamp: tuple) -> Analysis:
    with _analysis_slot():
        return _classifier(stamp).analyse(Path(path))


def example_analysis(path: Path) -> Analysis:
    """The analysis of a bundled example, shared between sessions (the examples are public)."""
    return _example_analysis(str(path), _stamp())


def clip_key(data: bytes) -> tuple:
    """What a visitor's clip is remembered by in their session: a hash of its bytes and the models' stamp."""
    return hashlib.sha256(data).hexdigest(), _stamp()


def _remember(name: str, key: tuple, value, keep: int):
    """Keep ``value`` under ``key`` in the session's store ``name``, which holds the last ``keep`` values."""
    store = st.session_state.setdefault(name, {})
    store[key] = value
    while len(store) > keep:
        del store[next(iter(store))]
    return value


def session_analysis(data: bytes, spinner: str | None = "Classifying…") -> Analysis:
    """The analysis of a visitor's own audio, kept in their session only (the last few clips).

    Raises ``core.serve.errors.AudioError`` when the bytes cannot be analysed; that is not kept.
    """
    key = clip_key(data)
    stored = st.session_state.get(SESSION_KEY, {})
    if key in stored:
        return stored[key]
    with _analysis_slot(WAITING), \
            st.spinner(spinner) if spinner else contextlib.nullcontext():
        return _remember(SESSION_KEY, key, _classifier(key[1]).analyse(data), SESSION_CLIPS)


def clip_records(files) -> list[dict]:
    """The record (``core.serve.records``) of every uploaded file, in order, each analysed through the queue
    and cache of single uploads, with a progress bar meanwhile. A file that cannot be analysed gets its
    one-sentence reason; it does not stop the others. The session keeps the records of its last
    ``RECORDS_KEPT`` files by their upload's id, so a rerun (an expected genre filled in) hashes no bytes.
    """
    records, bar, stamp = [], None, _stamp()
    for index, file in enumerate(files):
        key = (file.file_id, stamp)
        record = st.session_state.get(RECORDS_KEY, {}).get(key)
        if record is None:
            bar = bar or st.progress(0.0)
            bar.progress(index / len(files), text=f"Analysing {file.name} ({index + 1} of {len(files)})…")
            try:
                record = analysis_record(file.name, session_analysis(file.getvalue(), spinner=None))
            except AudioError as error:
                record = error_record(file.name, str(error))
            _remember(RECORDS_KEY, key, record, RECORDS_KEPT)
        records.append(record)
    if bar is not None:
        bar.empty()
    return records


def _ask_for_occlusion() -> None:
    st.session_state[OCCLUSION_ASKED] = True


def occlusion_on_demand(data: bytes, analysis: Analysis, label: str) -> OcclusionMap | None:
    """The CNN's occlusion map of a clip: the one this session keeps, or, once the button ``label`` is pressed,
    computed through the analysis queue with a progress bar and kept (the last few clips, like their
    analyses); None, under the button, until then.

    The press is kept by the button's callback as a flag, which survives the rerun that routes a page run
    through the app's navigation (``ensure_app_navigation``), where a button's own value would not.
    """
    key = clip_key(data)
    if key in st.session_state.get(OCCLUSION_KEY, {}):
        return st.session_state[OCCLUSION_KEY][key]
    button = st.empty()
    button.button(label, key="occlude", icon="🔎", on_click=_ask_for_occlusion)
    if not st.session_state.pop(OCCLUSION_ASKED, False):
        return None
    button.empty()
    with _analysis_slot(WAITING):
        hiding = "Hiding one patch of the spectrogram at a time…"
        bar = st.progress(0.0, text=hiding)
        found = _classifier(key[1]).cnn_occlusion(analysis, progress=lambda done: bar.progress(done, text=hiding))
        bar.empty()
    return _remember(OCCLUSION_KEY, key, found, SESSION_CLIPS)


def chart(figure, key: str, alt: str) -> None:
    """A plotly figure at full width, without the plotly logo."""
    st.plotly_chart(figure, key=key, config=PLOT_CONFIG, alt=alt)


def accuracy_dataframe() -> bool:
    """Every model's accuracy on every evaluation view (``core.app.comparison.accuracy_table``), each column's help
    saying what it measures; False when ``evaluation.json`` has no view besides the test images."""
    from core.app.comparison import accuracy_table
    from core.serve import results

    rows, clips = results.accuracy_rows(artifacts_dir()), results.view_clips(artifacts_dir())
    if len(clips) < 2:
        return False
    table, described = accuracy_table(rows, clips)
    st.dataframe(table, hide_index=True, column_config={
        column: st.column_config.NumberColumn(format="%.1f", help=help_text) for column, help_text in described.items()})
    return True


def feature_config():
    """The feature configuration the models were trained with (``artifacts/feature_config.json``), or None."""
    from core.serve.config import FeatureConfig

    path = artifacts_dir() / FEATURE_CONFIG_FILE
    return FeatureConfig.load(path) if path.exists() else None


def model_lines(config, trained: dict | None) -> dict[str, str]:
    """One plain line per model on what it reads, from the real configuration and architecture."""
    from core.app.pipeline import baseline_inputs

    window = f"{config.window_seconds:.1f} s" if config else "short"
    architecture = ((trained or {}).get("models", {}).get("baseline") or {}).get("architecture")
    statistics = baseline_inputs(config, architecture) if config else None
    return {
        "cnn": f"looks at {window} pictures of the mel spectrogram and finds patterns in time and pitch.",
        "lstm": f"reads the MFCCs of {window} windows step by step, remembering what it heard.",
        "baseline": f"judges {statistics or 'a few dozen'} statistics of a whole 30 s stretch (loudness, "
                    "brightness, tempo, MFCC averages).",
        "musicnn": "hears 3 s patches through musicnn, a network pretrained on a million songs to name 50 tags "
                   "(rock, jazz, 80s, female vocalists, ...), and turns its tags into the ten genres.",
    }


@st.cache_data(max_entries=4, show_spinner=False)
def _example_gallery(examples_dir: str, folder: str, files: tuple):
    return read_gallery(examples_dir, folder)


def example_gallery(examples_dir: Path | None = None):
    """The stored answers for the bundled examples (``core.serve.examples.read_gallery``), checked against the
    models the app loads; read again whenever one of the files it depends on changes."""
    examples_dir = Path(examples_dir or EXAMPLES_DIR)
    folder = artifacts_dir()
    paths = stamp_paths(folder) + [examples_dir / GALLERY_NAME] + [clip.path for clip in example_clips(examples_dir)]
    files = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in paths if path.exists())
    return _example_gallery(str(examples_dir), str(folder), files)
