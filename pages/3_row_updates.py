"""Row updates: how far each row moved and why (gradient, optimizer state, weight decay, max_norm), over time."""

import numpy as np
import streamlit as st

import ui
from core import OPTIMIZERS
from ui import analysis, classroom, figures, projector, state
from ui.controls import row_label, step_or_prompt

ui.setup("Row updates")
st.title("Row updates: the gradient is not the update")
classroom.look_for("row_updates")
tr = state.trainer()
cfg, vocab, V = tr.cfg, tr.vocab, tr.cfg.vocab_size
label = OPTIMIZERS[cfg.optimizer].label
chosen = step_or_prompt(tr.history.steps, "updates_step", n=10)
rec, records = tr.history.at(chosen), list(tr.history)

rows = analysis.split_rows(rec)
labels = [row_label(r, vocab[r]) for r in rows]
parts = [(key, name, values[rows]) for key, name, values in analysis.move_parts(rec, cfg.optimizer)]
title = f"Step {chosen}: how far each row moved, and why"
projector.chart(figures.update_split_bars(rows, labels, parts, title))
shown = analysis.sample_note(rows, V, rec.update_norm > 0, "moved")
st.caption(analysis.move_caption(rec, label, cfg.optimizer, V) + shown)
st.caption(analysis.SPLIT_EXPLAINED)

movement = analysis.total_movement(records, V)
raster_rows = analysis.raster_rows(movement, tr.corpus.token_freq)
matrix, col_steps = analysis.update_raster(records, raster_rows)
fig = figures.update_raster(
    matrix, [row_label(r, vocab[r]) for r in raster_rows], col_steps, "Update norm: rows × steps"
)
projector.chart(fig)
zero = float((matrix == 0).mean()) if matrix.size else 0.0
binned = "" if len(col_steps) == len(records) else f" Columns average {len(records) / len(col_steps):.1f} steps."
n_moved = int((movement > 0).sum())
sampled = "" if len(raster_rows) == V else (
    f" {len(raster_rows)} rows sampled among the {n_moved:,} of {V:,} that moved in these steps."
)  # fmt: skip
span = f"steps {records[0].step}–{records[-1].step}"
st.caption(f"{zero:.0%} of cells are blank: exactly 0, the row did not move that step ({span}).{binned}{sampled}")

left, right = st.columns(2)
with left:
    steps, counts = analysis.moved_without_gradient(records)
    projector.chart(figures.count_curve(steps, counts, "Rows moved without a gradient, per step", "rows"))
    st.caption(f"{label}: {counts.mean():.1f} rows per step on average moved with no gradient of their own.")
with right:
    freq = tr.corpus.token_freq
    plotted = np.flatnonzero((movement > 0) & (freq > 0))
    pts = plotted[analysis.sample_rows(len(plotted), max_rows=2000)]
    fig = figures.frequency_vs_movement(
        freq[pts], movement[pts], [vocab[r] for r in pts], tr.categories[pts], tr.category_names,
        "Token frequency vs total movement",
    )  # fmt: skip
    projector.chart(fig)
    st.caption(analysis.movement_caption(movement, freq, len(records), len(pts)))
