"""Train: step through training; the loss, this step's batch and the table with this step's rows marked."""

import numpy as np
import streamlit as st

import ui
from ui import analysis, classroom, figures, projector, state
from ui.controls import row_label, step_picker

TICK_SECONDS = 0.4  # Run reruns only the fragment below this often, stepping for at most half of it

ui.setup("Train")
st.title("Train: one batch at a time")
classroom.look_for("train")


@st.fragment(run_every=TICK_SECONDS if st.session_state.running else None)
def training() -> None:
    ss = st.session_state
    if ss.running:
        state.step_for(TICK_SECONDS / 2)
        if not ss.running:  # diverged: a full rerun stops the timer
            st.rerun()
    tr = state.trainer()
    asked = ss.pop("train_asked", None)  # Step ×n clicked (its on_click ran before this rerun)
    busy = asked is not None and projector.is_long(tr.cfg, asked)  # long: every button off until it is done
    buttons = st.columns([1, 1.2, 1.3, 1.1, 1.1, 2.2])
    for col, (label, n) in zip(buttons[:3], (("Step", 1), ("Step ×10", 10), ("Step ×100", 100)), strict=True):
        col.button(label, key=f"train_step_{n}", width="stretch", disabled=ss.running or busy,
                   on_click=_ask_steps, args=(n,))  # fmt: skip
    label = "Pause" if ss.running else "Run"
    buttons[3].button(label, key="train_run", type="primary", width="stretch", on_click=state.toggle_run, disabled=busy)
    if buttons[4].button("Reset", key="train_reset", width="stretch", disabled=busy):
        state.reset()
        st.rerun()
    if asked is not None:
        projector.train(asked)  # with a progress bar when it takes long
        projector.sync_step()  # the address bar's link now opens this step (a fragment rerun skips sync_url)
        if busy:
            st.rerun()  # the buttons back on (a full rerun: a long action can afford it)
    buttons[5].metric("Step", tr.step_count)
    if ss.diverged:
        st.error(ss.diverged)
        smaller = tr.cfg.lr / 10
        st.button(f"Reset with learning rate {smaller:g}", key="train_reset_lr", on_click=state.reset_with_lr,
                  args=(smaller,), type="primary")  # fmt: skip
    records = tr.history
    # The slider only when asked for: redrawing it costs ~25 ms of browser time on every Step click
    browsing = st.toggle("Go back to an earlier step", key="train_browse", disabled=len(records) < 2)
    chosen = step_picker(records.steps, "train_view_step") if browsing else (records.steps or [None])[-1]
    rec = records.at(chosen) if chosen is not None else None
    left, right = st.columns(2)
    with left:
        if rec is None:
            st.info("No step yet: press **Step**. The table below is the random initialisation.")
        else:
            projector.chart(
                figures.loss_curve(np.array(records.steps), np.array([r.loss for r in records]), chosen),
                config={"displayModeBar": False},
            )
            st.caption(f"Step {chosen}: loss {rec.loss:.3f} (ln V = {np.log(tr.cfg.vocab_size):.2f} is a blind guess).")
            upto = [r.loss for r in records if r.step <= chosen]
            warning = analysis.loss_warning(upto, tr.cfg.vocab_size, tr.cfg.lr, tr.cfg.init)
            if warning:
                st.warning(warning, icon=":material/trending_up:")
    with right:
        if rec is not None:
            order = np.argsort(-rec.token_counts, kind="stable")[:30]
            order = order[rec.token_counts[order] > 0]
            title = f"Step {chosen}'s batch: {analysis.count(len(rec.input_ids), 'lookup')} of "
            title += f"{analysis.count(len(order), 'token')} shown"
            projector.chart(
                figures.batch_token_bars([tr.vocab[i] for i in order], rec.token_counts[order], title),
                config={"displayModeBar": False},
            )
            st.caption(analysis.train_gradient_sentence(analysis.GradientGroups.of(rec, tr.cfg.padding_idx)))
    _table(tr, rec, chosen)


def _ask_steps(n: int) -> None:
    st.session_state.train_asked = n


def _table(tr, rec, chosen) -> None:
    used = np.zeros(tr.cfg.vocab_size, bool) if rec is None else rec.token_counts > 0
    rows = analysis.sample_rows(tr.cfg.vocab_size, keep=np.flatnonzero(used))
    if chosen is None or chosen == tr.step_count:
        frame_step, weight = tr.step_count, tr.weight_rows(rows)
    else:
        frame_step, frame = analysis.frame_before(tr.snapshots.items(), chosen)
        weight = frame[rows]
    padding = rows == tr.cfg.padding_idx
    title = f"The table W ({tr.cfg.vocab_size:,} × {tr.cfg.dim:,}) after step {frame_step}; left strip: rows looked up"
    labels = [row_label(r, tr.vocab[r]) for r in rows]
    projector.chart(
        figures.weight_heatmap(weight, labels, used[rows], padding, title), config={"displayModeBar": False}
    )
    note = "" if len(rows) == tr.cfg.vocab_size else f" Showing {len(rows)} of {tr.cfg.vocab_size:,} rows (sampled)."
    if chosen is not None and frame_step != chosen:
        note += f" Weights are from step {frame_step}, the nearest kept snapshot before step {chosen}."
    st.caption(analysis.strip_caption(used, tr.cfg.padding_idx, chosen or 0) + note)


training()
