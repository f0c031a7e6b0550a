"""Reliability: an app that survives bad input and many visitors.

* Every case of the generated corpus (``tests/audio_corpus.py``) through all three ways in: ``core``
  (decode + classify), the command line (one process for the whole corpus) and the app (a
  representative subset, one case per error class). Each path classifies the input or gives the
  same one plain sentence, never a traceback.
* Long input: a file of exactly the maximum (10 minutes: analysed whole) and a 1-hour file (cut, and
  the user is told) are analysed in a fresh process each, whose peak resident memory is bounded and
  does not grow with the length of the file.
* Many visitors: concurrent analyses on one shared classifier give bit-identical results; concurrent
  app sessions each see their own upload, with one classifier for all of them and no more analyses
  at once than ``ANALYSES_AT_ONCE``; a real server answers five browsers uploading at the same
  moment within the memory budget (``tests/load_sessions.py`` runs the same with 30); no upload is
  left on disk (nothing in the temporary folder, no file in the repository or in the system's
  temporary folder holding uploaded bytes: other processes may write files there meanwhile).
* Determinism, the upload limit and unsupported formats.

Run with ``-s`` to see the measured memory figures and timings.
"""

from __future__ import annotations

import functools
import hashlib
import json
import mimetypes
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from core.serve.audio import decode
from core.serve.config import GENRES
from core.serve.errors import AudioError, UnsupportedFormatError
from core.serve.examples import example_clips
from tests.audio_corpus import CASES, encode, music

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
CLASSIFY = "pages/classify.py"
UPLOAD = "Upload a file"
RECORD = "Record with the microphone"
TIMEOUT_S = 180                   # per script run; generous for 8 sessions sharing 2 cores
VISITORS = 8
BROWSER_VISITORS = 5              # real browsers uploading at once to a real server
SERVER_MEMORY_LIMIT_MB = 600      # peak resident memory of the server (Community Cloud: about 690 MB-1 GB)

# The app subset: one bad case per error class (the empty file is in test_app.py; the MP4 case is
# in the upload-limit test below) and two good ones, one of them with a notice.
APP_BAD = ("utf8_text", "wav_header_only", "float_nan", "dc_only", "just_under_a_second", "mp3_in_wav")
APP_GOOD = ("mp3_truncated", "ogg_opus")

# Long input: peak resident memory of a fresh process that decodes and classifies one file
# (VmHWM, or ru_maxrss where there is no /proc).
PEAK_LIMIT_MB = 400.0             # generous: Community Cloud gives the whole app about 690 MB
LONG_GROWTH_LIMIT_MB = 40.0       # the 1-hour file may cost at most this much more than the 10-minute one
MEASURE = r"""
import json, resource, sys, time
from pathlib import Path

def peak_mb():
    # Linux keeps ru_maxrss across exec, so there it would be at least the size of the pytest process
    # that started this one; VmHWM is the high-water mark of this process's own memory.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # bytes on macOS
        return peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)

from core.serve.audio import decode
from core.serve.inference import GenreClassifier

classifier = GenreClassifier()
loaded_mb = peak_mb()
started = time.perf_counter()
analysis = classifier.analyse(decode(Path(sys.argv[1]), classifier.config))
print(json.dumps({
    "loaded_mb": loaded_mb, "peak_mb": peak_mb(), "seconds": time.perf_counter() - started,
    "duration_s": analysis.duration_s, "analysed_s": analysis.analysed_s, "truncated": analysis.truncated,
    "notices": list(analysis.notices), "models": {name: p.genre for name, p in analysis.predictions.items()},
}))
"""


# ----------------------------------------------------------------------------- helpers
@functools.cache
def corpus_bytes(name: str) -> bytes:
    return CASES[name].make()


@functools.cache
def sentence(name: str) -> str:
    """What core says about a bad corpus case: the sentence the CLI and the app must show too."""
    try:
        decode(corpus_bytes(name))
    except AudioError as error:
        return str(error)
    raise AssertionError(f"{name} was expected to be rejected")


