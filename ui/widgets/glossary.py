"""The glossary popover (every term, reachable from every page) and a page's one line of what to look for."""

from __future__ import annotations

import streamlit as st

from core.glossary import LOOK_FOR, TERMS


def glossary() -> None:
    """A 'Glossary' popover with every term (ui.page.setup puts it in the sidebar)."""
    with st.popover("Glossary", icon=":material/menu_book:"):
        for term, meaning in TERMS.items():
            st.markdown(f"**{term}**: {meaning}")


def look_for(page: str) -> None:
    if page in LOOK_FOR:
        st.caption(f"**What to look for:** {LOOK_FOR[page]}")
