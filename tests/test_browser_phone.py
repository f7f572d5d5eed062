"""A student's phone (390 x 844, touch) in a real browser: a shared link opens, Step is tapped, every chart's title
lies inside the screen with plotly's toolbar off it, and tapping a page in the sidebar closes the sidebar."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import (  # noqa: E402
    PANEL_OVERLAPS,
    TWO_FRAMES,
    assert_no_exception,
    browser_marks,
    button,
    open_page,
    wait_idle,
)
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

FIRST_LOAD_MS = 120_000
# A phone's browser: its size, touch, and its user agent (Streamlit closes the sidebar after a page is chosen when the
# user agent is a phone's, as every phone browser's is; Playwright's default user agent is a desktop's)
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Mobile Safari/537.36")  # fmt: skip
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2,
         "user_agent": ANDROID_CHROME}  # fmt: skip
CHART_PAGES = ["/train", "/gradient_masks", "/row_updates", "/embedding_space", "/lookup", "/scale", "/compare",
               "/predict", "/slow_motion"]  # fmt: skip
DRAWN = (
    "() => { const all = [...document.querySelectorAll('[data-testid=stPlotlyChart]')];"
    " return !document.querySelector('[data-testid=stSkeleton]')"
    ' && !!document.querySelector("[data-testid=stApp][data-test-script-state=notRunning]")'
    " && all.length > 0 && all.every(c => c.querySelector('.main-svg .gtitle, .main-svg .xtick')); }"
)
# Every chart title (plotly's own, or the HTML one above a chart) that runs past the screen's edges, every plotly
# toolbar (drawn or not yet shown: its buttons' boxes) that overlaps its chart's title, every legend entry that
# runs past its chart's edge, and panel titles (make_subplots' subplot titles) drawn over each other.
OFF_SCREEN = """() => {
  const found = [], panelOverlaps = PANEL_OVERLAPS;
  const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0
                        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0;
  for (const chart of document.querySelectorAll('[data-testid=stPlotlyChart]')) {
    const title = chart.querySelector('.gtitle');
    if (!title) continue;
    const r = title.getBoundingClientRect();
    if (r.left < -1 || r.right > innerWidth + 1) found.push(`title off the screen: ${title.textContent}`);
    for (const bar of chart.querySelectorAll('.modebar-group, .modebar-btn')) {
      const b = bar.getBoundingClientRect(), style = getComputedStyle(bar);
      if (b.width > 0 && style.display !== 'none' && hit(b, r))
        found.push(`toolbar over the title: ${title.textContent}`);
    }
  }
  for (const chart of document.querySelectorAll('[data-testid=stPlotlyChart] .main-svg')) {
    const box = chart.getBoundingClientRect();  // plotly clips what runs past its own svg, not the screen's edge
    for (const entry of chart.querySelectorAll('.legendtext')) {
      const r = entry.getBoundingClientRect();
      if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1))
        found.push(`legend entry cut at the chart's edge: ${entry.textContent}`);
    }
    found.push(...panelOverlaps(chart));
  }
  for (const title of document.querySelectorAll('.ee-chart-title')) {
    const r = title.getBoundingClientRect();
    if (r.right > innerWidth + 1) found.push(`title off the screen: ${title.textContent}`);
  }
  return found;
}""".replace("PANEL_OVERLAPS", PANEL_OVERLAPS)


@pytest.fixture(scope="module")
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context
    context.close()


def _drawn(page) -> None:
    wait_idle(page, FIRST_LOAD_MS)
    page.wait_for_function(DRAWN, timeout=FIRST_LOAD_MS)
    page.evaluate(TWO_FRAMES)


def _tap_all_charts(page) -> None:
    """Touch each chart (what shows plotly's toolbar on a phone), then look."""
    for chart in page.locator("[data-testid=stPlotlyChart] .main-svg").all()[:8]:
        chart.scroll_into_view_if_needed()
        chart.tap(position={"x": 5, "y": 5}, force=True)


def test_a_shared_link_on_a_phone_steps_and_every_chart_title_fits(server, phone):
    page = phone.new_page()
    open_page(page, server.url("/train?step=20"), timeout=FIRST_LOAD_MS)
    button(page, "Step").tap()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("21", timeout=FIRST_LOAD_MS)
    _drawn(page)
    assert_no_exception(page)
    _tap_all_charts(page)
    assert page.evaluate(OFF_SCREEN) == []
    page.close()


# tied: longer legends; a GPT: the untied head's panel titles beside the table's ("embedding table: 57 rows")
@pytest.mark.parametrize("path", [*CHART_PAGES[1:], "/gradient_masks?tie_weights=true", "/gradient_masks?model=gpt"])
def test_every_chart_title_fits_a_phone(server, phone, path):
    page = phone.new_page()
    open_page(page, server.url(f"{path}{'&' if '?' in path else '?'}step=20"), timeout=FIRST_LOAD_MS)
    if path == "/compare":
        button(page, "Step ×10").tap()
    _drawn(page)
    assert_no_exception(page)
    _tap_all_charts(page)
    found = page.evaluate(OFF_SCREEN)
    page.close()
    assert found == []


def test_tapping_a_page_in_the_sidebar_closes_it(server, phone):
    page = phone.new_page()
    open_page(page, server.url("/train?step=20"), timeout=FIRST_LOAD_MS)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_have_attribute("data-collapsed", "true")  # a phone starts with the sidebar closed
    page.get_by_test_id("stExpandSidebarButton").tap()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    page.get_by_test_id("stSidebarNav").get_by_text("Row updates", exact=True).tap()
    expect(page.get_by_role("heading", name="Row updates: the gradient is not the update")).to_be_visible(
        timeout=FIRST_LOAD_MS
    )
    wait_idle(page, FIRST_LOAD_MS)
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    box = sidebar.bounding_box()
    assert box is None or box["x"] + box["width"] <= 1  # off the screen, not over the page
    page.close()