_ANALYSES: dict = {}


def core_analysis(classifier, name: str):
    """The classifier's analysis of a good corpus case (computed once per test session)."""
    if name not in _ANALYSES:
        _ANALYSES[name] = classifier.analyse(decode(corpus_bytes(name), classifier.config))
    return _ANALYSES[name]


def assert_one_sentence(message: str) -> None:
    assert re.fullmatch(r"[A-Z][^\n]*[.]", message), message
    assert not re.search(r"[.!?] [A-Z]", message), f"more than one sentence: {message}"
    assert "Traceback" not in message and "Error" not in message and len(message) < 200, message


def mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def upload_page(timeout: float = TIMEOUT_S) -> AppTest:
    """A fresh session on the classify page with the upload widget showing."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    at.switch_page(CLASSIFY).run()
    at.radio(key="source").set_value(UPLOAD).run()
    assert not at.exception, [exception.value for exception in at.exception]
    return at


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.get("file_uploader")[0].upload(name, data, mime(name))
    return at.run()


def shown_genres(at: AppTest) -> list[str]:
    return [metric.value for metric in at.metric if metric.label == "Genre"]


def genres(analysis) -> list[str]:
    return [prediction.genre for prediction in analysis.predictions.values()]


def assert_same_analysis(got, expected, what: str) -> None:
    """Bit-identical probabilities, per clip and per window, for every model."""
    assert list(got.predictions) == list(expected.predictions), what
    for name, prediction in expected.predictions.items():
        assert np.array_equal(got.predictions[name].probabilities, prediction.probabilities), f"{what}: {name}"
        assert np.array_equal(got.predictions[name].window_probabilities, prediction.window_probabilities), \
            f"{what}: {name} windows"


@pytest.fixture(scope="module")
def examples(classifier):
    """The bundled example clips: bytes, decoded audio and the shared classifier's analysis, one by one."""
    found = example_clips()
    assert len(found) >= VISITORS, "artifacts/examples needs at least 8 clips: run python -m core.examples"
    rows = []
    for example in found:
        data = example.path.read_bytes()
        audio = decode(data, classifier.config)
        rows.append({"example": example, "data": data, "audio": audio, "analysis": classifier.analyse(audio)})
    return rows


# ----------------------------------------------------------------------------- 1. bad input, all paths
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_core_classifies_or_explains_every_corpus_case(case, classifier):
    if not case.ok:
        with pytest.raises(AudioError) as caught:
            classifier.analyse(decode(corpus_bytes(case.name), classifier.config))
        assert type(caught.value) is case.expected
        assert_one_sentence(str(caught.value))
        return
    analysis = core_analysis(classifier, case.name)
    assert list(analysis.predictions) == classifier.model_names
    for prediction in analysis.predictions.values():
        assert prediction.genre in GENRES
        assert np.isfinite(prediction.window_probabilities).all() and len(prediction.window_probabilities) >= 1
        assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    assert analysis.analysed_s == pytest.approx(case.duration_s, abs=case.tolerance / classifier.config.sample_rate)
    assert not analysis.truncated
    short = analysis.analysed_s < classifier.config.window_seconds
    assert any("repeated to fill one window" in notice for notice in analysis.notices) == short
    assert sum("damaged or incomplete" in notice for notice in analysis.notices) == case.notice


