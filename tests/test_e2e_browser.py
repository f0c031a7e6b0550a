"""End to end: the real app, served by ``streamlit run``, driven in headless Chromium.

The test starts ``streamlit run streamlit_app.py`` on a free local port, opens every page that the
app's navigation links to, uploads a clip on the page that has a file uploader and waits for both
the CNN and the LSTM prediction, uploads random bytes named ``.wav`` and waits for the plain
error sentence, and checks that no page shows a Streamlit exception or a traceback, nor chart text
smaller than 14 px (the back of a room, on a projector). On servers of their own, it opens a page's
URL as the very first visit (a shared link on a freshly started server), on a phone and on a
projector, and checks that the app's navigation is shown. Last, it checks that serving all this
imported nothing that requirements.txt (all that Streamlit Community Cloud installs) does not
provide, and nothing too big for the hosted app (TensorFlow, librosa, ...).

A full-page screenshot of every state is written to ``test-output/screenshots/`` (git-ignored) and
the server's log to ``test-output/streamlit-server.log``: look at them after a change to the pages.

Chromium is Debian's (``apt-get install chromium``), driven by the Python ``playwright`` package:
Playwright's own browser download is not needed. The test skips only when ``/usr/bin/chromium``
is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlparse

import numpy as np
import pytest
import soundfile as sf

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit_app.py"
EXAMPLES = ROOT / "artifacts" / "examples"
OUTPUT = ROOT / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
SERVER_LOG = OUTPUT / "streamlit-server.log"
MODULES_FILE = OUTPUT / "server-modules.json"
REQUIREMENTS = ROOT / "requirements.txt"
# Too big for the hosted app (about 690 MB of memory): serving must never import them.
NOT_AT_RUN_TIME = {"tensorflow", "keras", "tf_keras", "librosa", "numba", "llvmlite", "sklearn", "matplotlib",
                   "torch", "jax", "playwright", "pytest"}

SERVER_WRAPPER = """
import json, os, runpy, sys, threading, time

def record(path=os.environ["GENRE_LAB_E2E_MODULES"]):
    while True:
        time.sleep(0.5)
        try:
            with open(path + ".tmp", "w") as file:
                json.dump(sorted(sys.modules), file)
            os.replace(path + ".tmp", path)
        except Exception:
            pass

