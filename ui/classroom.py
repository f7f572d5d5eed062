"""The classroom's Streamlit helpers (lesson presets, glossary, export buttons) and its figures.

The figures are pure functions of numpy arrays and labels (tested on their data); the widgets own their
session-state keys, each prefixed by what it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import export
from core.compare import Series
from core.glossary import LOOK_FOR, TERMS
from core.presets import PRESETS, check
from core.quiz import Explanation
from ui import projector, server, state
from ui.figures import FONT_SIZE, OKABE_ITO, _style, category_colour

# ---------------------------------------------------------------------------------------------- figures


DASHES = ("solid", "dash", "dot", "dashdot")  # members whose curves coincide (Adam, AdamW) stay visible


def _member_colour(i: int) -> str:
    return OKABE_ITO[(i + 3) % len(OKABE_ITO)]  # blue, vermillion, pink, yellow: apart from orange (state)


def _member_line(i: int) -> dict:
    return {"color": _member_colour(i), "width": 2.5, "dash": DASHES[i % len(DASHES)]}


LEGEND_BELOW = {"orientation": "h", "y": -0.25, "x": 0, "yanchor": "top"}  # one entry per optimizer, under the chart


def compare_loss(labels: Sequence[str], series: Sequence[Series], blind_guess: float) -> go.Figure:
    """Each member's loss per step on one chart, with ln V (a blind guess) dashed."""
    fig = go.Figure()
    for i, (label, s) in enumerate(zip(labels, series, strict=True)):
        fig.add_trace(go.Scatter(x=s.steps, y=s.loss, mode="lines", name=label, line=_member_line(i)))
    fig.add_hline(y=blind_guess, line={"dash": "dash", "color": "#777777"}, annotation_text="ln V: a blind guess")
    return _style(
        fig,
        "Loss per step, same batches",
        height=360,
        xaxis_title="step",
        yaxis_title="loss",
        legend=LEGEND_BELOW,
    )


def compare_counts(labels: Sequence[str], series: Sequence[Series]) -> go.Figure:
    """Per step and member: rows with a gradient (dotted) and rows that moved (solid)."""
    fig = go.Figure()
    for i, (label, s) in enumerate(zip(labels, series, strict=True)):
        colour = _member_colour(i)
        fig.add_trace(
            go.Scatter(
                x=s.steps, y=s.moved_rows, mode="lines", name=f"{label}: moved", line={"color": colour, "width": 2.5}
            )
        )
        fig.add_trace(
            go.Scatter(
                x=s.steps,
                y=s.grad_rows,
                mode="lines",
                name=f"{label}: gradient",
                line={"color": colour, "width": 2, "dash": "dot"},
            )
        )
    return _style(
        fig,
        "Rows with a gradient (dotted), rows moved",
        height=380,
        xaxis_title="step",
        yaxis_title="rows",
        legend=LEGEND_BELOW,
        half=True,
    )


def compare_moved_without_grad(labels: Sequence[str], series: Sequence[Series]) -> go.Figure:
    """Per step and member: how many rows moved although they got no gradient."""
    fig = go.Figure()
    for i, (label, s) in enumerate(zip(labels, series, strict=True)):
        fig.add_trace(go.Scatter(x=s.steps, y=s.moved_without_grad, mode="lines", name=label, line=_member_line(i)))
    return _style(
        fig,
        "Rows that moved without a gradient",
        height=360,
        xaxis_title="step",
        yaxis_title="rows",
        legend=LEGEND_BELOW,
        half=True,
    )


def compare_row_trajectory(
    labels: Sequence[str], trajectories: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], token: str
) -> go.Figure:
    """One row's update norm per step under each member; a filled marker where the row had a gradient."""
    fig = go.Figure()
    for i, (label, (steps, norms, had_grad)) in enumerate(zip(labels, trajectories, strict=True)):
        colour = _member_colour(i)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=norms,
                mode="lines+markers",
                name=label,
                line=_member_line(i),
                marker={
                    "size": 8,
                    "color": np.where(had_grad, colour, "white"),
                    "line": {"color": colour, "width": 1.5},
                },
            )
        )
    shown = token.replace("<", "&lt;").replace(">", "&gt;")  # plotly reads <pad> as a tag and drops it
    title = f"Row '{shown}': how far it moved each step (filled: it had a gradient)"
    return _style(
        fig,
        title,
        height=360,
        xaxis_title="step",
        yaxis_title="update norm",
        legend=LEGEND_BELOW,
    )


