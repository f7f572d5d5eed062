"""Issue 13's classroom fixes in a real browser: the sidebar names the step on screen after a Step (a fragment
rerun), the dark theme opens from the sidebar with the run and its step, and an offline room gets the whole app
(no request leaves the machine)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import (  # noqa: E402
    assert_no_exception,
    browser_marks,
    click_and_wait,
    metric_value,
    open_page,
    wait_idle,
)
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

FIRST_LOAD_MS = 120_000
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "class_fixes"
ALL_PAGES = ["/", "/train", "/gradient_masks", "/row_updates", "/embedding_space", "/lookup", "/scale", "/lessons",
             "/compare", "/predict", "/export"]  # fmt: skip


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


def sidebar_text(page) -> str:
    return page.get_by_test_id("stSidebar").inner_text()


def test_the_sidebar_names_the_step_after_a_step_on_train(server, context):
    page = context.new_page()
    open_page(page, server.url("/train"), timeout=FIRST_LOAD_MS)
    click_and_wait(page, "Step", 1)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("reproduces this run at step 1 ")
    click_and_wait(page, "Step ×10", 11)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("reproduces this run at step 11 ")
    assert "at step 1 " not in sidebar_text(page)  # one sentence, redrawn: not one per fragment rerun
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "train_sidebar_step_1400.png"))


def _background(page) -> str:
    return page.evaluate("getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")


def test_the_dark_theme_opens_from_the_sidebar_with_the_run_and_its_step(server, context):
    page = context.new_page()
    open_page(page, server.url("/train?vocab_size=80&dim=8"), timeout=FIRST_LOAD_MS)
    click_and_wait(page, "Step ×10", 10)
    light = _background(page)
    page.get_by_test_id("stSidebar").get_by_text("Dark theme", exact=True).click()
    wait_idle(page)
    link = page.get_by_role("link", name="Open this run in the dark theme")
    expect(link).to_be_visible()
    sidebar = sidebar_text(page)
    assert "⋮" not in sidebar and "re-trains to step 10" in sidebar  # toolbarMode "minimal": no ⋮ menu to cite
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dark_link_1400.png"))
    href = link.get_attribute("href")
    assert re.search(r"[?&]step=10(&|$)", href) and "embed_options=dark_theme" in href and "vocab_size=80" in href
    with context.expect_page() as opened:
        link.click()  # a new tab: the run in this one is kept
    dark = opened.value
    dark.wait_for_load_state("domcontentloaded")
    expect(metric_value(dark, "Step")).to_have_text("10", timeout=FIRST_LOAD_MS)  # re-trained to the link's step
    wait_idle(dark, FIRST_LOAD_MS)
    assert_no_exception(dark)
    assert _background(dark) != light
    r, g, b = (int(x) for x in re.findall(r"\d+", _background(dark))[:3])
    assert r + g + b < 3 * 80, _background(dark)  # dark
    expect(dark).to_have_url(re.compile(r"vocab_size=80"))
    expect(dark.get_by_role("link", name="Open this run in the dark theme")).to_have_count(0)  # it is shown
    dark.screenshot(path=str(SHOTS / "dark_train_1400.png"))
    expect(metric_value(page, "Step")).to_have_text("10")  # the first tab's run is untouched


def test_an_offline_room_gets_every_page_without_a_request_leaving_the_machine(server, context):
    page = context.new_page()
    own = urlparse(server.url("/")).netloc
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    # Nothing outside is reachable: a request elsewhere fails (as in a room without internet) and is recorded
    page.route(re.compile(r"^(?!https?://" + re.escape(own) + r")"), lambda route: route.abort())
    for path in ALL_PAGES:
        open_page(page, server.url(path), timeout=FIRST_LOAD_MS)
        page.wait_for_load_state("networkidle")
        assert_no_exception(page)
    outside = sorted({u for u in requests if urlparse(u).scheme in ("http", "https") and urlparse(u).netloc != own})
    assert outside == [], outside
    icons = page.locator("[data-testid='stSidebarNav'] [data-testid='stIconMaterial'], "
                         "[data-testid='stSidebarNav'] [data-testid='stIconEmoji']")  # fmt: skip
    assert icons.count() >= len(ALL_PAGES) - 1  # the page links keep their icons