threading.Thread(target=record, daemon=True).start()
sys.argv = ["streamlit"] + sys.argv[1:]
runpy.run_module("streamlit", run_name="__main__", alter_sys=True)
"""

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}   # a common projector resolution
PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1920, "height": 1080}
SERVER_START_TIMEOUT_S = 60
PAGE_TIMEOUT_S = 60
ANALYSIS_TIMEOUT_S = 90
MIN_CHART_TEXT_PX = 14   # chart text must stay readable from the back of a room on a projector

NAV_LINKS = '[data-testid="stSidebarNavLink"], [data-testid="stTopNavLink"], [data-testid="stTopNavDropdownLink"]'
EXCEPTION = '[data-testid="stException"]'
UPLOADER_INPUT = '[data-testid="stFileUploader"] input[type="file"]'
MAIN = '[data-testid="stMain"]'

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: apt-get install chromium chromium-driver", allow_module_level=True)


# --------------------------------------------------------------------------------------------------
# The server and the browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(lines: int = 60, log: Path = SERVER_LOG) -> str:
    if not log.exists():
        return "(no server log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def served_app(log_path: Path, modules_file: Path):
    """Run the real app with ``streamlit run`` on a free port and yield its URL; stop it at the end
    whatever happens. The server writes its output to ``log_path`` and keeps writing the names of
    the modules it imported to ``modules_file``."""
    assert APP.exists(), f"{APP} is missing"
    OUTPUT.mkdir(exist_ok=True)
    port = _free_port()
    modules_file.unlink(missing_ok=True)
    # `python -m streamlit run ...`, with a thread that keeps writing down the imported modules.
    command = [
        sys.executable, "-c", SERVER_WRAPPER, "run", str(APP),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", "GENRE_LAB_E2E_MODULES": str(modules_file)}
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with code {server.returncode} before serving:\n{_log_tail(log=log_path)}")
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_TIMEOUT_S} s:\n"
                            f"{_log_tail(log=log_path)}")
            time.sleep(0.25)
        yield url
    finally:
        if server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)


@pytest.fixture(scope="module")
def app_url():
    """The app, served for the whole module."""
    with served_app(SERVER_LOG, MODULES_FILE) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def browser_tab(browser, viewport: dict):
    """A tab in a fresh browser context (no cookies, no session) of ``viewport``'s size."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    context.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    tab = context.new_page()
    tab.page_errors = []
    tab.on("pageerror", lambda error: tab.page_errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab for each test."""
    with browser_tab(browser, VIEWPORT) as tab:
        yield tab


@pytest.fixture(scope="module", autouse=True)
def _fresh_screenshots():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


# --------------------------------------------------------------------------------------------------
# Waiting for Streamlit


def main_text(page) -> str:
    return page.locator(MAIN).inner_text()


def wait_until(page, condition, what: str, timeout_s: float = PAGE_TIMEOUT_S, settle_s: float = 0.5) -> None:
    """Poll ``condition()`` until it has held for ``settle_s`` (the script may rerun), or fail."""
    deadline = time.monotonic() + timeout_s
    held_since = None
    while True:
        if condition():
            held_since = held_since or time.monotonic()
            if time.monotonic() - held_since >= settle_s:
                return
        else:
            held_since = None
        if time.monotonic() > deadline:
            shot = screenshot(page, f"timeout-{slug(what)}")
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (screenshot {shot});"
                                 f" page text:\n{safe_text(page)[:3000]}\nserver log:\n{_log_tail(30)}")
        page.wait_for_timeout(200)


def app_idle(page) -> bool:
    """The script has finished, the browser is connected and nothing on the page is stale."""
    return page.evaluate(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            if (!app) return false;
            if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
            if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
            if (document.querySelector('[data-stale="true"]')) return false;
            if (document.querySelector('[data-testid="stSpinner"]')) return false;
            if (document.querySelector('[data-testid="stSkeleton"]')) return false;
            return true;
        }"""
    )


