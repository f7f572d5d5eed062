"""Embedding Explorer's Streamlit helpers: session state, the settings sidebar, navigation and figures."""

from __future__ import annotations

import streamlit as st

from ui import classroom, nav, projector, server, sidebar, state
from ui.warmup import start_umap_warmup

COMPACT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; }
h1 { font-size: 2.1rem !important; }
</style>"""


def setup(title: str) -> None:
    """What every page calls first, so a link straight to a page works even when app.py did not run."""
    server.setup_process()  # once per process, before the UMAP warm-up imports numba (it sets numba's cache dir)
    nav.ensure_declared()
    st.set_page_config(page_title=f"{title} · Embedding Explorer", layout="wide")
    projector.read_link()  # before state.init and state.sync rewrite the address bar: &step, &projector, &theme
    st.html(COMPACT_CSS + projector.css(st.session_state.projector))
    start_umap_warmup()
    state.init()
    state.enter_page(title)
    state.sync()
    projector.replay_if_asked()  # a link's &step: re-trained before the sidebar and the page draw any control
    with st.sidebar:
        projector.controls()  # projector mode and the dark theme, at the top of the settings
    sidebar.render()
    projector.link_notes()  # unreadable step/projector/theme values; a step beyond what a link may ask for
    with st.sidebar:
        classroom.glossary()  # the terms, reachable from every page
    sidebar.pending_banner()  # in the page body too: the sidebar's top may be scrolled out of view
