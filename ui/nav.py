"""The app's pages: one list that app.py hands to st.navigation and that pages link to."""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent

# The question each page answers, with the user's own run (shown on the home page beside its link)
QUESTIONS = {
    "train": "How does it learn? Lookup, loss, backward, optimizer step, one batch at a time.",
    "gradient_masks": "Which rows get a gradient? The looked-up ones (a tied head: every row); repeats add up.",
    "row_updates": "Is the gradient the update? Not for Adam, momentum or weight decay: they move unused rows too.",
    "embedding_space": "Does it learn a vector per token that means something? Watch the categories gather.",
    "lookup": "Is an embedding an MLP? No: a lookup, equal to one_hot @ W. And how is it initialised?",
    "scale": "What do GPT-1 to Llama 3 spend on this table, and does a bigger dimension help here?",
    "lessons": "One click sets up a run that makes one point; the point is then checked on your run.",
    "compare": "Do optimizers move the same rows? 2 to 4 of them, on the same batches from the same table.",
    "predict": "Which rows will get a gradient, and which will move? Guess, step, and see why.",
    "export": "Take the table or the history away (.npy, .csv, Projector .tsv); bring a matrix in to explore.",
}

# (file, title, url path, icon): the url paths are a contract with the browser tests and teachers' links
PAGES = (
    ("pages/1_train.py", "Train", "train", ":material/play_circle:"),
    ("pages/2_gradient_masks.py", "Gradient masks", "gradient_masks", ":material/grid_on:"),
    ("pages/3_row_updates.py", "Row updates", "row_updates", ":material/trending_up:"),
    ("pages/4_embedding_space.py", "Embedding space", "embedding_space", ":material/scatter_plot:"),
    ("pages/5_lookup.py", "Lookup, not MLP", "lookup", ":material/table_rows:"),
    ("pages/6_scale.py", "Scale: GPT-1 to Llama 3", "scale", ":material/stacked_bar_chart:"),
    ("pages/10_lessons.py", "Lessons", "lessons", ":material/school:"),
    ("pages/7_compare.py", "Optimizers side by side", "compare", ":material/compare_arrows:"),
    ("pages/8_predict.py", "Predict, then step", "predict", ":material/quiz:"),
    ("pages/9_export.py", "Export and import", "export", ":material/download:"),
)


_entry = threading.local()  # whether app.py declared the pages in this script run (one thread per run)


def navigation(home=None) -> st.Page:
    """st.navigation over the home function and every file page (paths absolute, so any cwd works)."""
    if home is None:
        from ui.home import render as home
    _entry.declared = True
    pages = [st.Page(home, title="Home", icon=":material/home:", url_path="home", default=True)]
    pages += [st.Page(ROOT / path, title=title, url_path=url, icon=icon) for path, title, url, icon in PAGES]
    return st.navigation(pages)


def ensure_declared() -> None:
    """Declare the pages when app.py did not run: the first request to a fresh server that goes straight to a
    page's URL runs that page alone (Streamlit's pages/ folder mode). Declaring them here switches the server to
    st.navigation, so the sidebar lists the same titled pages and later reruns go through app.py."""
    if not getattr(_entry, "declared", False):
        navigation()
    _entry.declared = False


def links() -> None:
    """A link to every page (they work whether the app started at app.py or at a page's own URL)."""
    for path, title, url, icon in PAGES:
        link, question = st.columns([1, 3], vertical_alignment="center")
        with link:
            st.page_link(path, label=title, icon=icon)
        question.caption(QUESTIONS[url])
