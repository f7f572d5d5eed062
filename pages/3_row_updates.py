"""Row updates: how far each row moved, from its gradient or from optimizer state, over the kept history."""

import numpy as np
import streamlit as st

import ui
from core import OPTIMIZERS
from ui import analysis, figures, state
from ui.controls import row_label, step_or_prompt

ui.setup("Row updates")
st.title("Row updates: the gradient is not the update")
tr = state.trainer()
cfg, vocab, V = tr.cfg, tr.vocab, tr.cfg.vocab_size
label = OPTIMIZERS[cfg.optimizer].label
chosen = step_or_prompt(tr.history.steps, "updates_step", n=10)
rec, records = tr.history.at(chosen), list(tr.history)

moved_no_grad = int((rec.updated_mask & ~rec.grad_mask).sum())
rows = analysis.sample_rows(V, keep=np.flatnonzero(rec.updated_mask & (rec.grad_mask | (rec.update_norm > 0))))
labels = [row_label(r, vocab[r]) for r in rows]
from_grad, from_state, from_renorm = analysis.update_split(
    rec.update_norm[rows], rec.state_update_norm[rows], rec.renorm_norm[rows]
)
title = f"Step {chosen}: how far each row moved, and why"
st.plotly_chart(figures.update_split_bars(rows, labels, from_grad, from_state, title, from_renorm))
st.caption(
    f"{label} moved {int(rec.updated_mask.sum()):,} rows; {moved_no_grad:,} of them got no gradient this step "
    f"(moved by optimizer state alone). {int(rec.grad_mask.sum()):,} rows got a gradient."
    + (f" max_norm rescaled {int((rec.renorm_norm > 0).sum())} rows." if cfg.max_norm is not None else "")
    + ("" if len(rows) == V else f" Showing {len(rows)} of {V:,} rows.")
)

by_freq = np.argsort(-tr.corpus.token_freq, kind="stable")
raster_rows = by_freq[analysis.sample_rows(V)]
matrix, col_steps = analysis.update_raster(records, raster_rows)
fig = figures.update_raster(
    matrix, [row_label(r, vocab[r]) for r in raster_rows], col_steps, "Update norm: rows × steps"
)
st.plotly_chart(fig)
zero = float((matrix == 0).mean()) if matrix.size else 0.0
binned = "" if len(col_steps) == len(records) else f" Columns average {len(records) / len(col_steps):.1f} steps."
sampled = "" if len(raster_rows) == V else f" {len(raster_rows)} of {V:,} rows, sampled."
span = f"steps {records[0].step}–{records[-1].step}"
st.caption(f"{zero:.0%} of cells are blank: exactly 0, the row did not move that step ({span}).{binned}{sampled}")

left, right = st.columns(2)
with left:
    steps, counts = analysis.moved_without_gradient(records)
    st.plotly_chart(figures.count_curve(steps, counts, "Rows moved without a gradient, per step", "rows"))
    st.caption(f"{label}: {counts.mean():.1f} rows per step on average moved with no gradient of their own.")
with right:
    movement = analysis.total_movement(records, V)
    pts = analysis.sample_rows(V, max_rows=2000)
    fig = figures.frequency_vs_movement(
        tr.corpus.token_freq[pts],
        movement[pts],
        [vocab[r] for r in pts],
        tr.categories[pts],
        tr.category_names,
        "Token frequency vs total movement",
    )
    st.plotly_chart(fig)
    st.caption(f"Total movement over the {len(records)} kept steps; frequent tokens get more gradients.")
