"""Links and projector mode in a real browser at a projector's 1024 x 768: a link's step re-trains, Step writes
the step into the address bar, and no button label or chart title is cut, with projector mode off and on."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import (  # noqa: E402
    PANEL_OVERLAPS,
    TWO_FRAMES,
    assert_no_exception,
    browser_marks,
    button,
    metric_value,
    open_page,
    wait_idle,
)
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

PROJECTOR_VIEWPORT = {"width": 1024, "height": 768}
FIRST_LOAD_MS = 120_000
CLICK_FIRST = {"/compare": ("Step ×10", "10")}  # a page whose charts come after its own steps: click, then Step
PAGES = ["/train", "/gradient_masks", "/row_updates", "/embedding_space", "/lookup", "/scale", "/compare", "/predict"]
CHARTS_DRAWN = (  # at least one chart, and every chart on the page drawn
    "() => { const charts = [...document.querySelectorAll('[data-testid=stPlotlyChart]')];"
    " return charts.length > 0 && charts.every(c => c.querySelector('.main-svg .gtitle, .main-svg .xtick')); }"
)
# Every cut label on screen: a button whose label is wider than its box (an ellipsis), a plotly title that runs
# past its chart's edge (plotly cuts it there), one drawn over a panel title (make_subplots' subplot titles), two
# panel titles drawn over each other, a legend entry that runs past its chart's edge, and one drawn over an x
# axis's title.
CUT = """() => {
  const cut = [], panelOverlaps = PANEL_OVERLAPS;
  for (const label of document.querySelectorAll('[data-testid^=stBaseButton] [data-testid=stMarkdownContainer]')) {
    if (label.offsetParent !== null && label.scrollWidth > label.clientWidth + 1)
      cut.push('button: ' + label.textContent);
  }
  for (const chart of document.querySelectorAll('[data-testid=stPlotlyChart]')) {
    const svg = chart.querySelector('.main-svg'), title = chart.querySelector('.gtitle');
    if (!svg || !title) continue;
    const box = svg.getBoundingClientRect(), text = title.getBoundingClientRect();
    if (text.right > box.right + 1 || text.left < box.left - 1) cut.push('chart title: ' + title.textContent);
    for (const entry of chart.querySelectorAll('.legendtext')) {  // a legend under the plot, over the x axis's title
      const r = entry.getBoundingClientRect();
      if (r.width > 0 && r.right > box.right + 1)
        cut.push(`legend entry cut at the chart's edge: ${entry.textContent}`);
      for (const axis of chart.querySelectorAll('.g-xtitle text')) {
        const a = axis.getBoundingClientRect();
        if (Math.min(r.right, a.right) - Math.max(r.left, a.left) > 1
            && Math.min(r.bottom, a.bottom) - Math.max(r.top, a.top) > 1)
          cut.push(`legend over an axis title: ${entry.textContent} / ${axis.textContent}`);
      }
    }
    for (const panel of chart.querySelectorAll('.annotation-text')) {  // make_subplots' panel titles
      const r = panel.getBoundingClientRect();
      if (Math.min(r.right, text.right) - Math.max(r.left, text.left) > 1
          && Math.min(r.bottom, text.bottom) - Math.max(r.top, text.top) > 1)
        cut.push(`chart title over a panel title: ${title.textContent} / ${panel.textContent}`);
    }
    cut.push(...panelOverlaps(chart));
  }
  return cut;
}""".replace("PANEL_OVERLAPS", PANEL_OVERLAPS)


@pytest.fixture
def page(browser):
    page = browser.new_context(viewport=PROJECTOR_VIEWPORT).new_page()
    yield page
    page.context.close()


def _drawn(page, path: str) -> None:
    wait_idle(page, FIRST_LOAD_MS)
    path = path.partition("?")[0]
    if path in CLICK_FIRST:
        label, step = CLICK_FIRST[path]
        for _ in range(3):  # a click that lands while the page's first runs settle can be dropped: click again
            button(page, label).click()
            try:
                expect(metric_value(page, "Step")).to_have_text(step, timeout=20_000)
                break
            except AssertionError:
                wait_idle(page, FIRST_LOAD_MS)
        expect(metric_value(page, "Step")).to_have_text(step)
        wait_idle(page, FIRST_LOAD_MS)
    page.wait_for_function(CHARTS_DRAWN, timeout=FIRST_LOAD_MS)
    page.evaluate(TWO_FRAMES)


def test_a_link_with_a_step_re_trains_and_step_clicks_move_the_links_step(server, page):
    open_page(page, server.url("/train?vocab_size=40&dim=8&seed=2&step=25"), timeout=FIRST_LOAD_MS)
    expect(metric_value(page, "Step")).to_have_text("25", timeout=FIRST_LOAD_MS)
    assert_no_exception(page)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("at step 25")
    button(page, "Step").click()  # a fragment rerun: the full page's sync does not run
    expect(metric_value(page, "Step")).to_have_text("26", timeout=FIRST_LOAD_MS)
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]step=26(&|$)"))
    assert "vocab_size=40" in page.url


def test_projector_mode_from_the_link(server, page):
    open_page(page, server.url("/train?step=3&projector=1"), timeout=FIRST_LOAD_MS)
    expect(page.get_by_test_id("stSidebar").get_by_text("Projector mode")).to_be_visible()
    _drawn(page, "/train")
    caption_px = page.evaluate(
        "() => Math.min(...[...document.querySelectorAll('[data-testid=stMain] [data-testid=stCaptionContainer]')]"
        ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
    )
    assert caption_px >= 18
    title_px = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.ee-chart-title')).fontSize)")
    assert title_px >= 24
    tick_px = page.evaluate("() => parseFloat(document.querySelector('.xtick text').style.fontSize)")
    assert tick_px >= 18
    assert "projector=1" in page.url


@pytest.mark.parametrize("projector", ["0", "1"], ids=["normal", "projector"])
@pytest.mark.parametrize("path", PAGES)
def test_no_button_label_is_cut_and_no_chart_title_in_projector_mode_at_1024_by_768(
    server, page, path, projector, tmp_path
):
    open_page(page, server.url(f"{path}?step=12&projector={projector}"), timeout=FIRST_LOAD_MS)
    _drawn(page, path)
    assert_no_exception(page)
    page.screenshot(path=str(tmp_path / "screen.png"))
    cut = page.evaluate(CUT)
    assert [c for c in cut if c.startswith("button")] == []
    if projector == "1":
        assert cut == []  # titles are drawn above the chart, as HTML that wraps


# Compare's members with negative sampling, a tied head and max_norm: the longest labels a single model gives
@pytest.mark.parametrize("path", [*PAGES, "/compare?model=sgns&tie_weights=true&max_norm=1"])
def test_no_chart_title_is_cut_at_1024_by_768_without_projector_mode(server, page, path):
    open_page(page, server.url(f"{path}{'&' if '?' in path else '?'}step=12"), timeout=FIRST_LOAD_MS)
    _drawn(page, path)
    assert page.evaluate(CUT) == []
