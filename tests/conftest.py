"""Fixtures the test modules share: one app server and one Chromium per browser module; torch on one thread."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread, as the server runs it (serve.process.setup_process), for the app's runs and a test's
    alike: a GPT's sums round by thread count, and another module may have left torch on two. Once a module: a
    run just after the count changed was seen to round otherwise than the next (core.family's seeded rerun)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def server():
    """The app, started headless on a free loopback port (imported here: playwright is only a test tool)."""
    from browser_support import streamlit_server

    with streamlit_server() as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from browser_support import chromium

    with chromium() as launched:
        yield launched
