"""Small widgets shared by pages: the step picker that follows the latest step unless moved back, a row's label,
and the Embedding space page's layout picker."""

from __future__ import annotations

import streamlit as st

from core import captions
from core import predict as quiz
from core.layouts import LayoutCache, LayoutError, umap_is_warm
from core.rows import same_spread
from ui import display, session, training
from ui.display import md_escape
from ui.figures import train


def _follow(steps: list[int], key: str, every: bool) -> int:
    """The step to show: the newest unless the user moved the picker back to one still kept. The choice is kept
    under its own key and written into the widget every run: a new step makes a new widget, which would start at
    its minimum."""
    latest, remembered = steps[-1], session.get(key + "_chosen")
    kept = remembered is not None and (steps[0] <= remembered <= latest if every else remembered in steps)
    following = session.get(key + "_follow", True) or not kept
    session.put(key, latest if following else remembered)
    return latest


def step_picker(steps: list[int], key: str, label: str = "Show step", every: bool = True) -> int | None:
    """A slider over the kept steps that stays on the newest unless moved back (`every`: any step between the
    first and the newest, else only `steps` themselves)."""
    if not steps:
        return None
    latest = _follow(steps, key, every)
    if len(steps) == 1:
        return latest
    kw = {"on_change": _remember, "args": (key, latest), "key": key}
    if not every:
        return st.select_slider(label, steps, **kw)
    return st.slider(label, steps[0], latest, help="Any step the history still keeps.", **kw)


def _remember(key: str, latest: int) -> None:
    """Runs when the user moves the slider, before the rerun: back at the end means follow again."""
    session.put(key + "_chosen", session.get(key))
    session.put(key + "_follow", session.get(key) >= latest)


def step_or_prompt(steps: list[int], key: str, n: int = 1) -> int:
    """The chosen step; before any step, a prompt with a button that takes `n` steps, and the page stops."""
    chosen = step_picker(steps, key)
    if chosen is not None:
        return chosen
    st.info("No step yet: take a few steps on the **Train** page (or press the button).")
    if st.button("Step" if n == 1 else f"Step ×{n}", key=f"{key}_take"):
        training.train(n)  # with a progress bar when it takes long
        st.rerun()
    st.stop()


def row_label(row: int, token: str) -> str:
    return f"{row} {token}"


def layout_picker(frames: list, seed: int, columns) -> tuple[str, object]:
    """The Embedding space page's Layout radio and 3D toggle (in the first two of `columns`), then the frames laid
    out, kept per run: (the method used, coords (F, V, C)); PCA while UMAP warms up, a refused layout stops the page."""
    method = columns[0].radio("Layout", ("PCA", "UMAP"), horizontal=True, key="space_method")
    n_components = 3 if columns[1].toggle("3D", key="space_3d") else 2
    used = method
    if method == "UMAP" and not umap_is_warm():
        st.info("UMAP is warming up (numba compiles once per server, about a minute). Showing PCA meanwhile.")
        used = "PCA"
    caches = session.run_cache().setdefault("layouts", {})
    cache = caches.setdefault((used, n_components, seed), LayoutCache(used.lower(), n_components, seed))
    try:
        with st.spinner(f"Laying out {len(frames)} frames with {used}…"):
            coords = cache.layouts([w for _, w in frames])
    except LayoutError as error:
        st.error(md_escape(error))
        st.stop()
    for note in cache.notes:
        st.caption(note)
    return used, same_spread(coords)  # shape over size: every frame fills the same axes


def trail_picker(frequent: list[int], vocab) -> list[int]:
    """The Embedding space page's "Trails for" choice, among `frequent` (the rows the layout placed)."""
    if session.has("space_trail"):  # a token the layout no longer places (UMAP's sample) cannot stay chosen
        session.put("space_trail", [r for r in session.get("space_trail") if r in frequent])
    return st.multiselect(
        "Trails for", frequent, format_func=vocab.__getitem__, max_selections=5, key="space_trail",
        help="Each chosen token's path over the kept frames, in its own colour, its word at the head.",
    )  # fmt: skip


def row_picker(label: str, options: list[int], vocab, key: str, fresh_for, outside=lambda row: False) -> list[int]:
    """A multiselect of rows by token ("(not in this batch)" after those `outside` says), emptied when `fresh_for`
    changes (the next step's batch is picked afresh)."""
    if session.get(key + "_for") != fresh_for:
        session.put(key, [])
        session.put(key + "_for", fresh_for)
    note = lambda r: vocab[r] + (" (not in this batch)" if outside(r) else "")  # noqa: E731
    return st.multiselect(label, options, format_func=note, key=key)


def next_batch(tr) -> quiz.NextBatch:
    """Predict's next batch, before it is trained on: its bars (on the wall fewer, each labelled) and, with negative
    sampling, the head rows the step will score."""
    batch = display.bars(quiz.next_batch(tr))
    tokens = [tr.vocab[i] for i in batch.shown]
    display.chart(train.batch_token_bars(tokens, batch.counts[batch.shown], captions.next_batch_title(batch)))
    if head := captions.next_head_rows(batch):  # drawn already, from a copy of the negatives' generator
        st.caption(head)
    return batch
