"""The classroom in a real browser: every lesson's link on a fresh server starts that lesson, and each classroom
page renders and works (compare steps, predict scores) without an exception."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import (  # noqa: E402
    assert_no_exception,
    browser_marks,
    button,
    metric_value,
    new_page,
    open_page,
    wait_idle,
)
from playwright.sync_api import expect  # noqa: E402

from core.lessons import LESSONS  # noqa: E402

pytestmark = browser_marks()

FIRST_LOAD_MS = 120_000
STEP_MS = 90_000


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.mark.parametrize("key", list(LESSONS))
def test_every_lesson_link_starts_its_lesson(server, page, key):
    preset = LESSONS[key]
    open_page(page, server.url(f"/lessons?lesson={key}"), timeout=FIRST_LOAD_MS)
    wait_idle(page, FIRST_LOAD_MS)
    assert_no_exception(page)
    expect(page.get_by_text(preset.point).first).to_be_visible()
    cfg = preset.config()
    expect(page).to_have_url(re.compile(rf"lesson={key}"))
    expect(page).to_have_url(re.compile(rf"optimizer={cfg.optimizer}(&|$)"))
    expect(page).to_have_url(re.compile(rf"vocab_size={cfg.vocab_size}(&|$)"))
    expect(button(page, f"Take the {preset.steps} steps left")).to_be_visible()


def test_compare_steps_every_optimizer(server, page):
    open_page(page, server.url("/compare"), timeout=FIRST_LOAD_MS)
    button(page, "Step ×10").click()
    expect(metric_value(page, "Step")).to_have_text("10", timeout=STEP_MS)
    wait_idle(page, STEP_MS)
    assert_no_exception(page)
    expect(
        page.get_by_text("In 10 of 10 kept steps every optimizer's gradient reached exactly the same rows")
    ).to_be_visible()


def test_predict_scores_and_export_renders(server, page):
    open_page(page, server.url("/predict"), timeout=FIRST_LOAD_MS)
    button(page, "Step and score").click()
    expect(page.get_by_text("Step 1: 0 of 2 right")).to_be_visible(timeout=STEP_MS)
    assert_no_exception(page)
    open_page(page, server.url("/export"), timeout=FIRST_LOAD_MS)
    assert_no_exception(page)
    expect(page.get_by_text("Import a matrix to explore")).to_be_visible()