def wait_for_charts(page) -> None:
    """Plotly draws after the script has finished: wait until every chart has its SVG."""
    wait_until(page, lambda: page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(chart => chart.querySelector('.main-svg'))"""
    ), "the Plotly charts to draw", settle_s=0.3)


def open_page(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(MAIN)
    wait_until(page, lambda: app_idle(page), f"{url} to finish running")
    wait_for_charts(page)


def safe_text(page) -> str:
    try:
        return main_text(page)
    except Exception as error:  # noqa: BLE001 - only for failure messages
        return f"(no text: {error})"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "page"


def screenshot(page, name: str) -> Path:
    """A screenshot of the whole page, at the tab's width.

    Streamlit scrolls inside its own containers, not the document, so ``full_page`` alone would only
    show the first screen: the viewport is stretched to the content's height for the picture.
    """
    path = SCREENSHOTS / f"{slug(name)}.png"
    viewport = page.viewport_size
    with contextlib.suppress(Exception):
        height = page.evaluate(
            """() => Math.max(document.documentElement.scrollHeight,
                   ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],'
                         + ' [data-testid="stSidebarContent"]')].map(element => element.scrollHeight))"""
        )
        page.set_viewport_size({"width": viewport["width"], "height": min(max(int(height), viewport["height"]), 12_000)})
        page.wait_for_timeout(400)   # let Plotly follow the new size
        page.screenshot(path=str(path), full_page=True)
    with contextlib.suppress(Exception):
        page.set_viewport_size(viewport)
    return path


def assert_no_exception(page, where: str) -> None:
    exceptions = page.locator(EXCEPTION)
    if exceptions.count():
        texts = "\n---\n".join(exceptions.nth(index).inner_text() for index in range(exceptions.count()))
        raise AssertionError(f"{where} shows a Streamlit exception:\n{texts}")
    text = main_text(page)
    assert "Traceback" not in text, f"{where} shows a traceback:\n{text[:3000]}"
    assert not page.page_errors, f"{where}: JavaScript errors in the browser: {page.page_errors}"


def small_chart_texts(page) -> list[list]:
    """[text, size in px] of every text in the page's Plotly charts drawn smaller than
    ``MIN_CHART_TEXT_PX``: its font size times the scale Plotly gives it to fit (bar labels, for one,
    are shrunk to the bar's thickness unless told not to)."""
    return page.evaluate(
        """minimum => [...document.querySelectorAll('[data-testid="stPlotlyChart"] svg text')]
            .filter(text => text.textContent.trim())
            .map(text => {
                const scale = /scale\\(([0-9.e-]+)/.exec(text.getAttribute('transform') || '');
                return [text.textContent, parseFloat(getComputedStyle(text).fontSize) * (scale ? parseFloat(scale[1]) : 1)];
            })
            .filter(([, size]) => size < minimum)""", MIN_CHART_TEXT_PX)


def page_links(page, base_url: str) -> list[tuple[str, str]]:
    """(title, absolute URL) of every page the app's navigation links to, in order, without repeats."""
    links = []
    for link in page.locator(NAV_LINKS).all():
        href = link.get_attribute("href")
        if not href:
            continue
        url = urljoin(base_url, href)
        if urlparse(url).netloc == urlparse(base_url).netloc and url not in [known for _, known in links]:
            links.append(((link.inner_text() or urlparse(url).path).strip(), url))
    return links


def pages_of(page, base_url: str) -> list[tuple[str, str]]:
    open_page(page, base_url)
    more = page.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in more.first.inner_text().lower():   # a long sidebar hides pages
        more.first.click()
    links = page_links(page, base_url)
    return links or [("home", base_url)]


def upload_page(page, base_url: str) -> tuple[str, str]:
    """Open the first page with a file uploader (the classify page), found through the navigation.

    When a page shows the uploader only after choosing "Upload ..." (a radio option or a tab), that
    choice is made.
    """
    for title, url in pages_of(page, base_url):
        open_page(page, url)
        if not page.locator(UPLOADER_INPUT).count():
            choice = page.locator('[data-testid="stRadio"] label, [data-baseweb="tab"], button[role="tab"]').filter(
                has_text=re.compile(r"upload", re.IGNORECASE))
            if not choice.count():
                continue
            choice.first.click()
            wait_until(page, lambda: app_idle(page) and page.locator(UPLOADER_INPUT).count() > 0,
                       f"the file uploader on {title!r}")
        return title, url
    raise AssertionError("no page of the app has a file uploader (nor an 'Upload' choice that shows one)")


# --------------------------------------------------------------------------------------------------
# Inputs


def good_clip(tmp_path: Path) -> Path:
    """A bundled example clip when there is one (the last: the app may preselect the first), else 10 s
    of a generated test signal."""
    examples = sorted(EXAMPLES.glob("*.mp3")) + sorted(EXAMPLES.glob("*.wav")) if EXAMPLES.is_dir() else []
    if examples:
        return examples[-1]
    rate = 22050
    time_s = np.arange(10 * rate) / rate
    rng = np.random.default_rng(0)
    beat = (np.sin(2 * np.pi * 2 * time_s) > 0.95).astype(float) * rng.normal(0, 0.3, time_s.size)
    signal_ = 0.3 * np.sin(2 * np.pi * 220 * time_s) + 0.2 * np.sin(2 * np.pi * 330 * time_s) + beat
    path = tmp_path / "test signal.wav"
    sf.write(path, (0.5 * signal_ / np.abs(signal_).max()).astype(np.float32), rate, subtype="PCM_16")
    return path


def bad_clip(tmp_path: Path) -> Path:
    path = tmp_path / "not really audio.wav"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    return path


def normalised(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


# --------------------------------------------------------------------------------------------------
# The tests


def test_every_page_renders_without_exception(app_url, page):
    pages = pages_of(page, app_url)
    assert pages, "the app shows no page"
    for index, (title, url) in enumerate(pages):
        open_page(page, url)
        screenshot(page, f"{index + 1:02d}-{title}")
        assert_no_exception(page, f"page {title!r} ({url})")
        assert main_text(page).strip(), f"page {title!r} ({url}) is empty"
        small = small_chart_texts(page)
        assert not small, f"page {title!r} ({url}): chart text under {MIN_CHART_TEXT_PX} px: {small[:10]}"


# A first visit straight to a page's URL must show the app's navigation: each page's icon and title,
# not the file names ("streamlit app", "classify", "common", ...) Streamlit gives the scripts of a
# pages/ folder until some session has called st.navigation.
APP_TITLES = ["Home", "Classify a clip", "How it works", "Training", "Comparison", "Experiments"]
PAGE_HEADINGS = {"classify": "🎧 Classify a clip", "how-it-works": "💡 How it works"}
# Each page's file is named like its URL (pages/how-it-works.py for /how-it-works): on a fresh server's
# very first visit Streamlit looks the URL up among the pages/ files before st.navigation runs, and a
# URL that names no file gets a "Page not found" notice over the right page.


@pytest.mark.parametrize("path, viewport", [
    pytest.param("classify", PHONE, id="classify-phone"),
    pytest.param("classify", PROJECTOR, id="classify-projector"),
    pytest.param("how-it-works", PROJECTOR, id="how-it-works-projector"),
])
def test_first_visit_through_a_deep_link_shows_the_app_navigation(browser, path, viewport):
    """A shared link to a page, opened as the first visit on a freshly started server."""
    name = f"deep-link-{path}-{viewport['width']}x{viewport['height']}"
    log = OUTPUT / f"streamlit-server-{name}.log"
    with served_app(log, OUTPUT / f"server-modules-{name}.json") as url, browser_tab(browser, viewport) as page:
        open_page(page, url + path)
        screenshot(page, name)
        expand = page.locator('[data-testid="stExpandSidebarButton"]')
        if expand.count() and expand.first.is_visible():   # a phone starts with the sidebar closed
            expand.first.click()
            wait_until(page, lambda: page.locator(NAV_LINKS).first.is_visible(), "the sidebar to open")
            screenshot(page, f"{name}-sidebar")
        links = [text.split() for text in page.locator(NAV_LINKS).all_inner_texts()]   # [icon, *title words]
        where = f"{url + path} at {viewport['width']}x{viewport['height']}; server log:\n{_log_tail(30, log)}"
        assert [" ".join(words[1:]) for words in links] == APP_TITLES, f"the navigation shows {links}: {where}"
        assert urlparse(page.url).path == f"/{path}", f"the page moved to {page.url}: {where}"
        assert main_text(page).lstrip().startswith(PAGE_HEADINGS[path]), f"another page is shown: {where}"
        assert_no_exception(page, where)
        assert not page.get_by_text("Page not found").count(), f"'Page not found' is shown: {where}"


def metric_genres(page) -> list[tuple[str, str]]:
    """(label, value) of every metric on the page, top to bottom."""
    metrics = page.locator('[data-testid="stMetric"]')
    return [(metrics.nth(i).locator('[data-testid="stMetricLabel"]').inner_text().strip(),
             metrics.nth(i).locator('[data-testid="stMetricValue"]').inner_text().strip())
            for i in range(metrics.count())]


def test_uploaded_clip_shows_the_genres_the_command_line_gives(app_url, page, tmp_path):
    """The verdict and each model's metric show exactly what ``python -m core.predict`` answers for the same
    file, uploaded under a name that does not contain its genre (so the file name cannot pass the check)."""
    title, url = upload_page(page, app_url)
    clip = tmp_path / "clip under test.mp3"
    shutil.copyfile(good_clip(tmp_path), clip)
    answer = subprocess.run([sys.executable, "-m", "core.predict", str(clip), "--json"], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    expected = {name: model["genre"] for name, model in json.loads(answer.stdout.splitlines()[-1])["models"].items()}
    assert "verdict" in expected and {"cnn", "lstm"} <= set(expected)
    page.locator(UPLOADER_INPUT).first.set_input_files(str(clip))

    def shows_every_metric() -> bool:
        return app_idle(page) and clip.name in main_text(page) and len(metric_genres(page)) == len(expected)

    wait_until(page, shows_every_metric, "the verdict and every model's metric", timeout_s=ANALYSIS_TIMEOUT_S)
    wait_for_charts(page)
    screenshot(page, f"upload-{title}-{clip.stem}")
    assert_no_exception(page, f"{title!r} after uploading {clip.name}")
    shown = metric_genres(page)
    assert shown[0] == ("Combined verdict", expected["verdict"]), shown
    models = [name for name in expected if name != "verdict"]          # the CLI's order is the page's order
    assert [value for _, value in shown[1:]] == [expected[name] for name in models], (shown, expected)


@pytest.fixture
def projector_page(browser):
    """A fresh browser tab of a projector's size: a classroom's screen."""
    with browser_tab(browser, PROJECTOR) as tab:
        yield tab


def test_three_files_at_once_make_a_table_and_each_opens_its_analysis(app_url, projector_page, tmp_path):
    """Two clips and one unreadable file uploaded together, on a projector: a row each (the bad one with its
    reason), a full analysis for the clip picked under the table, and the CNN's occlusion map on demand."""
    from core.serve.audio import decode
    from core.serve.errors import AudioError

    page = projector_page
    title, url = upload_page(page, app_url)
    examples = sorted(EXAMPLES.glob("*.mp3"))
    clips = [tmp_path / "first song.mp3", tmp_path / "second song.mp3"]
    for source, clip in zip((examples[0], examples[-1]) if examples else (good_clip(tmp_path),) * 2, clips):
        shutil.copyfile(source, clip)
    bad = bad_clip(tmp_path)
    with pytest.raises(AudioError) as raised:
        decode(bad)
    page.locator(UPLOADER_INPUT).first.set_input_files([str(clips[0]), str(bad), str(clips[1])])
    wait_until(page, lambda: app_idle(page) and "Your clips (3)" in main_text(page), "the table of three clips",
               timeout_s=2 * ANALYSIS_TIMEOUT_S)
    screenshot(page, f"playlist-{title}-table")
    assert_no_exception(page, f"{title!r} after uploading three files")
    grid = page.locator('[data-testid="stDataFrame"]').last.text_content()   # the grid's accessible table
    for name in (clips[0].name, bad.name, clips[1].name):
        assert name in grid, f"{name} is not in the table: {grid[:2000]}"
    assert raised.value.message in grid, f"the bad file's reason is not in its row: {grid[:2000]}"
    assert not metric_genres(page), "a full analysis is shown before a clip is picked"

    page.locator('[data-testid="stSelectbox"]').filter(has_text="Show the full analysis of").click()
    page.get_by_role("option", name=clips[1].name).click()
    wait_until(page, lambda: app_idle(page) and len(metric_genres(page)) > 1, f"the analysis of {clips[1].name}",
               timeout_s=ANALYSIS_TIMEOUT_S)
    wait_for_charts(page)
    assert "What the tagger hears" in main_text(page)
    page.get_by_role("button", name=re.compile("listened")).click()
    wait_until(page, lambda: app_idle(page) and re.search("lowered the CNN|No single patch", main_text(page)),
               "the occlusion map", timeout_s=ANALYSIS_TIMEOUT_S)
    wait_for_charts(page)
    screenshot(page, f"playlist-{title}-{clips[1].stem}")
    assert_no_exception(page, f"{title!r} after picking {clips[1].name} and mapping where the CNN listened")
    small = small_chart_texts(page)
    assert not small, f"chart text under {MIN_CHART_TEXT_PX} px: {small[:10]}"


def test_uploaded_bad_file_shows_a_plain_error(app_url, page, tmp_path):
    from core.serve.audio import decode
    from core.serve.errors import AudioError

    title, url = upload_page(page, app_url)
    bad = bad_clip(tmp_path)
    with pytest.raises(AudioError) as raised:
        decode(bad)
    message = raised.value.message
    page.locator(UPLOADER_INPUT).first.set_input_files(str(bad))

    def shows_message() -> bool:
        return app_idle(page) and message in main_text(page)

    wait_until(page, shows_message, f"the error message {message!r}")
    screenshot(page, f"upload-{title}-bad-file")
    assert_no_exception(page, f"{title!r} after uploading random bytes")
    alerts = " ".join(alert.inner_text() for alert in page.locator('[data-testid="stAlert"]').all())
    assert message in alerts, f"the message is not shown as an alert box; alerts: {alerts!r}"


def _requirement_closure(path: Path) -> set[str]:
    """Canonical names of the distributions ``path`` installs: its requirements and their dependencies."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pending = [Requirement(line.split("#")[0].strip()) for line in path.read_text().splitlines()
               if line.split("#")[0].strip() and not line.startswith("-")]
    closure: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in closure or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        closure.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        pending.extend(Requirement(text) for text in requires)
    return closure


def _project_imports(loaded: set[str]) -> set[str]:
    """Top-level names that the app's own code imports: the page scripts, and the project modules
    the server loaded (imports inside functions included)."""
    import ast

    files = [APP, *sorted((ROOT / "pages").glob("*.py"))]
    for name in loaded:
        if name.split(".")[0] in ("core", "pages"):
            path = ROOT.joinpath(*name.split("."))
            files.append(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))
    names = set()
    for path in files:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_serving_imports_only_what_requirements_txt_installs(app_url, page, tmp_path):
    """What the running app imported (every page and a classification) comes from requirements.txt.

    Streamlit Community Cloud installs requirements.txt alone, so a module of the app's own code
    that comes from requirements-dev.txt would break the hosted app, and TensorFlow, librosa and the
    like must not be imported by anyone: they would not fit in its memory. (Optional imports of the
    libraries themselves, such as pyarrow trying cloudpickle, are theirs to handle.)
    """
    import json
    from importlib import metadata

    from packaging.utils import canonicalize_name

    def loaded() -> set[str]:
        page.wait_for_timeout(1200)   # the server writes its list every 0.5 s
        return set(json.loads(MODULES_FILE.read_text())) if MODULES_FILE.exists() else set()

    if not {"core.serve.inference", "ai_edge_litert"} <= loaded():   # the other tests did not run first: do their part
        for _, url in pages_of(page, app_url):
            open_page(page, url)
        upload_page(page, app_url)
        page.locator(UPLOADER_INPUT).first.set_input_files(str(good_clip(tmp_path)))
        wait_until(page, lambda: app_idle(page) and "LSTM" in main_text(page), "a classification",
                   timeout_s=ANALYSIS_TIMEOUT_S)
    modules = loaded()
    top_level = {name.split(".")[0] for name in modules}
    assert {"streamlit", "core", "ai_edge_litert"} <= top_level, f"the server's module list is incomplete: {sorted(top_level)}"

    too_big = sorted(top_level & NOT_AT_RUN_TIME)
    assert not too_big, f"serving the app imports {too_big}: too big for the hosted app, and not in requirements.txt"

    startup = subprocess.run([sys.executable, "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
                             capture_output=True, text=True, check=True)
    ignored = set(json.loads(startup.stdout)) | set(sys.stdlib_module_names) | {"core", "pages", "streamlit_app"}
    installed = _requirement_closure(REQUIREMENTS)
    owners = metadata.packages_distributions()
    missing = {}
    for module in sorted((top_level & _project_imports(modules)) - ignored):
        distributions = {canonicalize_name(name) for name in owners.get(module, [])}
        if distributions and not distributions & installed:
            missing[module] = sorted(distributions)
    assert not missing, (f"the app's code imports modules that requirements.txt does not install "
                         f"(module: distributions): {missing}")