@pytest.mark.slow
def test_cli_gives_one_line_per_corpus_file_in_order(tmp_path, classifier):
    folder = tmp_path / "Música del año ♪ 歌"
    folder.mkdir()
    cases = list(CASES.values())
    paths = []
    for index, case in enumerate(cases):
        path = folder / f"{index:02d} my song – {case.name} ({case.file_name})"
        path.write_bytes(corpus_bytes(case.name))
        paths.append(str(path))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-m", "core.predict", "--json", *paths], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(cases), result.stdout[-3000:]
    for line, path, case in zip(lines, paths, cases):
        record = json.loads(line)
        assert record["file"] == path
        assert record["ok"] is case.ok, record
        if not case.ok:
            assert record["error"] == sentence(case.name), case.name
            continue
        expected = core_analysis(classifier, case.name)
        assert record["truncated"] is False and record["notices"] == list(expected.notices), case.name
        outcomes = expected.outcomes()          # every model, then the combined verdict
        assert [model["genre"] for model in record["models"].values()] == [p.genre for p in outcomes.values()], \
            case.name
        for name, model in record["models"].items():
            assert list(model["probabilities"].values()) == pytest.approx(
                outcomes[name].probabilities, abs=2e-6), f"{case.name}: {name}"


@pytest.mark.slow
@pytest.mark.parametrize("name", APP_BAD + APP_GOOD)
def test_app_shows_the_sentence_from_core_or_the_genres(name, classifier):
    case = CASES[name]
    at = upload(upload_page(), f"my song – Música ♪ {case.file_name}", corpus_bytes(name))
    assert not at.exception, [exception.value for exception in at.exception]
    if not case.ok:
        assert [error.value for error in at.error] == [sentence(name)]
        assert not shown_genres(at) and not at.get("plotly_chart")
        return
    assert not at.error, [error.value for error in at.error]
    expected = core_analysis(classifier, name)
    assert shown_genres(at) == genres(expected)
    warnings = [warning.value for warning in at.warning]
    assert expected.notices and all(notice in warnings for notice in expected.notices), warnings


# ----------------------------------------------------------------------------- 2. long input
def write_long_wav(path: Path, duration_s: float, rate: int = 8000) -> Path:
    """A mono 16-bit WAV written in 10 s blocks (cheap: a 1-hour file takes well under a second)."""
    block = music(10.0, rate, seed=11)
    with sf.SoundFile(path, "w", rate, 1, "PCM_16", format="WAV") as file:
        for index in range(round(duration_s / 10.0)):
            file.write(block * (0.5 + 0.5 * (index % 5) / 4))      # a little variation in level
    return path


