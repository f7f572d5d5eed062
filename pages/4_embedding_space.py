"""Embedding space: the table's rows laid out in 2-D or 3-D (PCA, UMAP) over the kept frames."""

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core import knn_category_purity, nearest_neighbours
from core.projection import ProjectionError, Projector, umap_is_warm
from ui import analysis, figures, state

MAX_POINTS = 2000  # rows sent to the browser per frame
PURITY_ROWS = 3000  # rows the purity curve measures on a big vocabulary

ui.setup("Embedding space")
st.title("Embedding space: do similar tokens end up close?")
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
projectors = ss.setdefault("projectors", {})
projector = projectors.setdefault((used, n_components, cfg.seed), Projector(used.lower(), n_components, cfg.seed))
try:
    with st.spinner(f"Laying out {len(frames)} frames with {used}…"):
        coords = projector.layouts([w for _, w in frames])
except ProjectionError as error:
    st.error(str(error))
    st.stop()
for note in projector.notes:
    st.caption(note)
coords = analysis.same_spread(coords)  # shape over size: every frame fills the same axes

categorised = [int(r) for r in np.argsort(-tr.corpus.token_freq, kind="stable")[:200]]
trail = st.multiselect("Trails for", categorised, format_func=vocab.__getitem__, max_selections=5, key="space_trail")
keep = projector.sample_idx if projector.sample_idx is not None else None
rows = analysis.sample_rows(V, MAX_POINTS, keep=np.array(trail, dtype=np.int64))
if keep is not None:
    rows = np.union1d(np.intersect1d(rows, keep), trail)
where = {int(r): i for i, r in enumerate(rows)}
start = steps.index(chosen) if chosen in steps else len(steps) - 1
title = f"{used} of the table's rows at {len(frames)} kept steps, coloured by category"
fig = figures.embedding_animation(
    coords[:, rows], steps, [vocab[r] for r in rows], tr.categories[rows], tr.category_names,
    trail_rows=[where[r] for r in trail], start=start, title=title,
)  # fmt: skip
st.plotly_chart(fig)
shown = "" if len(rows) == V else f" Showing {len(rows):,} of {V:,} rows."
every = f"a frame every {tr.snapshots.stride} steps" if tr.snapshots.stride > 1 else "a frame every step"
st.caption(f"Press Play to watch steps {steps[0]}–{steps[-1]} ({every}).{shown}")

left, right = st.columns(2)
with left:
    token = st.selectbox("Nearest neighbours of", categorised, format_func=vocab.__getitem__, key="space_token")
    _, weight = analysis.frame_before(frames, chosen)
    nn_rows, sims = nearest_neighbours(weight, token, k=8)
    names = ["—" if c < 0 else tr.category_names[c] for c in tr.categories[nn_rows]]
    st.dataframe(pd.DataFrame({"token": [vocab[r] for r in nn_rows], "category": names, "cosine": sims.round(3)}),
                 hide_index=True)  # fmt: skip
    st.caption(f"Cosine-nearest rows to '{vocab[token]}' at step {chosen}.")
with right:
    if tr.categories.max() < 0:
        st.info("Your own text has no categories, so there is no purity to measure.")
    else:
        pick = analysis.sample_rows(V, PURITY_ROWS)

        def purity(step: int, weight: np.ndarray) -> float:
            return state.cached("purity", step, lambda: knn_category_purity(weight[pick], tr.categories[pick], k=5))

        values = np.array([purity(s, w) for s, w in frames])
        chance = 1 / len(tr.category_names)
        st.plotly_chart(figures.purity_curve(np.array(steps), values, chance, chosen))
        st.caption(
            f"At step {steps[-1]}, {values[-1]:.0%} of a row's 5 nearest rows share its category (chance {chance:.0%})."
        )
