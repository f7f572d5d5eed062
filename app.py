"""Embedding Explorer's entry point: declares the pages. Each page sets up state and the sidebar itself
(ui.page.setup), so a first request straight to a page's URL, which Streamlit runs without this file, works too."""

from ui import nav

nav.navigation().run()