def measure(path: Path) -> dict:
    """Decode and classify ``path`` in a fresh interpreter; its peak memory and what it found."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_long_files_are_cut_at_the_maximum_in_bounded_memory(tmp_path, classifier):
    config = classifier.config
    limit_min = config.max_duration_s / 60
    ten = measure(write_long_wav(tmp_path / "ten minutes – dix.wav", config.max_duration_s))
    hour = measure(write_long_wav(tmp_path / "one hour – une heure.wav", 3600.0))
    figures = (f"peak RSS: 10-minute file {ten['peak_mb']:.0f} MB ({ten['loaded_mb']:.0f} MB after loading the "
               f"models, analysis {ten['seconds']:.1f} s); 1-hour file {hour['peak_mb']:.0f} MB "
               f"({hour['loaded_mb']:.0f} MB after loading, analysis {hour['seconds']:.1f} s)")
    print("\n" + figures)

    # Exactly the maximum: analysed whole, nothing to say.
    assert ten["analysed_s"] == pytest.approx(config.max_duration_s, abs=1e-3)
    assert ten["truncated"] is False and ten["notices"] == []
    # Longer: the first max_duration_s, and the user is told.
    assert hour["analysed_s"] == config.max_duration_s
    assert hour["truncated"] is True and hour["duration_s"] == 3600.0
    assert len(hour["notices"]) == 1
    assert "60 minutes long" in hour["notices"][0] and f"only its first {limit_min:g} minutes" in hour["notices"][0]
    assert set(hour["models"]) == set(classifier.model_names)

    assert hour["peak_mb"] < PEAK_LIMIT_MB, figures
    assert ten["peak_mb"] < PEAK_LIMIT_MB, figures
    assert hour["peak_mb"] < ten["peak_mb"] + LONG_GROWTH_LIMIT_MB, figures


# ----------------------------------------------------------------------------- 3. many visitors
@pytest.mark.slow
def test_concurrent_analyses_on_one_classifier_do_not_mix(classifier, examples):
    chosen = examples[:VISITORS]
    assert len({tuple(row["analysis"].predictions["cnn"].probabilities) for row in chosen}) == VISITORS
    barrier = threading.Barrier(VISITORS)

    def analyse(row):
        barrier.wait(timeout=60)
        return classifier.analyse(row["audio"])

    for order in (chosen, chosen[::-1]):
        with ThreadPoolExecutor(VISITORS) as pool:
            results = list(pool.map(analyse, order))
        for row, result in zip(order, results):
            assert_same_analysis(result, row["analysis"], row["example"].label)
            assert all(np.array_equal(a, b) for a, b in zip(result.unit_levels, row["analysis"].unit_levels))


@pytest.fixture
def sessions_as_on_a_server(monkeypatch):
    """Let several ``AppTest`` sessions run at once, as sessions do on one server.

    ``AppTest`` is made for one session at a time. Every run installs a mock Streamlit ``Runtime``
    as the process-wide singleton and clears it when it ends (a session still running then loses
    it: ``st.audio`` needs it), patches ``config.get_option`` globally to set ``global.appTest``, and
    compiles the page scripts anew in a script cache of its own, while CPython 3.11's ``ast`` is not
    safe to use from several threads at once ("AST constructor recursion depth mismatch"). A server
    has one runtime and one script cache, which compiles each page once under a lock. So here the
    last runtime installed stays available, ``global.appTest`` stays on and compiling is serialised.
    """
    from streamlit import config
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    latest, compile_lock = {}, threading.Lock()
    get_option, get_bytecode = config.get_option, ScriptCache.get_bytecode

    def instance(cls):
        if cls._instance is not None:
            latest["runtime"] = cls._instance
        if "runtime" not in latest:
            raise RuntimeError("Runtime hasn't been created!")
        return latest["runtime"]

    def locked_get_bytecode(self, script_path):
        with compile_lock:
            return get_bytecode(self, script_path)

    monkeypatch.setattr(Runtime, "instance", classmethod(instance))
    monkeypatch.setattr(Runtime, "exists", classmethod(lambda cls: cls._instance is not None or "runtime" in latest))
    monkeypatch.setattr(config, "get_option", lambda name: True if name == "global.appTest" else get_option(name))
    monkeypatch.setattr(ScriptCache, "get_bytecode", locked_get_bytecode)


@pytest.mark.slow
def test_concurrent_visitors_each_see_their_own_upload_with_one_classifier(examples, monkeypatch,
                                                                           sessions_as_on_a_server):
    from core.serve.inference import GenreClassifier
    from pages import _common

    built = []
    original_init = GenreClassifier.__init__

    def counting_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(GenreClassifier, "__init__", counting_init)
    _common._classifier.clear()                      # the sessions below load the models
    running, most_at_once, analysed, count_lock = [0], [0], [], threading.Lock()
    analyse = GenreClassifier.analyse

    def counting_analyse(*args, **kwargs):
        with count_lock:
            running[0] += 1
            most_at_once[0] = max(most_at_once[0], running[0])
        try:
            return analyse(*args, **kwargs)
        finally:
            with count_lock:
                running[0] -= 1
                analysed.append(1)

    monkeypatch.setattr(GenreClassifier, "analyse", counting_analyse)
    chosen = examples[:VISITORS]
    sessions, failures = {}, []
    barrier = threading.Barrier(VISITORS)

    def visit(index: int, row: dict) -> None:
        try:
            at = upload_page()                           # all 8 load the page (and the models) at once
            barrier.wait(timeout=TIMEOUT_S)              # then all 8 upload at once
            sessions[index] = upload(at, f"visitor {index} – {row['example'].path.name}", row["data"])
        except Exception as error:  # noqa: BLE001 - reported below, with the visitor's number
            barrier.abort()
            failures.append(f"visitor {index}: {error!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=visit, args=(index, row)) for index, row in enumerate(chosen)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * TIMEOUT_S)
    print(f"\n{VISITORS} concurrent sessions: {time.perf_counter() - started:.1f} s")
    assert not failures, failures
    assert len(sessions) == VISITORS

    assert len(built) == 1, f"the classifier was built {len(built)} times"
    assert len(analysed) >= VISITORS and most_at_once[0] <= _common.ANALYSES_AT_ONCE, (len(analysed), most_at_once)
    assert _common._classifier(_common._stamp()) is built[0]
    for index, row in enumerate(chosen):
        at, label = sessions[index], row["example"].label
        assert not at.exception, (label, [exception.value for exception in at.exception])
        assert not at.error, (label, [error.value for error in at.error])
        assert shown_genres(at) == genres(row["analysis"]), label
        store = at.session_state[_common.SESSION_KEY]
        assert [key[0] for key in store] == [hashlib.sha256(row["data"]).hexdigest()], label
        assert_same_analysis(next(iter(store.values())), row["analysis"], label)


@pytest.mark.slow
@pytest.mark.e2e
def test_browsers_uploading_at_the_same_moment_are_all_answered_within_the_memory_budget():
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium not found: apt-get install chromium")
    pytest.importorskip("playwright")
    from tests.load_sessions import run

    result = run(BROWSER_VISITORS)
    print(f"\n{BROWSER_VISITORS} browsers uploading at once: server {result['baseline_mb']:.0f} MB before, "
          f"{result['peak_mb']:.0f} MB at the peak; last answer after {result['last_answer_s']} s")
    assert not result["failures"], (result["failures"], result["server_log_tail"])
    assert result["answered"] == BROWSER_VISITORS
    assert result["peak_mb"] <= SERVER_MEMORY_LIMIT_MB, result


def _files_holding(roots: list[Path], fingerprints: list[bytes], since: float, skip: set[Path]) -> list[str]:
    """Regular files under ``roots`` changed since ``since`` that contain one of ``fingerprints``."""
    found = []
    for root in roots:
        for folder, dirs, names in os.walk(root):
            dirs[:] = [name for name in dirs if name not in ("__pycache__", ".git", ".pytest_cache")
                       and Path(folder, name) not in skip]
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.stat(path, follow_symlinks=False)
                    if not stat.S_ISREG(info.st_mode) or info.st_mtime < since or info.st_size > 500e6:
                        continue
                    content = Path(path).read_bytes()
                except OSError:
                    continue
                if any(fingerprint in content for fingerprint in fingerprints):
                    found.append(path)
    return found


def _tree(root: Path) -> set[str]:
    return {str(Path(folder, name)) for folder, _, names in os.walk(root) for name in names}


@pytest.mark.slow
def test_uploads_leave_nothing_on_disk(tmp_path, tmp_path_factory, monkeypatch):
    real_tmp = Path(tempfile.gettempdir())
    # Anything written through ``tempfile`` (by the app, Streamlit or a library) lands here.
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    payloads = {
        "party mix – fête.wav": encode(music(6.0, 44100, 2, seed=101), 44100, "WAV", "PCM_16"),
        "live take ♪.flac": encode(music(5.0, 48000, 2, seed=102), 48000, "FLAC", "PCM_24"),
        "demo – año.mp3": encode(music(5.0, 44100, 2, seed=103), 44100, "MP3", "MPEG_LAYER_III"),
        "voice memo.mp3": corpus_bytes("mp4_m4a") + np.random.default_rng(104).bytes(4096),
        "notes.ogg": b"not music at all, seed 105\n" * 200,
    }
    recording = encode(music(4.0, 22050, seed=106), 22050, "WAV", "PCM_16")
    fingerprints = [data[len(data) // 2:len(data) // 2 + 64] for data in [*payloads.values(), recording]]
    since = time.time() - 2

    at = upload_page()
    for name, data in payloads.items():
        upload(at, name, data)
        assert not at.exception, (name, [exception.value for exception in at.exception])
    at.radio(key="source").set_value(RECORD).run()
    at.audio_input(key="record").upload("recording.wav", recording)
    at.run()
    assert not at.exception and shown_genres(at)

    assert _tree(private_tmp) == set(), "files left in the temporary folder"
    skip = {tmp_path_factory.getbasetemp().resolve()}
    holding = _files_holding([ROOT, real_tmp], fingerprints, since, skip)
    assert not holding, f"uploaded bytes found on disk: {holding}"


# ----------------------------------------------------------------------------- 4. determinism
@pytest.mark.slow
def test_same_clip_gives_bit_identical_probabilities(classifier, examples):
    from core.serve.inference import GenreClassifier

    first = examples[0]
    other = decode(encode(music(47.0, 44100, 2, seed=3), 44100, "WAV", "PCM_16"), classifier.config)  # 2 units
    for fresh in (GenreClassifier(), GenreClassifier()):
        assert_same_analysis(fresh.analyse(first["audio"]), first["analysis"], "fresh classifier")
        fresh.analyse(other)                          # another clip, another batch size, in between
        assert_same_analysis(fresh.analyse(first["audio"]), first["analysis"], "after another clip")
        assert_same_analysis(fresh.analyse(decode(first["data"], fresh.config)), first["analysis"], "decoded anew")
    assert_same_analysis(classifier.analyse(first["audio"]), first["analysis"], "repeated call")


def test_a_quiet_recording_gets_the_transfer_models_answer_for_a_loud_one(classifier, examples):
    """musicnn's input is levelled (``HeadSettings.level_db``): 26 dB quieter, the same probabilities."""
    import dataclasses

    assert classifier.transfer_head.settings.level_db is not None, "the served head hears inputs as recorded"
    audio = examples[0]["audio"]
    quiet = dataclasses.replace(audio, samples=audio.samples * np.float32(0.05))
    np.testing.assert_allclose(classifier.analyse(quiet).predictions["musicnn"].probabilities,
                               examples[0]["analysis"].predictions["musicnn"].probabilities, atol=2e-3)


