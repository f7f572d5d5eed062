"""The app's pages: one Page record each, in navigation order, that app.py hands to st.navigation and pages link to."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui import session

ROOT = Path(__file__).resolve().parent.parent


class Page(NamedTuple):
    """A page: its file, title, url path (a contract with the browser tests and teachers' links), icon, the question
    it answers with the user's own run (shown on the home page beside its link)."""

    file: str
    title: str
    url: str
    icon: str
    question: str


HOME = Page("pages/00_home.py", "Home", "home", ":material/home:", "Each page answers one question, with your own run.")
PAGES = (
    Page("pages/01_train.py", "Train", "train", ":material/play_circle:",
         "How does it learn? Lookup, loss, backward, optimizer step, one batch at a time."),
    Page("pages/02_gradient_masks.py", "Gradient masks", "gradient_masks", ":material/grid_on:",
         "Which rows get a gradient? The looked-up ones (a tied softmax head: every row); repeats add up."),
    Page("pages/03_row_updates.py", "Row updates", "row_updates", ":material/trending_up:",
         "Is the gradient the update? Not for Adam, momentum or weight decay: they move unused rows too."),
    Page("pages/04_embedding_space.py", "Embedding space", "embedding_space", ":material/scatter_plot:",
         "Does it learn a vector per token that means something? Watch the categories gather."),
    Page("pages/05_lookup.py", "Lookup, not MLP", "lookup", ":material/table_rows:",
         "Is an embedding an MLP? No: a lookup, equal to one_hot @ W. And how is it initialised?"),
    Page("pages/06_scale.py", "Scale: GPT-1 to Llama 3", "scale", ":material/stacked_bar_chart:",
         "What do GPT-1 to Llama 3 spend on this table, and does a bigger dimension help here?"),
    Page("pages/07_lessons.py", "Lessons", "lessons", ":material/school:",
         "One click sets up a run that makes one point; the point is then checked on your run."),
    Page("pages/08_compare.py", "Optimizers side by side", "compare", ":material/compare_arrows:",
         "Do optimizers move the same rows? 2 to 4 of them, on the same batches from the same table."),
    Page("pages/09_predict.py", "Predict, then step", "predict", ":material/quiz:",
         "Which rows will get a gradient, and which will move? Guess, step, and see why."),
    Page("pages/10_export.py", "Export and import", "export", ":material/download:",
         "Take the table or the history away (.npy, .csv, Projector .tsv); bring a matrix in to explore."),
    Page("pages/11_slow_motion.py", "One step in slow motion", "slow_motion", ":material/slow_motion_video:",
         "What did this step compute? Lookup, loss, backward and the optimizer's arithmetic, with one row's numbers."),
)  # fmt: skip

_entry = threading.local()  # whether app.py declared the pages in this script run (one thread per run)


def by_url(url: str) -> Page:
    """The page at this url path."""
    return next(page for page in (HOME, *PAGES) if page.url == url)


# The navigation's icons, by url path: emoji, which the browser draws. A st.Page's :material/…: icon becomes the tab's
# favicon, and Streamlit fetches that one from a font host (fonts.gstatic.com), out of an offline classroom's reach.
# Each is also in common text fonts: legible without an emoji font.
NAV_ICONS = {
    "home": "ℹ️", "train": "▶️", "gradient_masks": "◼️", "row_updates": "↗️", "embedding_space": "❇️", "lookup": "➡️",
    "scale": "↕️", "lessons": "✏️", "compare": "⚖️", "predict": "⁉️", "export": "⬇️", "slow_motion": "⚙️",
}  # fmt: skip


def navigation() -> st.Page:
    """st.navigation over every page, Home the default (paths absolute, so any cwd works)."""
    _entry.declared = True
    return st.navigation(
        [st.Page(ROOT / p.file, title=p.title, url_path=p.url, icon=NAV_ICONS.get(p.url, "▶️"), default=p is HOME)
         for p in (HOME, *PAGES)]
    )  # fmt: skip


SEEN = "nav_seen"  # session key: this session has run a page before (a first run in pages/ mode reruns)


def ensure_declared() -> None:
    """Declare the pages when app.py did not run, and rerun through app.py when the run was Streamlit's pages/ mode.

    A fresh server's first request straight to a page's URL runs that page alone, as an old-style pages/ app. The
    st.navigation call below switches the server to app.py's pages, and resets the script's active page: every
    widget drawn after it in this run gets an id other than the one it has in every later run, so the first click
    or upload the browser sends for it is dropped (issue 13: a fresh server's first upload vanished). Rerunning at
    once draws no widget under the ids of that one run. Only a session's first run: that is when a server is fresh.
    (AppTest runs every page switch in pages/ mode; a rerun there would give that run's widgets other ids than the
    next run's, the very thing this avoids, and drop the click that started it.)
    """
    first = not session.get(SEEN)
    session.put(SEEN, True)
    if not getattr(_entry, "declared", False):
        pages_mode = bool(PagesManager.uses_pages_directory)  # True only until the server's first st.navigation
        navigation()
        if pages_mode and first:
            st.rerun()
    _entry.declared = False


def links() -> None:
    """A link to every page but Home (they work whether the app started at app.py or at a page's own URL)."""
    for page in PAGES:
        link, question = st.columns([1, 3], vertical_alignment="center")
        link.page_link(page.file, label=page.title, icon=page.icon)
        question.caption(page.question)
