"""Gradient masks: which rows got a gradient this step, what it is, and how a repeated token's adds up."""

import numpy as np
import streamlit as st

import ui
from ui import analysis, figures, state
from ui.controls import row_label, step_or_prompt

ui.setup("Gradient masks")
st.title("Gradient masks: only looked-up rows get a gradient")
tr = state.trainer()
cfg, vocab = tr.cfg, tr.vocab
chosen = step_or_prompt(tr.history.steps, "masks_step")
rec = tr.history.at(chosen)
V = cfg.vocab_size

n_grad, n_used = int(rec.grad_mask.sum()), int((rec.token_counts > 0).sum())
rows = analysis.sample_rows(V, keep=np.flatnonzero(rec.token_counts > 0))
labels = [row_label(r, vocab[r]) for r in rows]
padding = rows == cfg.padding_idx
title = f"Step {chosen}: {n_grad:,} of {V:,} rows got a gradient"
st.plotly_chart(figures.grad_mask_bars(rows, labels, rec.token_counts[rows], rec.grad_mask[rows], padding, title))
if cfg.tie_weights:
    note = " The head is tied to this table, so every row also gets a gradient through the output layer."
else:
    note = f" The other {V - n_grad:,} rows have a gradient of exactly zero."
sampled = "" if len(rows) == V else f" Showing {len(rows)} of {V:,} rows (every looked-up row, plus a sample)."
st.caption(f"{len(rec.input_ids)} lookups of {n_used} distinct tokens.{note}{sampled}")

left, right = st.columns(2)
grad_rows, grads = analysis.row_gradients(rec.input_ids, rec.output_grad, cfg.padding_idx)
by_count = np.argsort(-rec.token_counts[grad_rows], kind="stable")[:40]
with left:
    shown = grad_rows[by_count]
    fig = figures.gradient_heatmap(grads[by_count], [row_label(r, vocab[r]) for r in shown], "Touched rows' gradients")
    st.plotly_chart(fig)
    part = "the lookup's part of " if cfg.tie_weights else ""
    more = f" (the {len(shown)} most used of {len(grad_rows)})" if len(shown) < len(grad_rows) else ""
    st.caption(f"Rows × dimensions: {part}the gradient of each looked-up row{more}, most used first.")
with right:
    options = [int(r) for r in grad_rows[by_count]]
    token = st.selectbox(
        "Token", options, format_func=lambda r: f"{vocab[r]} (×{rec.token_counts[r]})", key="masks_token"
    )
    positions, contribs = analysis.contributions(rec.input_ids, rec.output_grad, token)
    st.plotly_chart(figures.contributions_heatmap(contribs, positions, vocab[token]))
    total = float(np.linalg.norm(contribs.sum(axis=0)))
    st.caption(f"Norm of the sum: {total:.3g}; the trainer's gradient norm for this row: {rec.grad_norm[token]:.3g}.")

if rec.head_grad_norm is None:
    st.info("The head is tied (the table is the output layer), so there is no separate head gradient to compare.")
else:
    n_head = int((rec.head_grad_norm > 0).sum())
    title = "Embedding gradient vs the untied head's gradient, per row"
    fig = figures.grad_norm_contrast(rows, labels, rec.grad_norm[rows], rec.head_grad_norm[rows], title)
    st.plotly_chart(fig)
    st.caption(
        f"The head's gradient reaches {n_head:,} of {V:,} rows (the softmax scores every word); the table's, {n_grad}."
    )
