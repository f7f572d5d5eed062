"""Fixtures the browser test modules share: one app server and one Chromium per module."""

from __future__ import annotations

import pytest


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
