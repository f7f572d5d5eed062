"""One step in slow motion: a kept step re-taken from its start, one stage at a time, with the run's own numbers."""

import streamlit as st

import ui.page
from core import slow_motion as sm
from core.arithmetic import state_only_moves
from ui import display, session
from ui.figures import slow_motion as figures
from ui.widgets.controls import row_label, step_or_prompt
from ui.widgets.slow_motion import replayed

DECAY_STEPS = 20

ui.page.setup("slow_motion", "One step in slow motion: lookup, loss, backward, the optimizer's step")
tr = session.trainer()
cfg, vocab = tr.cfg, tr.vocab
steps = sm.replayable_steps(tr.history.steps, cfg)
if tr.step_count and not steps:
    st.info(f"Re-taking a step replays the run from step 0: at this size, only steps up to {sm.replay_limit(cfg)}.")
    st.stop()
step = step_or_prompt(steps, "slow_step")
rec = tr.history.at(step)
batch_rows = list(dict.fromkeys(int(r) for r in rec.input_ids))
others = [r for r in range(min(cfg.vocab_size, 200)) if r not in batch_rows][:20]  # rows the batch did not look up
c1, c2 = st.columns(2)
row = c1.selectbox("Row", batch_rows + others, format_func=lambda r: row_label(r, vocab[r]), key="slow_row")
first_use = [int(b) for b, r in enumerate(rec.input_ids) if r == row][:1] or [0]  # the row's first position
position = int(c2.number_input(sm.position_label(cfg), 0, len(rec.input_ids) - 1, first_use[0], key="slow_position"))
again = replayed(cfg, step, row)  # re-trained from step 0, charged to the server's memory
stages = sm.stages(cfg, again.weight, again.head, rec.input_ids, rec.target_ids, position, row, rec.negative_ids,
                   again.model)  # fmt: skip

st.subheader("1. Lookup: W[x]")
st.dataframe(figures.lookup_table(stages, vocab), hide_index=True)
st.caption(sm.lookup_caption(stages, cfg))
st.subheader("2. Forward and loss")
display.chart(figures.score_bars(stages, vocab))
st.caption(sm.forward_caption(stages, rec.loss, display.md_escape(vocab[rec.target_ids[position]])))
st.subheader(sm.backward_heading(cfg))
st.dataframe(figures.parts_table(stages), hide_index=True)
st.caption(sm.backward_caption(stages, rec, cfg, display.md_escape(vocab[row])))

st.subheader(f"4. The optimizer's step for row {row}: {cfg.optimizer}")
move = sm.optimizer_step(cfg, again)
recorded = again.w_after - again.weight[row]
st.dataframe(figures.rule_table(move, recorded), hide_index=True)
st.caption(sm.step_caption(move, recorded, row in batch_rows))
with st.expander("Every coordinate"):
    st.dataframe(figures.by_coordinate(move, recorded), hide_index=True)
st.dataframe(figures.state_table(move), hide_index=True)
later = [r for r in tr.history if step < r.step <= step + DECAY_STEPS]
projected = state_only_moves(cfg, move, DECAY_STEPS)
display.chart(
    figures.decay_chart(step, projected, [r.step for r in later], [float(r.state_update_norm[row]) for r in later])
)
st.caption(sm.decay_caption(projected, cfg))
