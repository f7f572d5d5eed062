"""Embedding space: the table's rows laid out in 2-D or 3-D (PCA, UMAP) over the kept frames."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core import knn_category_purity, nearest_neighbours
from core.metrics import chance_purity
from core.projection import ProjectionError, Projector, umap_is_warm
from ui import analysis, classroom, projector, space_figures, state
from ui.text import md_escape

MAX_POINTS = 2000  # rows sent to the browser per frame
PURITY_ROWS = 3000  # rows the purity curve measures on a big vocabulary
PICKABLE = 200  # the most frequent tokens offered for trails and neighbours

ui.setup("Embedding space")
st.title("Embedding space: do similar tokens end up close?")
classroom.look_for("embedding_space")
ss, tr = st.session_state, state.trainer()
cfg, vocab, V = tr.cfg, tr.vocab, tr.cfg.vocab_size
frames = tr.frames()
steps = [s for s, _ in frames]

c1, c2, c3 = st.columns([1.2, 0.8, 3])
method = c1.radio("Layout", ("PCA", "UMAP"), horizontal=True, key="space_method")
n_components = 3 if c2.toggle("3D", key="space_3d") else 2
chosen = c3.select_slider("Step for neighbours", steps, value=steps[-1], key="space_step") if len(steps) > 1 else 0
used = method
if method == "UMAP" and not umap_is_warm():
    st.info("UMAP is warming up (numba compiles once per server, about a minute). Showing PCA meanwhile.")
    used = "PCA"
projectors = ss.cache.setdefault("projectors", {})  # per run: dropped with it, never growing across runs
layout_maker = projectors.setdefault((used, n_components, cfg.seed), Projector(used.lower(), n_components, cfg.seed))
try:
    with st.spinner(f"Laying out {len(frames)} frames with {used}…"):
        coords = layout_maker.layouts([w for _, w in frames])
except ProjectionError as error:
    st.error(md_escape(error))
    st.stop()
for note in layout_maker.notes:
    st.caption(note)
coords = analysis.same_spread(coords)  # shape over size: every frame fills the same axes

placed = np.isfinite(coords).all(axis=(0, 2))  # (V,) rows the layout placed (UMAP: a sample on a big vocabulary)
laid_out = None if placed.all() else np.flatnonzero(placed)
by_use = np.argsort(-tr.corpus.token_freq, kind="stable")
frequent = [int(r) for r in by_use[placed[by_use]][:PICKABLE]]
if "space_trail" in ss:  # a token the layout no longer places (UMAP's sample) cannot stay chosen
    ss.space_trail = [r for r in ss.space_trail if r in frequent]
trail = st.multiselect(
    "Trails for", frequent, format_func=vocab.__getitem__, max_selections=5, key="space_trail",
    help="Each chosen token's path over the kept frames, in its own colour, its word at the head.",
)  # fmt: skip
rows = space_figures.shown_rows(V, MAX_POINTS, laid_out, trail)
where = {int(r): i for i, r in enumerate(rows)}
start = steps.index(chosen) if chosen in steps else len(steps) - 1
shown_cats = tr.categories[rows]
title = space_figures.scatter_title(used, len(rows), V, len(frames), shown_cats)
fig = space_figures.embedding_animation(
    coords[:, rows], steps, [vocab[r] for r in rows], shown_cats, tr.category_names,
    trail_rows=[where[r] for r in trail if r in where], start=start, title=title,
)  # fmt: skip
projector.chart(fig)
every = f"a frame every {tr.snapshots.stride} steps" if tr.snapshots.stride > 1 else "a frame every step"
n_frames = f"{len(frames)} frame{'s' if len(frames) > 1 else ''}"
notes = [f"Press Play to watch steps {steps[0]}–{steps[-1]} ({n_frames}, {every})."]
if len(rows) < V:
    among = "" if laid_out is None else f" among the {len(laid_out):,} the layout placed"
    notes.append(f"Showing {len(rows):,} of {V:,} rows (the trails' rows and evenly spaced others{among}).")
if len(rows) <= space_figures.MAX_TEXT_LABELS:
    notes.append("Each point is labelled with its token.")
else:
    notes.append("Hover a point to see its token.")
if not (shown_cats >= 0).any():
    notes.append("These tokens have no categories (your own text has none), so every point is grey.")
if trail:
    notes.append(f"{len(trail)} trail{'s' if len(trail) > 1 else ''}: each row's path up to the frame shown.")
st.caption(" ".join(notes))

left, right = st.columns(2)
with left:
    most_used = [int(r) for r in by_use[:PICKABLE]]  # any row: neighbours need no layout
    token = st.selectbox("Nearest neighbours of", most_used, format_func=vocab.__getitem__, key="space_token")
    at_step, weight = analysis.frame_before(frames, chosen)
    nn_rows, sims = nearest_neighbours(weight, token, k=8)
    names = ["—" if c < 0 else tr.category_names[c] for c in tr.categories[nn_rows]]
    st.dataframe(pd.DataFrame({"token": [vocab[r] for r in nn_rows], "category": names, "cosine": sims.round(3)}),
                 hide_index=True)  # fmt: skip
    st.caption(f"The {len(nn_rows)} cosine-nearest rows to '{md_escape(vocab[token])}' at step {at_step}.")
with right:
    pick = analysis.sample_rows(V, PURITY_ROWS)
    picked_cats = tr.categories[pick]
    if (picked_cats >= 0).sum() < 2:
        st.info("These tokens have no categories (your own text has none), so there is no purity to measure.")
    else:

        def purity(step: int, weight: np.ndarray) -> float:
            return state.cached("purity", step, lambda: knn_category_purity(weight[pick], picked_cats, k=5))

        values = np.array([purity(s, w) for s, w in frames])
        chance = chance_purity(picked_cats)
        projector.chart(space_figures.purity_curve(np.array(steps), values, chance, chosen))
        measured = f"{len(pick):,} evenly spaced rows" if len(pick) < V else "every row"
        st.caption(
            f"At step {steps[-1]}, {values[-1]:.0%} of a categorised row's 5 cosine-nearest categorised rows share "
            f"its category; a random table would score {chance:.0%} (chance). Measured on {measured} "
            f"({int((picked_cats >= 0).sum()):,} with a category)."
        )
