"""Predict, then step: see the next batch, guess how many rows get a gradient, how many move and which, then step."""

import streamlit as st

import ui.page
from core import captions
from core import predict as quiz
from ui import display, session, training
from ui.figures import predict
from ui.widgets.controls import next_batch, row_picker

ui.page.setup("predict", "Predict, then step")
tr = session.trainer()


def step_and_score() -> None:
    """The button's callback: step once, and remember what was predicted for that step and the score so far."""
    trainer, grad, moved = session.trainer(), session.get("predict_grad"), session.get("predict_moved")
    before, picks = trainer.step_count, tuple(session.get("predict_rows") or ())
    training.step(1)
    if trainer.step_count == before + 1:
        session.put("predict_last", quiz.Prediction(session.run_id(), trainer.step_count, grad, moved, picks))
        tally = session.get("predict_tally", quiz.Tally()).add(quiz.score(trainer.history[-1], grad, moved))
        session.put("predict_tally", tally)


last = session.get("predict_last")
rec = tr.history.at(last.step) if last and last.run_id == session.run_id() else None  # not after a reset
if rec is not None:
    result, exp = quiz.score(rec, last.grad, last.moved), quiz.explain(rec)
    heading, metrics = captions.predict_result(rec.step, result, session.get("predict_tally"))
    st.subheader(heading)
    for col, (label, value) in zip(st.columns(3), metrics, strict=True):
        col.metric(label, value)
    if picks := quiz.score_picks(rec, last.picks):  # each picked row: did it move, and why
        st.dataframe(quiz.picks_table(picks, tr.vocab), hide_index=True)
        st.caption(captions.picks_caption(picks))
    counts, (left, right) = quiz.breakdown(exp), display.columns([1, 1.8])
    with left:
        st.dataframe(predict.breakdown_table(counts), hide_index=True)
        st.caption(predict.breakdown_caption(counts, result.actual_grad, result.actual_moved))
    with right:
        table, n_rows = predict.reason_table(exp, rec.token_counts, tr.vocab)
        st.dataframe(table, hide_index=True, height=display.table_height(320), column_config={"why": st.column_config.TextColumn(width="large")})  # noqa: E501  # fmt: skip
        st.caption(captions.reasons_caption(len(table), n_rows))

st.subheader(f"Step {tr.step_count + 1}: your prediction")
st.caption(captions.predict_run_caption(tr.cfg))
if session.diverged():
    st.error(session.diverged())
    st.stop()
batch = next_batch(tr)  # its bars, and negative sampling's head rows
options, label = quiz.pick_options(batch, tr.corpus.token_freq), "Which rows will move? Each pick is scored with why"
row_picker(label, options, tr.vocab, "predict_rows", (session.run_id(), tr.step_count), lambda r: not batch.counts[r])
c1, c2, c3 = st.columns([1, 1, 1])
c1.number_input("How many rows will get a gradient?", 0, tr.cfg.vocab_size, 0, key="predict_grad")
c2.number_input("How many rows will move?", 0, tr.cfg.vocab_size, 0, key="predict_moved")
c3.button("Step and score", key="predict_step", type="primary", on_click=step_and_score)
