"""Gradient masks: which rows got a gradient this step, what it is, and how a repeated token's adds up."""

import numpy as np
import streamlit as st

import ui
from ui import analysis, classroom, figures, projector, state
from ui.controls import row_label, step_or_prompt

ui.setup("Gradient masks")
st.title("Gradient masks: which rows get a gradient")
classroom.look_for("gradient_masks")
tr = state.trainer()
cfg, vocab = tr.cfg, tr.vocab
chosen = step_or_prompt(tr.history.steps, "masks_step")
rec = tr.history.at(chosen)
V = cfg.vocab_size

groups = analysis.GradientGroups.of(rec, cfg.padding_idx)
rows = analysis.sample_rows(V, keep=np.flatnonzero(rec.token_counts > 0))
labels = [row_label(r, vocab[r]) for r in rows]
shown_groups = [(key, name, mask[rows]) for key, name, mask in groups.named()]
title = analysis.mask_title(chosen, groups)
projector.chart(figures.grad_mask_bars(rows, labels, rec.token_counts[rows], shown_groups, title))
sampled = analysis.sample_note(rows, V, rec.token_counts > 0, "looked-up")
st.caption(analysis.mask_caption(groups, len(rec.input_ids)) + sampled)

left, right = st.columns(2)
grad_rows, grads = analysis.row_gradients(rec.input_ids, rec.output_grad, cfg.padding_idx)
by_count = np.argsort(-rec.token_counts[grad_rows], kind="stable")[:40]
tied = analysis.is_tied(rec)
with left:
    shown = grad_rows[by_count]
    heading = "The lookup's part, per row" if tied else "Each looked-up row's gradient"
    fig = figures.gradient_heatmap(grads[by_count], [row_label(r, vocab[r]) for r in shown], heading)
    projector.chart(fig)
    part = "the lookup's part of " if tied else ""
    more = f" (the {len(shown)} most used of {len(grad_rows)})" if len(shown) < len(grad_rows) else ""
    pad = " The padding row's is 0: padding_idx drops it." if cfg.padding_idx in shown else ""
    st.caption(f"Rows × dimensions: {part}the gradient of each looked-up row{more}, most used first.{pad}")
with right:
    options = [int(r) for r in shown]
    default = analysis.default_token(shown, vocab, cfg.padding_idx)
    if st.session_state.get("masks_token") not in options:
        st.session_state.pop("masks_token", None)  # a token this step did not look up: back to the default
    token = st.selectbox(
        "Token",
        options,
        index=options.index(default),
        format_func=lambda r: f"{vocab[r]} (×{rec.token_counts[r]})",
        key="masks_token",
    )
    positions, contribs = analysis.contributions(rec.input_ids, rec.output_grad, token)
    story = analysis.contribution_story(rec, token, contribs, cfg.padding_idx)
    projector.chart(figures.contributions_heatmap(contribs, positions, vocab[token], story.sum_row, story.sum_label))
    st.caption(story.caption)

if tied:
    st.info("The head is tied (the table is the output layer), so there is no separate head gradient to compare.")
else:
    n_head = int((rec.head_grad_norm > 0).sum())
    n_grad = int((rec.grad_norm > 0).sum())
    title = "Embedding gradient vs the untied head's gradient, per row"
    panels = (f"embedding table: {n_grad:,} rows", f"output head: {n_head:,} rows")
    fig = figures.grad_norm_contrast(rows, labels, rec.grad_norm[rows], rec.head_grad_norm[rows], title, panels)
    projector.chart(fig)
    st.caption(
        f"The head's gradient reaches {n_head:,} of {V:,} rows (the softmax scores every word); "
        f"the table's, {n_grad:,}" + (", all of them looked up." if not groups.grad_not_looked_up.any() else ".")
    )
