"""The One step in slow motion page in a real browser, in display mode at a projector's 1024 x 768: every chart
drawn, no exception, no chart title cut; a full-page screenshot to look at (SCREENSHOT_DIR, else a temp dir)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import TWO_FRAMES, assert_no_exception, browser_marks, full_page_screenshot, open_page  # noqa: E402

pytestmark = browser_marks()

CHARTS_DRAWN = (
    "() => { const charts = [...document.querySelectorAll('[data-testid=stPlotlyChart]')];"
    " return charts.length >= 2 && charts.every(c => c.querySelector('.main-svg .xtick')); }"
)
TITLES_CUT = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].filter(chart => {
  const svg = chart.querySelector('.main-svg'), title = chart.querySelector('.gtitle');
  if (!svg || !title) return false;
  const box = svg.getBoundingClientRect(), text = title.getBoundingClientRect();
  return text.right > box.right + 1 || text.left < box.left - 1;
}).length"""


def test_slow_motion_in_display_mode_at_1024_by_768(server, browser, tmp_path):
    page = browser.new_context(viewport={"width": 1024, "height": 768}).new_page()
    open_page(page, server.url("/slow_motion?step=5&projector=1&optimizer=sgd&momentum=0.9"), timeout=120_000)
    page.wait_for_function(CHARTS_DRAWN, timeout=120_000)
    page.evaluate(TWO_FRAMES)
    assert_no_exception(page)
    assert page.evaluate(TITLES_CUT) == 0
    text = page.get_by_test_id("stMain").inner_text()
    assert "to the bit" in text and "exactly the recorded mask" in text
    shot = Path(os.environ.get("SCREENSHOT_DIR", tmp_path)) / "slow_motion_display_1024.png"
    full_page_screenshot(page, shot)
    page.context.close()
