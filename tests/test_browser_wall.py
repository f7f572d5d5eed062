"""The wall rule in a real browser (display mode, a projector's 1024 x 768 and 1280 x 720), on every page after a
link's 20 steps: every text on screen is at least 18 px and every title at least 24 px (widgets, tables and the
charts' SVG text included, measured from computed styles), and no chart title, axis title, tick label, legend or
annotation overlaps another or leaves its chart (measured from the rendered SVG's bounding boxes), and a heatmap of rows
labels every row it draws."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import TWO_FRAMES, assert_no_exception, browser_marks, button, open_page, wait_idle  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

FIRST_LOAD_MS = 120_000
VIEWPORTS = {"1024x768": {"width": 1024, "height": 768}, "1280x720": {"width": 1280, "height": 720}}
PAGES = ["/", "/train", "/gradient_masks", "/row_updates", "/embedding_space", "/lookup", "/scale", "/lessons",
         "/compare", "/predict", "/export", "/slow_motion"]  # fmt: skip
# A page whose charts or tables come after a click of its own: the button, and what to wait for after it
CLICK_FIRST = {"/compare": "Step ×10", "/predict": "Step and score"}
TEXT_PX, TITLE_PX = 18, 24
NO_CHARTS = ("/", "/lessons", "/export")
DRAWN = (  # idle, nothing left to load (a lazy element shows a skeleton), every chart drawn, at least one if `charts`
    "charts => { const all = [...document.querySelectorAll('[data-testid=stPlotlyChart]')];"
    " return !document.querySelector('[data-testid=stSkeleton]')"
    ' && !!document.querySelector("[data-testid=stApp][data-test-script-state=notRunning]")'
    " && (all.length > 0 || !charts) && all.every(c => c.querySelector('.main-svg .gtitle, .main-svg .xtick')); }"
)

# Text smaller than the rule: every visible text node's element, every visible input (a number input's value is not
# a text node), and the charts' SVG text. Titles (headings, the charts' titles) against TITLE_PX. A table drawn on a
# canvas (st.dataframe) has no text nodes: its 14 px type counts with the zoom the page gives it.
SMALL_TEXT = """([textPx, titlePx]) => {
  const small = [], seen = new Set();
  const shown = el => el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
  const onScreen = r => r.width > 2 && r.height > 2 && r.right > 0 && r.left < innerWidth;
  const clipped = el => getComputedStyle(el).clip === 'rect(0px, 0px, 0px, 0px)';  // a screen reader's text
  const isTitle = el => !!el.closest('h1, h2, h3, .ee-chart-title, .gtitle');
  const check = (el, text) => {
    if (seen.has(el)) return;
    seen.add(el);
    const px = parseFloat(getComputedStyle(el).fontSize), least = isTitle(el) ? titlePx : textPx;
    if (px < least - 0.05) small.push(`${px}px < ${least}: ${text.trim().slice(0, 50)}`);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('style, script, noscript, [data-testid=stIconMaterial]'))
      continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (![...range.getClientRects()].some(onScreen) || !shown(el) || clipped(el)) continue;
    check(el, node.textContent);
    const cut = el.closest('*:not(svg *)');
    if (cut && getComputedStyle(cut).textOverflow === 'ellipsis' && cut.scrollWidth > cut.clientWidth + 1)
      small.push(`cut: ${cut.textContent.trim().slice(0, 50)}`);
  }
  const typed = 'input:not([type=file]):not([type=checkbox]):not([type=radio]):not([type=range]), textarea';
  for (const input of document.querySelectorAll(typed)) {
    if (shown(input) && onScreen(input.getBoundingClientRect()) && (input.value || input.placeholder))
      check(input, 'input ' + (input.value || input.placeholder));
  }
  for (const table of document.querySelectorAll('[data-testid=stTable]')) {  // its columns all in sight
    const wide = [table, ...table.querySelectorAll('*')].find(el => el.scrollWidth > el.clientWidth + 1
      && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX));
    if (shown(table) && wide) small.push(`table scrolls sideways: ${table.textContent.slice(0, 40)}`);
  }
  for (const grid of document.querySelectorAll('[data-testid=stDataFrame]')) {
    if (!shown(grid)) continue;
    let zoom = 1;
    for (let el = grid; el; el = el.parentElement) zoom *= parseFloat(getComputedStyle(el).zoom) || 1;
    if (14 * zoom < textPx - 0.05) small.push(`table at ${(14 * zoom).toFixed(1)}px: ${grid.textContent.slice(0, 40)}`);
    const next = grid.closest('[data-testid=stElementContainer]')?.nextElementSibling;  // a zoomed table's room
    const drawn = grid.querySelector('[data-testid=stDataFrameResizable]') || grid;
    if (next && shown(next) && drawn.getBoundingClientRect().bottom > next.getBoundingClientRect().top + 1)
      small.push(`table runs over what follows it: ${next.textContent.slice(0, 40)}`);
  }
  return small;
}"""

# Overlaps between a chart's texts, and texts outside their chart: titles, axis titles, tick labels, the legend,
# annotations (subplot titles, direct labels), colour-bar ticks, the points' word labels, each one box.
OVERLAPS = """() => {
  const found = [];
  const box = el => el.getBoundingClientRect();
  const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
                        && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  for (const [n, chart] of [...document.querySelectorAll('[data-testid=stPlotlyChart]')].entries()) {
    const svg = chart.querySelector('.main-svg');
    if (!svg) continue;
    const frame = box(svg), items = [];
    const title = chart.closest('[data-testid=stElementContainer]')?.previousElementSibling?.textContent;
    const name = `chart ${n + 1} (${(chart.querySelector('.gtitle')?.textContent || title || '').slice(0, 40)})`;
    const add = (el, what) => {
      const r = box(el);
      if (r.width > 0 && r.height > 0 && el.textContent.trim() !== '') items.push({r, what});
    };
    for (const el of chart.querySelectorAll('.gtitle')) add(el, 'title ' + el.textContent);
    for (const el of chart.querySelectorAll('text')) {
      const cls = el.getAttribute('class') || '', group = el.parentElement?.getAttribute('class') || '';
      if (/^[xy]\\d*title$/.test(cls)) add(el, 'axis title ' + el.textContent);
      else if (/(^| )[xy]\\d*tick( |$)/.test(group) || /^(x|y)\\d*tick/.test(group)) add(el, 'tick ' + el.textContent);
      else if (el.closest('.annotation')) add(el, 'annotation ' + el.textContent);
      else if (el.closest('.colorbar') && /tick/.test(group)) add(el, 'colour-bar tick ' + el.textContent);
      else if (el.closest('.textpoint')) add(el, 'point label ' + el.textContent);
      else if (el.classList.contains('bartext')) add(el, 'bar label ' + el.textContent);
    }
    for (const el of chart.querySelectorAll('.legend')) add(el, 'legend');
    for (const area of chart.querySelectorAll('.draglayer .nsewdrag')) {  // each panel's plot area
      const r = box(area), panels = chart.querySelectorAll('.draglayer .nsewdrag').length;
      if (r.width < (panels === 1 ? Math.max(150, 0.4 * frame.width) : 100) || r.height < 100)
        found.push(`${name}: a plot area of ${Math.round(r.width)} x ${Math.round(r.height)} px`);
    }
    const shownBars = /(\\d+) shown/.exec(title || chart.querySelector('.gtitle')?.textContent || '');
    const labels = chart.querySelectorAll('.xtick text').length;
    if (shownBars && labels !== +shownBars[1]) found.push(`${name}: ${labels} bar labels for ${shownBars[1]} shown`);
    const plot = chart.querySelector('.js-plotly-plot');  // a heatmap of rows (tokens): a label on every row drawn
    for (const t of plot?.data || [])
      if (t.type === 'heatmap' && Array.isArray(t.y) && plot.layout?.yaxis?.type === 'category'
          && plot.layout?.yaxis?.showticklabels !== false) {  // a table drawn without row labels names rows on hover
        const rowLabels = chart.querySelectorAll('.ytick text').length;
        if (rowLabels !== t.y.length) found.push(`${name}: ${rowLabels} row labels for ${t.y.length} rows`);
      }
    for (const item of items) {
      const r = item.r;
      if (r.left < frame.left - 1 || r.right > frame.right + 1 || r.top < frame.top - 1 || r.bottom > frame.bottom + 1)
        found.push(`${name}: ${item.what.slice(0, 40)} leaves the chart`);
    }
    for (let i = 0; i < items.length; i++)
      for (let j = i + 1; j < items.length; j++)
        if (hit(items[i].r, items[j].r))
          found.push(`${name}: ${items[i].what.slice(0, 40)} overlaps ${items[j].what.slice(0, 40)}`);
  }
  return found;
}"""


@pytest.fixture(params=list(VIEWPORTS), scope="module")
def context(request, browser):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    yield context
    context.close()


def open_on_the_wall(context, server, path: str):
    """The page after a link's 20 steps in display mode, its own click taken, every chart drawn."""
    page = context.new_page()
    open_page(page, server.url(f"{path}?step=20&projector=1"), timeout=FIRST_LOAD_MS)
    if path in CLICK_FIRST:
        for _ in range(3):  # a click that lands while the page's first runs settle can be dropped: click again
            button(page, CLICK_FIRST[path]).click()
            try:
                expect(page.locator("[data-testid=stPlotlyChart], [data-testid=stDataFrame]").first).to_be_visible(
                    timeout=30_000
                )
                break
            except AssertionError:
                wait_idle(page, FIRST_LOAD_MS)
        wait_idle(page, FIRST_LOAD_MS)
    page.wait_for_function(DRAWN, arg=path not in NO_CHARTS, timeout=FIRST_LOAD_MS)
    page.evaluate(TWO_FRAMES)
    assert_no_exception(page)
    return page


@pytest.mark.parametrize("path", PAGES)
def test_every_text_is_large_and_no_chart_text_overlaps_on_the_wall(server, context, path):
    page = open_on_the_wall(context, server, path)
    try:
        small = page.evaluate(SMALL_TEXT, [TEXT_PX, TITLE_PX])
        overlaps = page.evaluate(OVERLAPS)
    finally:
        page.close()
    assert not small and not overlaps, "\n".join([*small, *overlaps])
