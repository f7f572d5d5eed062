"""The app in a real browser: a real server, headless Debian Chromium, the app's own idle state as the clock.

One server for the module. Its first page request is a deep link to an inner page (test order matters: the
deep-link test comes first). Screenshots go to ``artifacts/screenshots/`` or to $EMBEDDING_EXPLORER_SCREENSHOTS;
the tests print where.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import (  # noqa: E402
    EXCEPTION,
    REPO_ROOT,
    assert_no_exception,
    browser_marks,
    button,
    click_and_wait,
    full_page_screenshot,
    metric_value,
    new_page,
    open_page,
    wait_idle,
)
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

PAGES = [
    "/", "/train", "/gradient_masks", "/row_updates", "/embedding_space", "/lookup", "/scale",
    "/compare", "/predict", "/export", "/lessons",
]  # fmt: skip
SCREENSHOT_DIR = Path(os.environ.get("EMBEDDING_EXPLORER_SCREENSHOTS", REPO_ROOT / "artifacts" / "screenshots"))
FIRST_LOAD_MS = 120_000  # the first run of a fresh server imports torch on 2 busy cores
STEP_MS = 60_000
CHARTS = ", ".join(
    f"[data-testid='{test_id}']"
    for test_id in ("stPlotlyChart", "stVegaLiteChart", "stPyplot", "stImage", "stDataFrame", "stTable")
)


@pytest.fixture
def page(browser, request, capsys):
    """A fresh browser context per test (its own Streamlit session); a screenshot is saved if the test fails."""
    failed_before = request.session.testsfailed
    page = new_page(browser)
    yield page
    if request.session.testsfailed > failed_before:
        path = SCREENSHOT_DIR / f"failed-{request.node.name}.png"
        try:
            full_page_screenshot(page, path)
            with capsys.disabled():
                print(f"\n[browser] failure screenshot of {page.url}: {path}")
        except Exception as error:  # noqa: BLE001 - the test's own failure is the one to report
            with capsys.disabled():
                print(f"\n[browser] could not save a failure screenshot: {error}")
    page.context.close()


def go_to_page(page, path: str) -> None:
    """Navigate inside the running session (the sidebar's page link), keeping its training state."""
    link = page.get_by_test_id("stSidebarNav").locator(f"a[href$='{path}'], a[href*='{path}?']").first
    link.click()
    expect(page).to_have_url(re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?|$)"), timeout=STEP_MS)
    wait_idle(page, STEP_MS)


def test_deep_link_is_first_request_to_fresh_server(server, page):
    open_page(page, server.url("/row_updates?optimizer=sgd&vocab_size=100&seed=3"), timeout=FIRST_LOAD_MS)
    assert_no_exception(page)
    expect(page).to_have_url(re.compile(r"/row_updates\?"))
    # The settings from the link are the ones that run: the sidebar's summary, its controls, the address bar.
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(re.compile(r"Run:\s*SGD, lr [0-9.]+, 100 × 16 table"))).to_be_visible()
    # The first request to a fresh server runs the page alone, and st.navigation then runs it once more:
    # wait for a control to hold the value rather than reading the controls once between the two runs.
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stSidebar'] input\")].some(i => i.value === '100')",
        timeout=STEP_MS,
    )
    wait_idle(page, STEP_MS)
    for param in ("optimizer=sgd", "vocab_size=100", "seed=3"):
        assert param in page.url, f"{param} is missing from the address bar: {page.url}"
    # The app's own navigation (st.navigation's titles), not Streamlit's file-name pages (MPA v1 mode).
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Gradient masks", exact=True)).to_be_visible()
    expect(nav.get_by_text("Home", exact=True)).to_be_visible()


def test_step_buttons_advance_the_run(server, page):
    open_page(page, server.url("/train?vocab_size=100&dim=16&seed=3"), timeout=FIRST_LOAD_MS)
    assert_no_exception(page)
    expect(metric_value(page, "Step")).to_have_text("0")
    click_and_wait(page, "Step", 1, timeout=STEP_MS)
    click_and_wait(page, "Step ×10", 11, timeout=STEP_MS)
    assert_no_exception(page)
    for path in ("/row_updates", "/gradient_masks"):
        go_to_page(page, path)
        assert_no_exception(page)
        expect(page.get_by_text(re.compile(r"\bstep\s*11\b", re.IGNORECASE)).first).to_be_visible()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("lr=-1", "Learning rate must be a number above 0"),
        ("dim=0", "Embedding dimension must be between 1"),
    ],
)
def test_invalid_query_value_shows_its_message(server, page, query, message):
    open_page(page, server.url(f"/train?{query}"), timeout=FIRST_LOAD_MS)
    expect(page.get_by_text(message).first).to_be_visible()
    assert_no_exception(page)


def test_screenshot_every_page_after_some_steps(server, page, capsys):
    open_page(page, server.url("/train"), timeout=FIRST_LOAD_MS)
    click_and_wait(page, "Step ×10", 10, timeout=STEP_MS)
    click_and_wait(page, "Step", 11, timeout=STEP_MS)
    saved, problems = [], []
    for path in PAGES:
        go_to_page(page, path)
        name = "home" if path == "/" else path.strip("/")
        shot = full_page_screenshot(page, SCREENSHOT_DIR / f"{name}.png")
        saved.append(f"{path:<18} {shot}")
        main = page.get_by_test_id("stMain")
        if page.locator(EXCEPTION).count():
            problems.append(f"{path}: stException: {page.locator(EXCEPTION).first.inner_text()[:300]}")
        if not main.locator(f"h1, {CHARTS}").count():
            problems.append(f"{path}: neither a title nor a chart")
    with capsys.disabled():
        print("\n[browser] screenshots (1280 px wide, full page):\n  " + "\n  ".join(saved))
    assert not problems, "\n".join(problems)


def test_run_button_becomes_pause(server, page):
    open_page(page, server.url("/train"), timeout=FIRST_LOAD_MS)
    button(page, "Run").click()
    expect(button(page, "Pause")).to_be_visible(timeout=STEP_MS)
    button(page, "Pause").click()
    expect(button(page, "Run")).to_be_visible(timeout=STEP_MS)
    wait_idle(page, STEP_MS)
    assert_no_exception(page)
