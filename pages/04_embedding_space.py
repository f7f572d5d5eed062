"""Embedding space: the table's rows laid out in 2-D or 3-D (PCA, UMAP) over the kept frames."""

import streamlit as st

import ui.page
from core.captions import purity_caption, space_notes
from core.metrics import chance_purity
from core.rows import by_use, frame_before, neighbour_table, placed_rows, purity_series, sample_rows
from ui import display, session
from ui.display import md_escape
from ui.figures import space
from ui.widgets.controls import layout_picker, trail_picker
from ui.widgets.neighbours import for_steps as neighbour_changes
from ui.widgets.upload import on_embedding_space

# Rows sent to the browser per frame; rows the purity curve measures; the most frequent tokens offered to pick
MAX_POINTS, PURITY_ROWS, PICKABLE = 2000, 3000, 200

ui.page.setup("embedding_space", "Embedding space: do similar tokens end up close?")
on_embedding_space()  # an imported table, when one is chosen, is explored instead (and the page stops there)
tr = session.trainer()
cfg, vocab, V, frames = tr.cfg, tr.vocab, tr.cfg.vocab_size, tr.frames()
steps = [s for s, _ in frames]
c1, c2, c3 = st.columns([1.2, 0.8, 3])
chosen = c3.select_slider("Step for neighbours", steps, value=steps[-1], key="space_step") if len(steps) > 1 else 0
used, coords = layout_picker(frames, cfg.seed, (c1, c2))

placed, frequent_first = placed_rows(coords), by_use(tr.corpus.token_freq)  # (V,) placed: UMAP places a sample
laid_out = None if placed.all() else placed.nonzero()[0]
frequent = [int(r) for r in frequent_first[placed[frequent_first]][:PICKABLE]]
trail = trail_picker(frequent, vocab)
rows = space.shown_rows(V, MAX_POINTS, laid_out, trail)
where, shown_cats = {int(r): i for i, r in enumerate(rows)}, tr.categories[rows]
start = steps.index(chosen) if chosen in steps else len(steps) - 1
title = space.scatter_title(used, len(rows), V, len(frames), shown_cats)
display.chart(fig := space.embedding_animation(
    coords[:, rows], steps, [vocab[r] for r in rows], shown_cats, tr.category_names,
    trail_rows=[where[r] for r in trail if r in where], start=start, title=title,
))  # fmt: skip
labelled = "some" if space.labels_thinned(fig) else display.labelled(len(rows), space.MAX_TEXT_LABELS)
st.caption(space_notes(steps, tr.snapshots.stride, len(rows), V, None if laid_out is None else len(laid_out), labelled,
                       (shown_cats >= 0).any(), len(trail)))  # fmt: skip
left, right = display.columns(2)
with left:
    most_used = [int(r) for r in frequent_first[:PICKABLE]]  # any row: neighbours need no layout
    token = st.selectbox("Nearest neighbours of", most_used, format_func=vocab.__getitem__, key="space_token")
    at_step, weight = frame_before(frames, chosen)
    st.dataframe(table := neighbour_table(weight, token, vocab, tr.categories, tr.category_names, k=8), hide_index=True)
    st.caption(f"The {len(table['token'])} cosine-nearest rows to '{md_escape(vocab[token])}' at step {at_step}.")
with right:
    pick = sample_rows(V, PURITY_ROWS)
    picked_cats, n_categorised = tr.categories[pick], int((tr.categories[pick] >= 0).sum())
    if n_categorised < 2:
        st.info("These tokens have no categories (your own text has none), so there is no purity to measure.")
    else:
        curve_steps, values = purity_series(frames, pick, picked_cats, session.run_cache().setdefault("purity", {}))
        chance = chance_purity(picked_cats)
        display.chart(space.purity_curve(curve_steps, values, chance, chosen))
        st.caption(purity_caption(steps[-1], values[-1], chance, len(pick), V, n_categorised))
neighbour_changes(tr, "space")
