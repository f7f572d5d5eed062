"""Gradient masks: which rows got a gradient this step, what it is, and how a repeated token's adds up."""

import streamlit as st

import ui.page
from core import captions
from core.rows import GradientGroups, contributions, default_token, is_tied, most_used, row_gradients, sample_rows
from ui import display, session
from ui.figures import masks
from ui.widgets import positions
from ui.widgets.controls import row_label, step_or_prompt

ui.page.setup("gradient_masks", "Gradient masks: which rows get a gradient")
tr = session.trainer()
cfg, vocab, V = tr.cfg, tr.vocab, tr.cfg.vocab_size
chosen = step_or_prompt(tr.history.steps, "masks_step")
rec = tr.history.at(chosen)

groups = GradientGroups.of(rec, cfg.padding_idx)
rows = sample_rows(V, keep=(rec.token_counts > 0).nonzero()[0])
labels = [row_label(r, vocab[r]) for r in rows]
shown_groups = [(key, name, mask[rows]) for key, name, mask in groups.named()]
display.chart(
    masks.grad_mask_bars(rows, labels, rec.token_counts[rows], shown_groups, captions.mask_title(chosen, groups))
)
sampled = captions.sample_note(rows, V, rec.token_counts > 0, "looked-up")
st.caption(captions.mask_caption(groups, len(rec.input_ids)) + sampled)
positions.step(rec, "gradient")  # a GPT's second table: every position row, every step

left, right = display.columns(2)
grad_rows, grads = row_gradients(rec.input_ids, rec.output_grad, cfg.padding_idx)
by_count, tied = most_used(grad_rows, rec.token_counts, display.rows(40)), is_tied(rec)
shown = grad_rows[by_count]
with left:
    heading = "The lookup's part, per row" if tied else "Each looked-up row's gradient"
    display.chart(masks.gradient_heatmap(grads[by_count], [row_label(r, vocab[r]) for r in shown], heading))
    st.caption(captions.gradient_heatmap_caption(tied, len(shown), len(grad_rows), cfg.padding_idx in shown))
with right:
    options = [int(r) for r in shown]
    if session.get("masks_token") not in options:
        session.pop("masks_token")  # a token this step did not look up: back to the default
    token = st.selectbox(
        "Token", options, index=options.index(default_token(shown, vocab, cfg.padding_idx)),
        format_func=lambda r: f"{vocab[r]} (×{rec.token_counts[r]})", key="masks_token",
    )  # fmt: skip
    names, contribs = contributions(rec.input_ids, rec.output_grad, token, cfg.gpt_context)
    story = captions.contribution_story(rec, token, contribs, cfg.padding_idx)
    display.chart(masks.contributions_heatmap(contribs, names, vocab[token], story.sum_row, story.sum_label))
    st.caption(story.caption)

head = captions.head_view(rec, cfg.padding_idx)
if head is not None:
    head_labels = [row_label(r, vocab[r]) for r in head.rows]
    display.chart(masks.grad_norm_contrast(head.rows, head_labels, head.table[head.rows], head.head[head.rows],
                                           head.title, head.panels, head.y_title))  # fmt: skip
    st.caption(head.caption)
