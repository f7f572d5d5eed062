"""The one step loop: every step the app takes runs here, one per turn of the server's fair slot: Step ×N
(`train`, `step_row`), Run's `tick`, a link's replay, Compare's `lockstep`, the sweep's chunks (`in_turn`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from core import TrainConfig, TrainingDiverged, replay
from serve import slot
from ui import links, session

LONG_SECONDS = 0.5  # steps expected to take longer than this show a progress bar
BAR_SECONDS = 0.1  # a progress bar is redrawn at most this often


def is_long(cfg: TrainConfig, n_steps: int) -> bool:
    """Whether `n_steps` steps of this config are expected to take long enough to show progress."""
    return replay.expected_seconds(cfg, n_steps) > LONG_SECONDS


def in_turn(work: Callable, *args):
    """`work(*args)` in this session's turn: one at a time across sessions, first come first served."""
    with slot.work_slot():
        return work(*args)


def lockstep(n_steps: int, step: Callable[[], object], label: str | None = None) -> TrainingDiverged | None:
    """`step()` n_steps times, one per turn; with a progress bar (removed when done) when `label` is given.
    Stops at a divergence and returns it."""
    bar = st.progress(0.0, text=label) if label else None
    last = time.perf_counter()
    try:
        for i in range(n_steps):
            in_turn(step)
            if bar is not None and (time.perf_counter() - last > BAR_SECONDS or i + 1 == n_steps):
                bar.progress((i + 1) / n_steps, text=f"{label} {i + 1:,} done")
                last = time.perf_counter()
    except TrainingDiverged as error:
        return error
    finally:
        if bar is not None:
            bar.empty()
    return None


def step(n_steps: int = 1, label: str | None = None) -> None:
    """Train the session's run n steps (a progress bar under `label` when given); a divergence stops Run and its
    message stays for the page's reset (a frozen run raises again on every step)."""
    error = lockstep(n_steps, session.trainer().step, label)
    if error is not None:
        session.step_failed(error.message)


def train(n_steps: int, label: str | None = None) -> None:
    """step(n_steps), with a progress bar (removed when done) when the steps take long."""
    if not is_long(session.cfg(), n_steps):
        step(n_steps)
    elif not session.diverged():
        step(n_steps, label or f"Training {n_steps:,} steps…")


def tick(seconds: float, max_steps: int = 50) -> None:
    """Run/Pause's tick: as many steps as fit in `seconds` (at least one), so big tables stay responsive; a tick
    after the user left the Train page (its fragment's timer outliving it) pauses the run instead of training unseen."""
    if session.page() != session.TRAIN_PAGE:
        session.set_running(False)
    if not session.running():
        return
    start = time.perf_counter()
    for _ in range(max_steps):
        step(1)
        if not session.running() or time.perf_counter() - start > seconds:
            return


def replay_if_asked() -> None:
    """Re-train to the step a link asks for (links.replay_asked), with a progress bar and a Stop button (a click
    stops at the step reached). Called before the sidebar and the page draw anything: no other control shows."""
    target = links.replay_asked()
    if target is None:
        return
    cfg, done = session.cfg(), session.trainer().step_count
    box = st.empty()
    with box.container():
        seconds = replay.expected_seconds(cfg, target - done)
        st.info(
            f"This link shows step {target:,}. Re-training from step 0 with the same settings and seed "
            f"(about {max(1, round(seconds)):,} s), so this screen shows exactly what the link's author saw.",
            icon=":material/replay:",
        )
        bar = st.progress(0.0, text=f"Step {done:,} of {target:,}")
        st.button("Stop here", key="replay_stop", on_click=links.replay_done)
    try:
        replay.replay(
            session.trainer(), target, guard=slot.work_slot,
            progress=lambda done, total: bar.progress(done / total, text=f"Step {done:,} of {total:,}"),
        )  # fmt: skip
    except TrainingDiverged as error:
        session.step_failed(error.message)
    links.replay_done()
    box.empty()


def step_row(tick_seconds: float) -> None:
    """The Train page's row: Step, Step ×10, Step ×100, Run/Pause, Reset and the step count (inside the page's
    fragment, which Run reruns every `tick_seconds`); under it a divergence's message and a reset with a smaller lr."""
    if session.running():
        tick(tick_seconds / 2)
        if not session.running():  # diverged: a full rerun stops the timer
            st.rerun()
    tr = session.trainer()
    asked = session.pop("train_asked")  # Step ×n clicked (its on_click ran before this rerun)
    busy = asked is not None and is_long(tr.cfg, asked)  # long: every button off until it is done
    buttons = st.columns([1, 1.2, 1.3, 1.1, 1.1, 2.2])
    for col, (label, n) in zip(buttons[:3], (("Step", 1), ("Step ×10", 10), ("Step ×100", 100)), strict=True):
        col.button(label, key=f"train_step_{n}", width="stretch", disabled=session.running() or busy,
                   on_click=session.put, args=("train_asked", n))  # fmt: skip
    label = "Pause" if session.running() else "Run"
    buttons[3].button(label, key="train_run", type="primary", width="stretch", on_click=session.toggle_run,
                      disabled=busy)  # fmt: skip
    if buttons[4].button("Reset", key="train_reset", width="stretch", disabled=busy):
        session.reset()
        st.rerun()
    if asked is not None:
        train(asked)  # with a progress bar when it takes long
        links.sync_step()  # the address bar's link now opens this step (a fragment rerun skips sync_url)
        if busy:
            st.rerun()  # the buttons back on (a full rerun: a long action can afford it)
    buttons[5].metric("Step", tr.step_count)
    if session.diverged():
        st.error(session.diverged())
        smaller = tr.cfg.lr / 10
        st.button(f"Reset with learning rate {smaller:g}", key="train_reset_lr", on_click=session.reset_with_lr,
                  args=(smaller,), type="primary")  # fmt: skip
