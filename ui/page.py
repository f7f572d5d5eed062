"""What every page calls first (`setup`), so a link straight to a page works even when app.py did not run."""

from __future__ import annotations

import streamlit as st

from core.layouts import warm_up_umap
from serve import process
from ui import display, links, nav, session, training
from ui.widgets import glossary, sidebar

FAVICON = "🧮"


def setup(url: str, heading: str) -> None:
    """Process, navigation, the session's run (from the link the first time), the URL, a link's replay, the
    sidebar, then the page's `heading` and what to look for. `url` is the page's nav.Page.url."""
    title = nav.by_url(url).title
    process.setup_process(warm_up_umap)  # once per process: numba's cache dir, then UMAP's warm-up in the background
    nav.ensure_declared()
    # An emoji favicon, drawn by the browser: a page's :material/…: icon as the favicon is fetched from a font host
    # (fonts.gstatic.com), which an offline classroom cannot reach; the icons in the page links are Streamlit's own
    st.set_page_config(page_title=f"{title} · Embedding Explorer", page_icon=FAVICON, layout="wide")
    refused = None if session.started() else session.init(*links.read())  # before the URL is rewritten below
    st.html(display.css(display.on()))
    if refused is not None:  # the server cannot hold this link's run: say so, offer one that fits, retry next time
        sidebar.refused_link(refused)
        st.stop()
    session.enter_page(title)
    session.sync()
    links.sync_url()
    training.replay_if_asked()  # a link's &step: re-trained before the sidebar and the page draw any control
    with st.sidebar:
        sidebar.view_switches()  # display mode and the dark theme, at the top of the settings
    sidebar.render()
    links.link_notes()  # unreadable step/projector/theme values; a step beyond what a link may ask for
    with st.sidebar:
        glossary.glossary()  # the terms, reachable from every page
    sidebar.pending_banner()  # in the page body too: the sidebar's top may be scrolled out of view
    st.title(heading)
    glossary.look_for(url)