def scatter_panels(
    panel_titles: Sequence[str],
    coords: Sequence[np.ndarray],
    labels: Sequence[str],
    categories: np.ndarray,
    category_names: Sequence[str],
    title: str,
) -> go.Figure:
    """One 2-D scatter per panel (each (N, 2)), points coloured by category, a legend entry per category once."""
    n = len(coords)
    fig = make_subplots(rows=1, cols=n, subplot_titles=list(panel_titles), horizontal_spacing=0.04)
    text = np.asarray(labels, dtype=object)
    categories = np.asarray(categories)
    for col, xy in enumerate(coords, start=1):
        for c in sorted(set(categories.tolist())):
            mask = categories == c
            fig.add_trace(
                go.Scatter(
                    x=xy[mask, 0],
                    y=xy[mask, 1],
                    mode="markers",
                    text=text[mask],
                    hovertemplate="%{text}<extra></extra>",
                    name="no category" if c < 0 else category_names[c],
                    legendgroup=str(c),
                    showlegend=col == 1,
                    marker={"color": category_colour(c), "size": 8, "line": {"width": 0.5, "color": "white"}},
                ),
                row=1,
                col=col,
            )
    fig.update_annotations(font_size=FONT_SIZE)
    fig.update_xaxes(showticklabels=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, zeroline=False)
    return _style(fig, title, height=420, legend={"orientation": "h", "y": -0.05, "x": 0, "yanchor": "top"})


# ---------------------------------------------------------------------------------------------- tables

MAX_REASON_ROWS = 500


def breakdown_table(counts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"rows": list(counts), "how many": list(counts.values())})


def breakdown_caption(counts: dict[str, int], n_grad: int, n_moved: int) -> str:
    """The answer in words, every number from the record's breakdown."""
    text = f"{counts['looked up']} rows were looked up; {n_grad} got a gradient"
    if counts["gradient: tied head only"]:
        text += f" ({counts['gradient: tied head only']} only through the tied head)"
    if counts["looked up, no gradient (padding)"]:
        text += "; the padding row was looked up but got none"
    text += f". {n_moved} moved: {counts['moved with a gradient']} with a gradient"
    no_grad = counts["moved without a gradient"]
    if no_grad:
        parts = [
            f"{counts[key]} by {name}"
            for key, name in (
                ("of those, by optimizer state", "optimizer state"),
                ("of those, by weight decay", "weight decay"),
                ("of those, by max_norm", "max_norm's rescale"),
            )
            if counts[key]
        ]
        keys = ("of those, by optimizer state", "of those, by weight decay", "of those, by max_norm")
        twice = "; a row can count twice" if sum(counts[k] for k in keys) > no_grad else ""
        text += f", {no_grad} without one ({', '.join(parts)}{twice})"
    return text + "."


def reason_table(exp: Explanation, token_counts: np.ndarray, vocab: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """(a row per row that was looked up, got a gradient or moved: surprises first, at most MAX_REASON_ROWS;
    how many such rows there are)."""
    involved = np.flatnonzero(exp.looked_up | exp.grad | exp.moved)
    surprising = np.isin(involved, exp.surprising_rows())
    order = involved[np.argsort(~surprising, kind="stable")][:MAX_REASON_ROWS]
    table = pd.DataFrame(
        {
            "row": order,
            "token": [vocab[r] for r in order],
            "looked up": token_counts[order],
            "gradient": np.where(exp.grad[order], "yes", "no"),
            "moved": np.where(exp.moved[order], "yes", "no"),
            "why": ["; ".join(exp.reasons(int(r))) for r in order],
        }
    )
    return table, len(involved)


# ---------------------------------------------------------------------------------------------- widgets


def glossary() -> None:
    """A 'Glossary' popover with every term (call it from a page's setup)."""
    with st.popover("Glossary", icon=":material/menu_book:"):
        for term, meaning in TERMS.items():
            st.markdown(f"**{term}**: {meaning}")


def look_for(page: str) -> None:
    """The page's one line of what to look for."""
    if page in LOOK_FOR:
        st.caption(f"**What to look for:** {LOOK_FOR[page]}")


def load_preset(key: str) -> None:
    """Start a fresh run with a preset's settings (a button callback: runs before the page's script)."""
    cfg = PRESETS[key].config()
    ss = st.session_state
    try:
        state.apply(cfg)
    except server.ServerBusy as busy:  # the server cannot hold this run now: the current run is kept
        ss.lesson_busy = busy.message
        return
    ss.lesson_busy = None
    ss.store = asdict(cfg)
    ss.link_errors = {}  # the sidebar writes every control's value from the store on its next run


def open_linked_lesson(linked: str | None, prefix: str = "lesson") -> None:
    """Start the lesson a link names (?lesson=<key>), once per session and link; reruns so the sidebar shows it.

    `linked` must be read from st.query_params before ui.setup, whose settings sync rewrites the query."""
    ss = st.session_state
    if linked in PRESETS and ss.get(f"{prefix}_linked") != linked:
        ss[f"{prefix}_linked"] = linked
        ss[f"{prefix}_pick"] = linked
        load_preset(linked)
        st.rerun()


def lesson_link(key: str) -> str | None:
    """This page's address with ?lesson=<key>: opening it starts the lesson (None when the address is unknown)."""
    url = st.context.url
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode({"lesson": key}), ""))