# ----------------------------------------------------------------------------- 5. upload limit and formats
def test_upload_limit_and_types_reach_the_widget(monkeypatch):
    from streamlit import config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    limit_mb = settings["server"]["maxUploadSize"]
    assert isinstance(limit_mb, int) and 0 < limit_mb < 200        # set, and below Streamlit's default
    monkeypatch.chdir(ROOT)                                         # Streamlit reads ./.streamlit/config.toml
    config.get_config_options(force_reparse=True)
    uploader = upload_page().get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == limit_mb           # what the browser enforces and shows
    allowed = set(uploader.allowed_type)
    accepted = {Path(case.file_name).suffix for case in CASES.values() if case.ok}
    refused = {Path(case.file_name).suffix for case in CASES.values() if case.expected is UnsupportedFormatError}
    assert accepted <= allowed, accepted - allowed                 # every readable format can be picked
    assert not allowed & (refused - accepted), allowed & refused   # .m4a, .mp4, .wma, .mid, ... cannot


def test_an_mp4_renamed_to_mp3_gets_the_unsupported_format_sentence():
    at = upload(upload_page(), "phone recording – grabación.mp3", corpus_bytes("mp4_m4a"))
    assert not at.exception
    assert [error.value for error in at.error] == [sentence("mp4_m4a")]
    assert "MP4/M4A" in sentence("mp4_m4a") and "convert" in sentence("mp4_m4a")
    assert not shown_genres(at)
