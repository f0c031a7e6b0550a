"""Many visitors at once, and one visitor with a whole playlist: the server's memory and answer times.

    python tests/load_sessions.py --sessions 30                      # a table on stdout
    python tests/load_sessions.py --sessions 30 --json               # one JSON object
    python tests/load_sessions.py --sessions 30 --playlist 30 --write
        # both scenarios; writes artifacts/load.json and the README's load block from it

Starts a fresh ``streamlit run streamlit_app.py`` on a free local port, opens the classify page in N
headless Chromium pages (one browser, N contexts, so N Streamlit sessions), chooses "Upload a file"
in each, then gives every page its own clip at the same moment and waits until each shows its
answer (the "What each model says" header) or an error. Meanwhile it samples the resident memory
of the server (the process and its children: psutil when installed, else ``/proc/<pid>/status``)
every 0.2 s, and prints the number of sessions, the server's memory before the uploads (every page
open, models loaded) and at its peak, the time from the uploads to the last answer, and the
failures. The peak is the higher of the highest sample and the kernel's own high-water mark of the
server process (``VmHWM``, reset just before the uploads), which no short spike escapes.

The visitors' browsers would run on their own machines; here they share the server's cores, so
Chromium runs at a lower priority (``--browser-nice``, default 10) and leaves the server its CPU
time. The times still depend on whatever else the machine is doing.

``--playlist N`` then starts another fresh server and opens the page in one session, which uploads
N files at once (the uploader's multiple files): its figures are the server's memory with that page
open (idle) and at its peak, and the time until the table of the clips ("Your clips") is complete.

The clips are the bundled examples (``artifacts/examples``) made into N different files: each one
at its own level and, from the 11th on, slightly faster or slower (so also another pitch), encoded
as 64 kbit/s MP3 in a temporary folder that is removed at the end. Chromium is Debian's
(``/usr/bin/chromium``), driven by the ``playwright`` package (no Playwright browser download).

Not a pytest file (pytest collects ``test_*.py`` only); ``tests/test_reliability.py`` runs a few
sessions through :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit_app.py"
EXAMPLES = ROOT / "artifacts" / "examples"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SAMPLE_S = 0.2
SERVER_START_TIMEOUT_S = 90
OPEN_TIMEOUT_S = 300          # opening every page, before the uploads (30 pages on 2 busy cores)
OPEN_AT_ONCE = 6              # pages opened at a time (setup only: the uploads are all at once)
ANSWER_TIMEOUT_S = 600
# The visitors' browsers run on their own machines, not on the server's cores: here they share the
# server's machine, so they run at a lower priority (nice) to leave the server its CPU time.
BROWSER_NICE = 10
UPLOADER_INPUT = '[data-testid="stFileUploader"] input[type="file"]'
ANSWER_HEADER = "What each model says"
PLAYLIST_HEADER = "Your clips"
LOAD_FILE = ROOT / "artifacts" / "load.json"
# The limits the figures are held to (issue 20): the hosted app has about 690 MB-1 GB.
TARGETS = {"sessions_peak_mb": 600, "playlist_above_idle_mb": 150}

# What a page shows: 'answer' (the models' answers), 'error' (an error box or an exception) or ''.
PAGE_STATE = """header => {
    const app = document.querySelector('[data-testid="stApp"]');
    const failed = document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]');
    if (failed) return ['error', failed.innerText.slice(0, 300)];
    const answered = [...document.querySelectorAll('h1, h2, h3')].some(h => h.innerText.includes(header));
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stSpinner"]');
    return [answered ? 'answer' : '', idle ? 'idle' : 'running'];
}"""


# ----------------------------------------------------------------------------- the clips
def make_clips(count: int, folder: Path) -> list[Path]:
    """``count`` different ~30 s MP3 files made from the bundled examples, in ``folder``."""
    import numpy as np
    import soundfile as sf
    import soxr

    sources = sorted(EXAMPLES.glob("*.mp3"))
    if not sources:
        raise SystemExit(f"no example clips in {EXAMPLES}: run python -m core.examples")
    decoded = {}
    paths = []
    for index in range(count):
        source = sources[index % len(sources)]
        if source not in decoded:
            samples, rate = sf.read(source, dtype="float32", always_2d=True)
            decoded[source] = (samples, rate)
        samples, rate = decoded[source]
        round_ = index // len(sources)
        if round_:   # played 2% faster, 2% slower, 4% faster, ...: other samples, another pitch
            speed = 1 + 0.02 * ((round_ + 1) // 2) * (1 if round_ % 2 else -1)
            samples = soxr.resample(samples, rate * speed, rate).astype(np.float32)
        gain = 0.9 - 0.4 * index / max(count - 1, 1)          # every file at its own level
        peak = float(np.abs(samples).max()) or 1.0
        path = folder / f"visitor {index:02d} – {source.stem}.mp3"
        sf.write(path, samples * (gain / peak), rate, format="MP3", subtype="MPEG_LAYER_III")
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- the server and its memory
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as file:
                found += [int(child) for child in file.read().split()]
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB (0 once it has gone)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            process = psutil.Process(pid)
            processes = [process] + process.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0.0
        total = 0
        for each in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += each.memory_info().rss
        return total / 2 ** 20
    total_kb, todo = 0, [pid]
    while todo:
        current = todo.pop()
        with contextlib.suppress(OSError, StopIteration), open(f"/proc/{current}/status") as status:
            total_kb += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        todo += _children(current)
    return total_kb / 1024


class MemorySampler(threading.Thread):
    """Samples ``rss_mb(pid)`` every ``SAMPLE_S`` seconds; ``peak_since(t)`` is the highest since ``t``."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.samples, self.done = pid, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.monotonic(), rss_mb(self.pid)))
            self.done.wait(SAMPLE_S)

    def now(self) -> float:
        return rss_mb(self.pid)

    def reset_high_water_mark(self) -> bool:
        """Reset the kernel's record of the server's peak memory (VmHWM); False where that is not possible."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as file:
                file.write("5")
            return True
        except OSError:
            return False

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far, in seconds (0 if unknown)."""
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{self.pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return 0.0

    def high_water_mark_mb(self) -> float:
        """The server process's peak resident memory since the reset, as the kernel counts it (0 if unknown)."""
        with contextlib.suppress(OSError, StopIteration), open(f"/proc/{self.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
        return 0.0

    def peak_since(self, since: float) -> float:
        return max((mb for at, mb in self.samples if at >= since), default=0.0)


@contextlib.contextmanager
def served_app(log_path: Path, port: int):
    """``streamlit run streamlit_app.py`` on ``port``; yields the process; stopped at the end."""
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {server.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start within {SERVER_START_TIMEOUT_S} s:\n{tail(log_path)}")
            time.sleep(0.25)
        yield server
    finally:
        if server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


# ----------------------------------------------------------------------------- the browser sessions
async def _wait_state(page, wanted: str, timeout_s: float, settle_s: float = 0.0,
                      header: str = ANSWER_HEADER) -> tuple[str, str]:
    """Poll the page until its state is ``wanted`` ('answer': ``header`` shows, or 'idle') or an error shows;
    (state, detail)."""
    deadline = time.monotonic() + timeout_s
    held = None
    while True:
        state, detail = await page.evaluate(PAGE_STATE, header)
        if state == "error":
            return state, detail
        if state == wanted or detail == wanted:
            held = held or time.monotonic()
            if time.monotonic() - held >= settle_s:
                return wanted, detail
        else:
            held = None
        if time.monotonic() > deadline:
            return "timeout", f"no {wanted} within {timeout_s:.0f} s"
        await asyncio.sleep(0.2)


async def _open_upload_page(browser, url: str, gate: asyncio.Semaphore):
    async with gate:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(OPEN_TIMEOUT_S * 1000)
        page = await context.new_page()
        await page.goto(url + "classify", wait_until="domcontentloaded")
        await page.get_by_text("Upload a file", exact=True).click()
        await page.wait_for_selector(UPLOADER_INPUT, state="attached")
        state, detail = await _wait_state(page, "idle", OPEN_TIMEOUT_S, settle_s=0.5)
        if state != "idle":
            raise RuntimeError(f"the upload page did not settle: {state} {detail}")
        return context, page


async def _upload_and_wait(page, clip: Path | list[Path], started: float, header: str = ANSWER_HEADER) -> dict:
    """Upload ``clip`` (or several clips at once) and wait until ``header`` shows and the page is idle."""
    files = [str(path) for path in clip] if isinstance(clip, list) else str(clip)
    await page.set_input_files(UPLOADER_INPUT, files)
    state, detail = await _wait_state(page, "answer", ANSWER_TIMEOUT_S, header=header)
    answered = time.monotonic() - started
    if state == "answer":      # let the rest of the page (charts below the answers) finish too
        state2, detail2 = await _wait_state(page, "idle", ANSWER_TIMEOUT_S, settle_s=0.3)
        if state2 != "idle":
            state, detail = state2, detail2
    name = f"{len(clip)} files" if isinstance(clip, list) else clip.name
    return {"clip": name, "state": state, "detail": "" if state == "answer" else detail,
            "answer_s": answered, "done_s": time.monotonic() - started}


async def _drive(url: str, clips: list[Path], sampler: MemorySampler, executable: Path,
                 playlist: bool = False) -> dict:
    """Open one page per clip and upload every clip at once; with ``playlist``, open one page and upload all
    the clips from it at once. The server's memory and CPU time are measured around the uploads."""
    from playwright.async_api import async_playwright

    uploads = [clips] if playlist else clips
    header = PLAYLIST_HEADER if playlist else ANSWER_HEADER
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        try:
            gate = asyncio.Semaphore(OPEN_AT_ONCE)
            opened_at = time.monotonic()
            pages = await asyncio.gather(*[_open_upload_page(browser, url, gate) for _ in uploads])
            open_s = time.monotonic() - opened_at
            await asyncio.sleep(2.0)
            baseline = sampler.now()
            exact = sampler.reset_high_water_mark()
            cpu_before = sampler.cpu_seconds()
            started = time.monotonic()
            results = await asyncio.gather(*[_upload_and_wait(page, upload, started, header)
                                             for (_, page), upload in zip(pages, uploads)], return_exceptions=True)
            finished = time.monotonic()
            cpu_s = sampler.cpu_seconds() - cpu_before
            await asyncio.sleep(2.0)                          # anything the server frees or keeps afterwards
            after = sampler.now()
            high_water_mark = sampler.high_water_mark_mb() if exact else 0.0
            for context, _ in pages:
                with contextlib.suppress(Exception):
                    await context.close()
        finally:
            await browser.close()
    sessions = []
    for upload, result in zip(uploads, results):
        if isinstance(result, BaseException):
            name = f"{len(upload)} files" if playlist else upload.name
            result = {"clip": name, "state": "exception", "detail": repr(result)[:300], "answer_s": None, "done_s": None}
        sessions.append(result)
    return {"sessions": sessions, "baseline_mb": baseline, "sampled_peak_mb": sampler.peak_since(started),
            "high_water_mark_mb": high_water_mark, "after_mb": after, "open_s": open_s,
            "window_s": finished - started, "cpu_s": cpu_s}


def niced_browser(folder: Path, niceness: int) -> Path:
    """Chromium started through ``nice -n niceness`` (a small script in ``folder``), or Chromium itself."""
    if niceness <= 0:
        return CHROMIUM
    script = folder / "chromium-niced"
    script.write_text(f'#!/bin/sh\nexec nice -n {int(niceness)} {CHROMIUM} "$@"\n')
    script.chmod(0o755)
    return script


def _served(clips_wanted: int, drive, log_path: Path | None, browser_nice: int) -> tuple[dict, float, str]:
    """Make the clips, start a fresh server, ``drive(url, clips, sampler, browser)`` against it and return
    (its figures, the server's memory once started, the end of its log)."""
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="genre-lab-load-") as folder:
        folder = Path(folder)
        (folder / "clips").mkdir()
        clips = make_clips(clips_wanted, folder / "clips")
        browser = niced_browser(folder, browser_nice)
        log_path = log_path or folder / "streamlit-server.log"
        port = free_port()
        with served_app(log_path, port) as server:
            sampler = MemorySampler(server.pid)
            sampler.start()
            idle = sampler.now()
            try:
                figures = asyncio.run(drive(f"http://127.0.0.1:{port}/", clips, sampler, browser))
            finally:
                sampler.done.set()
                sampler.join()
            return figures, idle, tail(log_path, 40)


def _memory(figures: dict, idle: float) -> dict:
    return {
        "server_start_mb": round(idle, 1),
        "baseline_mb": round(figures["baseline_mb"], 1),
        "peak_mb": round(max(figures["sampled_peak_mb"], figures["high_water_mark_mb"]), 1),
        "sampled_peak_mb": round(figures["sampled_peak_mb"], 1),
        "high_water_mark_mb": round(figures["high_water_mark_mb"], 1),
        "after_mb": round(figures["after_mb"], 1),
        "server_cpu_s": round(figures["cpu_s"], 1),
    }


def run(sessions: int, log_path: Path | None = None, browser_nice: int = BROWSER_NICE) -> dict:
    """Start a server, run ``sessions`` simultaneous uploads against it, and return the figures."""
    figures, idle, log = _served(sessions, _drive, log_path, browser_nice)
    answered = [session for session in figures["sessions"] if session["state"] == "answer"]
    times = [session["answer_s"] for session in answered]
    return {
        "sessions": sessions,
        "answered": len(answered),
        "failures": [session for session in figures["sessions"] if session["state"] != "answer"],
        **_memory(figures, idle),
        "first_answer_s": round(min(times), 2) if times else None,
        "median_answer_s": round(statistics.median(times), 2) if times else None,
        "last_answer_s": round(max(times), 2) if times else None,
        "pages_open_s": round(figures["open_s"], 1),
        "cores": os.cpu_count(),
        "browser_nice": browser_nice,
        "per_session": figures["sessions"],
        "server_log_tail": log if len(answered) < sessions else "",
    }


def run_playlist(files: int, log_path: Path | None = None, browser_nice: int = BROWSER_NICE) -> dict:
    """Start a server, upload ``files`` clips at once from one session, and return the figures."""
    figures, idle, log = _served(files, functools.partial(_drive, playlist=True), log_path, browser_nice)
    (session,) = figures["sessions"]
    answered = session["state"] == "answer"
    memory = _memory(figures, idle)
    return {
        "files": files,
        "answered": answered,
        "failures": [] if answered else [session],
        **memory,
        "peak_above_idle_mb": round(memory["peak_mb"] - memory["baseline_mb"], 1),
        "table_s": round(session["answer_s"], 2) if answered else None,
        "cores": os.cpu_count(),
        "browser_nice": browser_nice,
        "server_log_tail": "" if answered else log,
    }


def write_artifact(crowd: dict, playlist: dict, path: Path = LOAD_FILE) -> Path:
    """Save both scenarios' figures (without the per-session details and logs) for the README's load block."""
    def summary(result: dict) -> dict:
        return {key: value for key, value in result.items() if key not in ("per_session", "server_log_tail")}

    record = {"measured": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "command": "python tests/load_sessions.py --sessions "
                         f"{crowd['sessions']} --playlist {playlist['files']} --write",
              "targets": TARGETS, "sessions": summary(crowd), "playlist": summary(playlist)}
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def print_table(result: dict) -> None:
    if "files" in result:
        print(f"one session, {result['files']} files at once ({'answered' if result['answered'] else 'NOT answered'})")
    else:
        print(f"sessions                 {result['sessions']} ({result['answered']} answered)")
    print(f"server memory, started   {result['server_start_mb']:.0f} MB")
    print(f"server memory, baseline  {result['baseline_mb']:.0f} MB (every page open, before the uploads)")
    print(f"server memory, peak      {result['peak_mb']:.0f} MB (kernel high-water mark "
          f"{result['high_water_mark_mb']:.0f} MB, highest sample {result['sampled_peak_mb']:.0f} MB)")
    print(f"server memory, after     {result['after_mb']:.0f} MB (2 s after the last page finished)")
    if result.get("last_answer_s") is not None:
        print(f"answers after            {result['first_answer_s']:.1f} s first, {result['median_answer_s']:.1f} s "
              f"median, {result['last_answer_s']:.1f} s last")
    if result.get("table_s") is not None:
        print(f"table complete after     {result['table_s']:.1f} s "
              f"({result['peak_above_idle_mb']:.0f} MB above the idle server at the peak)")
    print(f"server CPU time          {result['server_cpu_s']:.1f} s (from the uploads until every page finished)")
    print(f"failures                 {len(result['failures'])}")
    for failure in result["failures"]:
        print(f"  {failure['clip']}: {failure['state']}: {failure['detail']}")
    if result["server_log_tail"]:
        print("server log (end):\n" + result["server_log_tail"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="browser sessions uploading at once (default 30)")
    parser.add_argument("--playlist", type=int, default=0, metavar="FILES",
                        help="then one session uploading this many files at once (default: not run)")
    parser.add_argument("--write", action="store_true",
                        help=f"save the figures to {LOAD_FILE.relative_to(ROOT)} and rewrite the README's load block "
                             "(needs --playlist)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--log", type=Path, help="keep the server's log in this file")
    parser.add_argument("--browser-nice", type=int, default=BROWSER_NICE,
                        help=f"run Chromium at this niceness (default {BROWSER_NICE}; 0: same priority as the server)")
    args = parser.parse_args(argv)
    if args.write and not args.playlist:
        parser.error("--write saves both scenarios: give --playlist too (the README reports both)")
    results = [run(args.sessions, args.log, args.browser_nice)]
    if args.playlist:
        results.append(run_playlist(args.playlist, args.log, args.browser_nice))
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, ensure_ascii=False))
    else:
        for result in results:
            print_table(result)
    failed = any(result["failures"] for result in results)
    if args.write and not failed:
        print(write_artifact(*results))
        sys.path.insert(0, str(ROOT))                 # run as a script: the repository's packages
        from core.learn.report import update_readme

        update_readme()
    elif args.write:
        print("not written: some uploads failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
