"""Train: step through training; the loss, this step's batch and the table with this step's rows marked."""

import streamlit as st

import ui.page
from core.captions import batch_title, loss_caption, loss_warning, strip_caption, table_note, train_gradient_sentence
from core.rows import GradientGroups, batch_bar_rows, frame_before, looked_up, loss_series, sample_rows
from ui import display, session, training
from ui.figures import train
from ui.widgets import positions, sidebar
from ui.widgets.controls import row_label, step_picker

TICK_SECONDS = 0.4  # Run reruns only the fragment below this often, stepping for at most half of it
STILL = {"displayModeBar": False}

ui.page.setup("train", "Train: one batch at a time")


@st.fragment(run_every=TICK_SECONDS if session.running() else None)
def train_panel() -> None:
    training.step_row(TICK_SECONDS)
    sidebar.refresh_links()  # the sidebar's "reproduces this run at step N": a fragment rerun skips the sidebar
    tr = session.trainer()
    cfg, records = tr.cfg, tr.history
    # The slider only when asked for: redrawing it costs ~25 ms of browser time on every Step click
    browsing = st.toggle("Go back to an earlier step", key="train_browse", disabled=len(records) < 2)
    chosen = step_picker(records.steps, "train_view_step") if browsing else (records.steps or [None])[-1]
    rec = records.at(chosen) if chosen is not None else None
    used = looked_up(rec, cfg.vocab_size)  # every token of the batch, whether its bar is shown or not
    left, right = display.columns(2)
    if rec is None:
        left.info("No step yet: press **Step**. The table below is the random initialisation.")
    else:
        with left:
            display.chart(train.loss_curve(*loss_series(records), chosen, cfg), config=STILL)  # with ln V dashed
            st.caption(loss_caption(chosen, rec.loss, cfg.vocab_size, cfg))
            losses = [r.loss for r in records if r.step <= chosen]
            warning = loss_warning(losses, cfg.vocab_size, cfg.lr, cfg.init, cfg)
            if warning:
                st.warning(warning, icon=":material/trending_up:")
        with right:
            bars = display.bars(batch_bar_rows(rec.token_counts))  # the 30 most used; on the wall fewer, labelled
            tokens, title = [tr.vocab[i] for i in bars], batch_title(chosen, len(rec.input_ids), len(bars), used.sum())
            display.chart(train.batch_token_bars(tokens, rec.token_counts[bars], title), config=STILL)
            st.caption(train_gradient_sentence(GradientGroups.of(rec, cfg.padding_idx)))
    rows = sample_rows(cfg.vocab_size, keep=used.nonzero()[0])
    if chosen is None or chosen == tr.step_count:
        frame_step, weight = tr.step_count, tr.weight_rows(rows)
    else:
        frame_step, frame = frame_before(tr.snapshots.items(), chosen)
        weight = frame[rows]
    title = f"The table W ({cfg.vocab_size:,} × {cfg.dim:,}) after step {frame_step}; left strip: rows looked up"
    labels = [row_label(r, tr.vocab[r]) for r in rows]
    display.chart(train.weight_heatmap(weight, labels, used[rows], rows == cfg.padding_idx, title), config=STILL)
    note = table_note(len(rows), cfg.vocab_size, chosen, frame_step)
    st.caption(strip_caption(used, cfg.padding_idx, chosen or 0) + note)
    positions.table(tr)  # a GPT's second table: its positions


train_panel()
