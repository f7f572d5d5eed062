"""Start the app in a real server and drive it in headless Chromium.

Shared by tests/test_browser.py and bench/browser_step.py. The waits follow streamlit's own e2e tests:
start the server headless, poll ``/_stcore/health``, then wait on the app's script state
(``[data-testid='stApp'][data-test-script-state='notRunning']``), never on sleeps.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("EMBEDDING_EXPLORER_CHROMIUM", "/usr/bin/chromium"))


def browser_marks() -> list:
    """The marks of a browser test module: skipped without Chromium, except in CI (.ci/run installs it and sets
    EMBEDDING_EXPLORER_REQUIRE_BROWSER=1), where a missing browser is a failure, never a silent skip."""
    import pytest

    if os.environ.get("EMBEDDING_EXPLORER_REQUIRE_BROWSER") == "1" and not CHROMIUM.exists():
        raise RuntimeError(f"EMBEDDING_EXPLORER_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
    return [
        pytest.mark.browser,
        pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (.ci/run installs it)"),
    ]


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}

APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
APP_RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
EXCEPTION = "[data-testid='stException']"
SCROLLING_CONTAINERS = ", ".join(
    f"[data-testid='{test_id}']" for test_id in ("stMain", "stAppViewContainer", "stSidebarContent")
)
TWO_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
# A JS function of one chart's element: a line for each two of its panel titles (make_subplots' subplot titles,
# plotly annotations) whose boxes overlap by more than a pixel each way, as plotly draws a title too long for its panel
PANEL_OVERLAPS = """(chart) => {
  const panels = [...chart.querySelectorAll('.annotation-text')].map(p => [p.textContent, p.getBoundingClientRect()]);
  const over = (a, b) => a.width > 0 && b.width > 0 && Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
                         && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  return panels.flatMap(([name, r], i) => panels.slice(i + 1).filter(([, o]) => over(r, o))
                                          .map(([other]) => `panel titles over each other: ${name} / ${other}`));
}"""

# The app skips its background UMAP/numba warm-up when this is set, so a fresh server answers at once.
SERVER_ENV = {"EMBEDDING_EXPLORER_NO_UMAP_WARMUP": "1"}


def free_port() -> int:
    """A TCP port that was free a moment ago (bind to port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """``streamlit run app.py`` on a free port, headless, its output kept in a log file."""

    def __init__(self, app: str = "app.py", cwd: Path = REPO_ROOT, extra_env: dict[str, str] | None = None):
        self.app = app
        self.cwd = Path(cwd)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **SERVER_ENV, **(extra_env or {})}
        self.log_path = Path(tempfile.mkstemp(prefix="streamlit-", suffix=".log")[1])
        self._log = None
        self.process: subprocess.Popen | None = None

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.app,
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(self.url("/_stcore/health"), timeout=2) as response,
            ):
                if response.read().decode().strip() == "ok":
                    return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def streamlit_server(app: str = "app.py", cwd: Path = REPO_ROOT, **kwargs) -> Iterator[StreamlitServer]:
    server = StreamlitServer(app, cwd, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (``playwright install`` cannot download browsers here)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser) -> Page:
    """A fresh browser context (its own cookies, so its own Streamlit session) at 1280x800."""
    context = browser.new_context(viewport=VIEWPORT)
    return context.new_page()


def wait_idle(page: Page, timeout: float = 30_000) -> None:
    """Until the script has finished its run (the app's own state, not a sleep)."""
    expect(page.locator(APP_IDLE)).to_be_attached(timeout=timeout)


def open_page(page: Page, url: str, timeout: float = 60_000) -> None:
    """Load a URL and wait until the app has rendered its first complete run."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    # Until the first run has finished the main block holds no element; after it, the script is idle.
    first_element = page.locator("[data-testid='stMainBlockContainer'] [data-testid='stElementContainer']").first
    expect(first_element).to_be_attached(timeout=timeout)
    wait_idle(page, timeout)


def button(page: Page, label: str) -> Locator:
    """The button whose label is exactly ``label`` ("Step" does not match "Step ×10")."""
    return page.get_by_role("button", name=label, exact=True)


def metric_value(page: Page, label: str) -> Locator:
    """The value of ``st.metric(label, ...)``."""
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return metric.get_by_test_id("stMetricValue")


def click_and_wait(page: Page, label: str, expected_step: int, timeout: float = 60_000) -> None:
    """Click a Train button and wait until the Step metric shows ``expected_step`` and the app is idle."""
    button(page, label).click()
    expect(metric_value(page, "Step")).to_have_text(str(expected_step), timeout=timeout)
    wait_idle(page, timeout)


def assert_no_exception(page: Page) -> None:
    expect(page.locator(EXCEPTION)).to_have_count(0)


def full_page_screenshot(page: Page, path: Path) -> Path:
    """Screenshot of the whole page at 1280 px wide.

    Streamlit scrolls inside its own containers (main area and sidebar), so Playwright's ``full_page`` shows only
    the viewport: grow the viewport to the taller of the two for the shot, then put it back.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    content_height = page.evaluate(
        "selector => Math.max(document.scrollingElement.scrollHeight,"
        " ...[...document.querySelectorAll(selector)].map(el => el.scrollHeight))",
        SCROLLING_CONTAINERS,
    )
    size = page.viewport_size or VIEWPORT
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(content_height), 16_000))})
    try:
        wait_idle(page)
        page.evaluate(TWO_FRAMES)  # let the charts lay themselves out at the new height
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(size)
    return path