def _ask_steps(prefix: str, n: int) -> None:
    st.session_state[f"{prefix}_asked"] = n


def preset_panel(prefix: str = "lesson") -> None:
    """Pick a lesson, start it, and see (once trained) whether its point holds on this very run."""
    key = st.selectbox("Lesson", list(PRESETS), format_func=lambda k: PRESETS[k].name, key=f"{prefix}_pick")
    preset = PRESETS[key]
    st.markdown(f"**The point:** {preset.point}")
    st.markdown(f"**Look for:** {preset.look_for}")
    asked = st.session_state.pop(f"{prefix}_asked", None)  # "Take the N steps left" clicked (its on_click ran)
    left, right = st.columns(2)
    left.button(
        f"Start this lesson (then take {preset.steps} steps)",
        key=f"{prefix}_load",
        on_click=load_preset,
        args=(key,),
        type="primary",
        disabled=asked is not None,
    )
    if st.session_state.get("lesson_busy"):
        st.error(st.session_state.lesson_busy, icon=":material/memory:")
    tr = state.trainer()
    active = st.session_state.cfg == preset.config()
    if active and tr.step_count < preset.steps:
        left_to_take = preset.steps - tr.step_count
        right.button(
            f"Take the {left_to_take} steps left", key=f"{prefix}_steps", disabled=asked is not None,
            on_click=_ask_steps, args=(prefix, left_to_take),
        )  # fmt: skip
    if asked is not None:
        with right:
            projector.train(asked, f"Training the lesson's {asked} steps…")  # a progress bar when it takes long
        st.rerun()  # the buttons back on, and the verdict on the trained run
    if not active:
        st.caption("The current run has other settings; start the lesson to check its point on your run.")
        return
    records = list(tr.history)
    verdict = check(preset, records, tr.weight if preset.key == "max_norm" else None)
    if not records:
        st.info("Lesson started: take its steps, then its point is checked on your run.")
    elif verdict.holds:
        st.success(f"On your run: {verdict.evidence}")
    else:
        st.warning(f"Not (yet) on your run: {verdict.evidence}")
    if records:
        st.caption(
            f"Loss (mean of the last steps) {verdict.recent_loss:.3f}; ln V, a blind guess: {verdict.blind_guess:.3f}."
        )


def download(
    label: str, data: Callable[[], bytes | str], file_name: str, mime: str, key: str, disabled: bool = False
) -> None:
    """A download button whose file is made only when clicked (a big table's text takes seconds)."""
    st.download_button(label, data, file_name=file_name, mime=mime, key=key, on_click="ignore", disabled=disabled)


def export_buttons(
    weight_at: Callable[[], np.ndarray],
    labels: Sequence[str],
    categories: np.ndarray,
    category_names: Sequence[str],
    step: int,
    history: Callable[[], list] | None,
    n_values: int,
    prefix: str = "export",
) -> None:
    """Download buttons for the table at `step` (every format) and the kept history (None: nothing kept yet).

    Text formats are offered up to export.TEXT_EXPORT_MAX_VALUES values (`n_values`): a GPT-2-sized table as
    text is half a gigabyte, made on the server; .npy holds it in a third of that, exactly.
    """
    stem = f"embedding_step{step}"
    too_big = n_values > export.TEXT_EXPORT_MAX_VALUES
    cols = st.columns(3)
    with cols[0]:
        download(
            ".npy", lambda: export.table_npy(weight_at()), f"{stem}.npy", "application/octet-stream", f"{prefix}_npy"
        )
        download(
            ".csv",
            lambda: export.table_csv(weight_at(), labels),
            f"{stem}.csv",
            "text/csv",
            f"{prefix}_csv",
            disabled=too_big,
        )
    with cols[1]:
        tsv = "text/tab-separated-values"
        download(
            "Projector vectors.tsv",
            lambda: export.projector_vectors(weight_at()),
            f"{stem}_vectors.tsv",
            tsv,
            f"{prefix}_vec",
            disabled=too_big,
        )
        download(
            "Projector metadata.tsv",
            lambda: export.projector_metadata(labels, categories, category_names),
            "metadata.tsv",
            tsv,
            f"{prefix}_meta",
        )
    with cols[2]:
        download(
            "word2vec .txt",
            lambda: export.word2vec_text(weight_at(), labels),
            f"{stem}.txt",
            "text/plain",
            f"{prefix}_w2v",
            disabled=too_big,
        )
        download(
            "History .npz",
            lambda: export.history_npz(history()) if history else b"",
            "history.npz",
            "application/octet-stream",
            f"{prefix}_npz",
            disabled=history is None,
        )
