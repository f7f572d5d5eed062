"""Imports in a real browser: a freshly started server's very first upload is imported at once, and a ~30 MB word2vec
text file (20-50 MB) is accepted by the server (no "AxiosError", no upload refused for its size) and is imported, or
gets the import's own message."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import (  # noqa: E402
    assert_no_exception,
    browser_marks,
    metric_value,
    open_page,
    streamlit_server,
    wait_idle,
)
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

FIRST_LOAD_MS = 120_000
IMPORT_MS = 120_000  # the upload and the parse of 3.2 million numbers, on a shared 2-core machine
SMALL_IMPORT_MS = 60_000  # a 10 KB .npy: seconds, even on a loaded machine
ROWS, DIM = 50_000, 64  # ~30 MB of text: over the 20 MB an older server refused, under the 50 MB cap


def _word2vec_text(path, rows: int = ROWS, dim: int = DIM):
    """A word2vec text file as the word2vec tool writes it: "V D", then one "word v1 ... vD" line per row."""
    values = np.random.default_rng(0).standard_normal((rows, dim)).astype(np.float32)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(f"{rows} {dim}\n")
        for start in range(0, rows, 5_000):
            block = values[start : start + 5_000]
            out.writelines(f"w{start + i} " + " ".join(f"{v:.6f}" for v in row) + "\n" for i, row in enumerate(block))
    return path


@pytest.fixture
def fresh_server():
    """A server of its own that has answered no page yet (the module's `server` may have served other tests)."""
    with streamlit_server() as running:
        yield running


def _open_import(page, url: str):
    """The Export page at `url`, settled (the import's limit sentence drawn: the page stops there without a file),
    and its matrix uploader's file input."""
    open_page(page, url, timeout=FIRST_LOAD_MS)
    expect(page.get_by_test_id("stMain").get_by_text("Up to 50 MB", exact=False)).to_be_visible(timeout=FIRST_LOAD_MS)
    wait_idle(page, FIRST_LOAD_MS)
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="Embedding matrix").first
    return uploader.locator("input[type=file]")


def test_a_fresh_servers_first_upload_is_imported_at_once(fresh_server, browser, tmp_path):
    """The server's first page is the Export page's own URL. Streamlit runs that first request as an old-style
    pages/ app, and the app declares its pages in it: the widgets drawn after that must keep the identity they have
    in every later run, or the upload the browser sends for them is dropped (the file vanished from the widget)."""
    path = tmp_path / "small.npy"
    np.save(path, np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32))  # 10 KB
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        _open_import(page, fresh_server.url("/export")).set_input_files(str(path))  # once: no retry
        expect(metric_value(page, "Imported table")).to_have_text("300 × 8", timeout=SMALL_IMPORT_MS)
        expect(page.get_by_test_id("stFileChipName")).to_have_text("small.npy")  # the file stays in the widget
        assert_no_exception(page)
    finally:
        page.context.close()


def test_a_30_mb_word2vec_file_uploads_and_imports(server, browser, tmp_path):
    path = _word2vec_text(tmp_path / "vectors.txt")
    size_mb = path.stat().st_size / 1024**2
    assert 20 < size_mb < 50, size_mb
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        file_input = _open_import(page, server.url("/export"))  # this module's server: its first page, too
        imported = metric_value(page, "Imported table").filter(has_text=f"{ROWS:,} × {DIM:,}")
        message = page.locator("[data-testid=stMain] [data-testid=stAlertContentError]")
        file_input.set_input_files(str(path))  # once: a fresh server's first upload is kept (the test above)
        expect(imported.or_(message).first).to_be_visible(timeout=IMPORT_MS)
        wait_idle(page, IMPORT_MS)
        text = page.get_by_test_id("stMain").inner_text()
        assert "AxiosError" not in text and "Request failed" not in text
        expect(page.get_by_test_id("stFileChipIconError")).to_have_count(0)  # not refused for its size
        assert_no_exception(page)
        if message.count():  # the import's own message, which says what is wrong
            assert "import" in message.first.inner_text().lower() or "MB" in message.first.inner_text()
        else:
            expect(imported).to_be_visible()
    finally:
        page.context.close()
