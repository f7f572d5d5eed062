"""Embedding Explorer's Streamlit helpers: session state, the settings sidebar, navigation and figures."""

from __future__ import annotations

import streamlit as st

from ui import nav, sidebar, state
from ui.warmup import start_umap_warmup

COMPACT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; }
h1 { font-size: 2.1rem !important; }
</style>"""


def setup(title: str) -> None:
    """What every page calls first, so a link straight to a page works even when app.py did not run."""
    nav.ensure_declared()
    st.set_page_config(page_title=f"{title} · Embedding Explorer", layout="wide")
    st.html(COMPACT_CSS)
    start_umap_warmup()
    state.init()
    state.sync()
    sidebar.render()
