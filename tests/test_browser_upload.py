"""A 20-50 MB import in a real browser: a ~30 MB word2vec text file on the Export page's import widget is accepted by
the server (no "AxiosError", no upload refused for its size) and is imported, or gets the import's own message."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -r requirements-dev.txt)")

from browser_support import assert_no_exception, browser_marks, metric_value, open_page, wait_idle  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

pytestmark = browser_marks()

FIRST_LOAD_MS = 120_000
IMPORT_MS = 180_000  # three tries of the upload and the parse of 3.2 million numbers, on a shared 2-core machine
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


def test_a_30_mb_word2vec_file_uploads_and_imports(server, browser, tmp_path):
    path = _word2vec_text(tmp_path / "vectors.txt")
    size_mb = path.stat().st_size / 1024**2
    assert 20 < size_mb < 50, size_mb
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    try:
        open_page(page, server.url("/export"), timeout=FIRST_LOAD_MS)
        uploader = page.get_by_test_id("stFileUploader").filter(has_text="Embedding matrix").first
        # The page's first runs settled: the import's limit sentence is drawn (the page stops there without a file)
        expect(page.get_by_test_id("stMain").get_by_text("Up to 50 MB", exact=False)).to_be_visible(
            timeout=FIRST_LOAD_MS
        )
        wait_idle(page, FIRST_LOAD_MS)
        imported = metric_value(page, "Imported table").filter(has_text=f"{ROWS:,} × {DIM:,}")
        message = page.locator("[data-testid=stMain] [data-testid=stAlertContentError]")
        # A known, unfixed bug (see the closing note of issue 13): the first upload a freshly started server gets
        # is dropped from the widget after it uploaded (reproduced with a 10 KB .npy; a second session's first
        # upload works). This test is about the size, so it tries again; the bug stays listed as open.
        for attempt in range(3):
            uploader.locator("input[type=file]").set_input_files(str(path))
            try:
                expect(imported.or_(message).first).to_be_visible(timeout=IMPORT_MS // 3)
                break
            except AssertionError:
                if attempt == 2:
                    raise
                wait_idle(page, FIRST_LOAD_MS)
        wait_idle(page, IMPORT_MS)
        text = page.get_by_test_id("stMain").inner_text()
        assert "AxiosError" not in text and "Request failed" not in text
        expect(page.get_by_test_id("stFileUploaderFileErrorMessage")).to_have_count(0)  # not refused for its size
        assert_no_exception(page)
        if message.count():  # the import's own message, which says what is wrong
            assert "import" in message.first.inner_text().lower() or "MB" in message.first.inner_text()
        else:
            expect(imported).to_be_visible()
    finally:
        page.context.close()
