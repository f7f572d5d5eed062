"""Predict, then step: see the next batch, guess how many rows get a gradient and how many move, then step."""

import streamlit as st

import ui.page
from core import captions
from core.predict import Prediction, Tally, breakdown, explain, next_batch, score
from ui import display, session, training
from ui.figures import predict, train

ui.page.setup("predict", "Predict, then step")
tr = session.trainer()
V = tr.cfg.vocab_size


def step_and_score() -> None:
    """The button's callback: step once, and remember what was predicted for that step and the score so far."""
    trainer, grad, moved = session.trainer(), session.get("predict_grad"), session.get("predict_moved")
    before = trainer.step_count
    training.step(1)
    if trainer.step_count == before + 1:
        session.put("predict_last", Prediction(session.run_id(), trainer.step_count, grad, moved))
        result = score(trainer.history[-1], grad, moved)
        session.put("predict_tally", session.get("predict_tally", Tally()).add(result))


last = session.get("predict_last")
rec = tr.history.at(last.step) if last and last.run_id == session.run_id() else None  # not after a reset
if rec is not None:
    result, exp = score(rec, last.grad, last.moved), explain(rec)
    heading, metrics = captions.predict_result(rec.step, result, session.get("predict_tally"))
    st.subheader(heading)
    for col, (label, value) in zip(st.columns(3), metrics, strict=True):
        col.metric(label, value)
    counts = breakdown(exp)
    left, right = st.columns([1, 1.8])
    with left:
        st.dataframe(predict.breakdown_table(counts), hide_index=True)
        st.caption(predict.breakdown_caption(counts, result.actual_grad, result.actual_moved))
    with right:
        table, n_rows = predict.reason_table(exp, rec.token_counts, tr.vocab)
        why = {"why": st.column_config.TextColumn(width="large")}
        st.dataframe(table, hide_index=True, height=320, column_config=why)
        st.caption(captions.reasons_caption(len(table), n_rows))

st.subheader(f"Step {tr.step_count + 1}: your prediction")
st.caption(captions.predict_run_caption(tr.cfg))
if session.diverged():
    st.error(session.diverged())
    st.stop()
batch = next_batch(tr)
tokens = [tr.vocab[i] for i in batch.shown]
display.chart(train.batch_token_bars(tokens, batch.counts[batch.shown], captions.next_batch_title(batch)))
c1, c2, c3 = st.columns([1, 1, 1])
c1.number_input("How many rows will get a gradient?", 0, V, 0, key="predict_grad")
c2.number_input("How many rows will move?", 0, V, 0, key="predict_moved")
c3.button("Step and score", key="predict_step", type="primary", on_click=step_and_score)
