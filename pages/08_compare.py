"""Optimizers side by side: 2 to 4 optimizers train in lockstep from the same table on the same batches."""

import streamlit as st

import ui.page
from core import captions
from ui import display, session
from ui.figures import compare
from ui.widgets import compare as controls
from ui.widgets.controls import step_picker
from ui.widgets.neighbours import for_members as neighbour_changes

MAX_POINTS = 1000  # rows per PCA panel

ui.page.setup("compare", "Optimizers side by side, on the same batches")
base = session.cfg()
configs = controls.members(base)
run = controls.comparison(configs)
st.caption(captions.compare_intro(base, run.configs))
run = controls.step_buttons(run)
labels = captions.member_labels(run.configs)
who = "optimizer" if len({c.model for c in run.configs}) == 1 else "member"  # members may differ in model
for i, message in run.diverged.items():
    st.error(f"{labels[i]}: {message}")
if run.step_count == 0:
    st.info("Press **Step**: every optimizer then trains on the same batch.")
    st.stop()

all_series, V = run.series(), base.vocab_size
guesses = run.blind_guesses()  # ln V, and negative sampling's (k+1) ln 2 if a member uses it
display.chart(compare.compare_loss(labels, all_series, guesses, same_batches=run.same_batches))
st.caption(captions.compare_loss_caption(labels, all_series, guesses))
half = compare.legends_fit_half(labels)  # side by side, or one above the other where a legend would be cut
left, right = display.columns(2) if half else (st.container(), st.container())
with left:
    display.chart(compare.compare_counts(labels, all_series, half))
    st.caption(captions.compare_counts_caption(labels, all_series, *run.grad_masks_agree(), who))
with right:
    display.chart(compare.compare_moved_without_grad(labels, all_series, half))
    st.caption(captions.compare_moved_caption(labels, all_series))

vocab = run.members[0].vocab
row = st.selectbox("Follow one row", run.frequent_rows(), format_func=vocab.__getitem__, key="compare_row")
trajectories = run.trajectories(row)
display.chart(compare.compare_row_trajectory(labels, trajectories, vocab[row]))
st.caption(captions.compare_row_caption(display.md_escape(vocab[row]), labels, trajectories))

frame_steps = run.frame_steps()
chosen = step_picker(frame_steps, "compare_pca_step", "PCA at step", every=False)  # follows the newest step
pca = session.memo("compare_pca", (tuple(run.configs), chosen), lambda: run.pca(chosen, MAX_POINTS), keep=1)
first = run.members[0]
title = f"PCA of each {who}'s table after step {chosen}"
tokens = [vocab[r] for r in pca.rows]
display.chart(
    compare.scatter_panels(labels, pca.coords, tokens, first.categories[pca.rows], first.category_names, title)
)
st.caption(captions.compare_pca_caption(labels, pca.lengths, len(pca.rows), V, run.configs))
neighbour_changes(run, labels, "compare")
