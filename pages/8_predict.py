"""Predict, then step: see the next batch, guess how many rows get a gradient and how many move, then step."""

import numpy as np
import streamlit as st

import ui
from core import OPTIMIZERS
from core.quiz import breakdown, explain, peek_batch, score
from ui import classroom, figures, projector, state

ui.setup("Predict, then step")
st.title("Predict, then step")
classroom.look_for("predict")
ss, tr = st.session_state, state.trainer()
cfg, V = tr.cfg, tr.cfg.vocab_size


def step_and_score() -> None:
    """The button's callback: step once, and remember what was predicted for that step."""
    trainer = state.trainer()
    before = trainer.step_count
    state.step(1)
    if trainer.step_count == before + 1:
        ss.predict_last = {
            "run": ss.run_id,
            "step": trainer.step_count,
            "grad": ss.predict_grad,
            "moved": ss.predict_moved,
        }
        points = score(trainer.history[-1], ss.predict_grad, ss.predict_moved).points
        tally = ss.setdefault("predict_tally", [0, 0])
        tally[0], tally[1] = tally[0] + points, tally[1] + 2


last = ss.get("predict_last")
rec = tr.history.at(last["step"]) if last and last["run"] == ss.run_id else None  # not after a reset
if rec is not None:
    result = score(rec, last["grad"], last["moved"])
    exp = explain(rec)
    st.subheader(f"Step {rec.step}: {result.points} of 2 right")
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Rows with a gradient (you said {result.predicted_grad})", result.actual_grad)
    c2.metric(f"Rows that moved (you said {result.predicted_moved})", result.actual_moved)
    c3.metric("Score so far", f"{ss.predict_tally[0]} of {ss.predict_tally[1]}")
    counts = breakdown(exp)
    left, right = st.columns([1, 1.8])
    with left:
        st.dataframe(classroom.breakdown_table(counts), hide_index=True)
        st.caption(classroom.breakdown_caption(counts, result.actual_grad, result.actual_moved))
    with right:
        table, n_rows = classroom.reason_table(exp, rec.token_counts, tr.vocab)
        st.dataframe(
            table, hide_index=True, height=320, column_config={"why": st.column_config.TextColumn(width="large")}
        )
        more = f" Showing {len(table):,} of {n_rows:,}." if len(table) < n_rows else ""
        st.caption(f"Every row that was looked up, got a gradient or moved, and why; the surprises first.{more}")

label = OPTIMIZERS[cfg.optimizer].label
extras = [f"momentum {cfg.momentum:g}"] if cfg.momentum else []
extras += [f"weight decay {cfg.weight_decay:g}"] if cfg.weight_decay else ["no weight decay"]
extras += ["tied head" if cfg.tie_weights else "untied head"]
extras += [f"padding_idx {cfg.padding_idx}"] if cfg.padding_idx is not None else []
extras += [f"max_norm {cfg.max_norm:g}"] if cfg.max_norm is not None else []
st.subheader(f"Step {tr.step_count + 1}: your prediction")
st.caption(f"This run: {label}, lr {cfg.lr:g}, {', '.join(extras)}; a {V:,}-row table. Change it in the sidebar.")
if ss.diverged:
    st.error(ss.diverged)
    st.stop()
centres, _ = peek_batch(tr)
counts = np.bincount(centres, minlength=V)
order = np.argsort(-counts, kind="stable")[:30]
order = order[counts[order] > 0]
title = f"The next batch: {len(centres)} lookups of {int((counts > 0).sum())} distinct tokens ({len(order)} shown)"
projector.chart(figures.batch_token_bars([tr.vocab[i] for i in order], counts[order], title))
c1, c2, c3 = st.columns([1, 1, 1])
c1.number_input("How many rows will get a gradient?", 0, V, 0, key="predict_grad")
c2.number_input("How many rows will move?", 0, V, 0, key="predict_moved")
c3.button("Step and score", key="predict_step", type="primary", on_click=step_and_score)
