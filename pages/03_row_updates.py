"""Row updates: how far each row moved and why (gradient, optimizer state, weight decay, max_norm), over time."""

import streamlit as st

import ui.page
from core import OPTIMIZERS
from core.captions import SPLIT_EXPLAINED, move_caption, movement_caption, raster_caption, sample_note
from core.rows import (
    move_parts,
    moved_and_used,
    moved_without_gradient,
    raster_rows,
    sample_rows,
    split_rows,
    total_movement,
    update_raster,
)
from ui import display, session
from ui.figures import updates
from ui.widgets import positions
from ui.widgets.controls import row_label, step_or_prompt

ui.page.setup("row_updates", "Row updates: the gradient is not the update")
tr = session.trainer()
cfg, vocab, V = tr.cfg, tr.vocab, tr.cfg.vocab_size
label = OPTIMIZERS[cfg.optimizer].label
chosen = step_or_prompt(tr.history.steps, "updates_step", n=10)
rec, records = tr.history.at(chosen), list(tr.history)

rows = split_rows(rec)
labels = [row_label(r, vocab[r]) for r in rows]
parts = [(key, name, values[rows]) for key, name, values in move_parts(rec, cfg.optimizer)]
display.chart(updates.update_split_bars(rows, labels, parts, f"Step {chosen}: how far each row moved, and why"))
st.caption(move_caption(rec, label, cfg.optimizer, V) + sample_note(rows, V, rec.update_norm > 0, "moved"))
st.caption(SPLIT_EXPLAINED)
positions.step(rec, "move")  # a GPT's second table: its positions

movement = total_movement(records, V)
shown_rows = raster_rows(movement, tr.corpus.token_freq)
matrix, col_steps = update_raster(records, shown_rows)
raster_labels = [row_label(r, vocab[r]) for r in shown_rows]
display.chart(updates.update_raster(matrix, raster_labels, col_steps, "Update norm: rows × steps"))
st.caption(raster_caption(matrix, col_steps, records, len(shown_rows), int((movement > 0).sum()), V))

left, right = display.columns(2)
with left:
    steps, counts = moved_without_gradient(records)
    display.chart(updates.count_curve(steps, counts, "Rows moved without a gradient, per step", "rows"))
    st.caption(f"{label}: {counts.mean():.1f} rows per step on average moved with no gradient of their own.")
with right:
    freq = tr.corpus.token_freq
    plotted = moved_and_used(movement, freq)
    pts = plotted[sample_rows(len(plotted), max_rows=2000)]
    fig = updates.frequency_vs_movement(
        freq[pts], movement[pts], [vocab[r] for r in pts], tr.categories[pts], tr.category_names,
        "Token frequency vs total movement",
    )  # fmt: skip
    display.chart(fig)
    st.caption(movement_caption(movement, freq, len(records), len(pts)))
