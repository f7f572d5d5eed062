"""The one step loop: every step the app takes runs here, one per turn of the server's fair slot: Step ×N
(`train`, `step_row`), Run's `tick`, a link's replay, Compare's `lockstep`, the sweep's chunks (`in_turn`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from core import TrainConfig, TrainingDiverged, replay
from serve import shared, slot
from ui import links, replays, session

LONG_SECONDS = 0.5  # steps expected to take longer than this show a progress bar
BAR_SECONDS = 0.1  # a progress bar is redrawn at most this often
WAIT_BAR_SECONDS = 0.5  # ... and while it waits for a shared replay (30 screens waiting: 60 redraws a second)


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
    stops at the step reached). Called before the sidebar and the page draw anything: no other control shows.
    A link's run is computed once for the server (ui.replays): sessions opening the same link wait for the same
    replay and each gets its own copy; a pasted text's run, or one the server cannot share, replays alone. A session
    opening a shared link builds no step-0 run of its own first (session.awaiting): it adopts its copy."""
    target = links.replay_asked()
    if target is None:
        session.trainer()  # a run awaiting a replay that is not asked for after all (beyond the cap): built now
        return
    cfg = session.cfg()
    joined = replays.join(cfg, target) if session.step_count() == 0 else None
    if joined is not None:
        job, found = joined
        try:
            _wait_for(job, found, cfg, target)
        finally:
            replays.leave(job)
    if session.step_count() < target and session.get("replay_target") is not None and not session.diverged():
        _replay_alone(cfg, target)  # not shared, or the shared one stopped short (its run built at step 0 first)
    session.trainer()  # stopped at step 0 with no copy to take: the run is built now, as every page expects
    links.replay_done()


def _replay_note(cfg: TrainConfig, target: int, job: shared.Job | None, found: str) -> str:
    """What the replay's box says: the step, how long it should take here, and whether it waits for another's."""
    if found == shared.RUNNING and job is not None:
        others = max(0, job.waiters - 1)
        return (
            f"This link shows step {target:,}. Another session on this server is already re-training it from "
            f"step 0 (at step {job.done:,} now): this screen waits for that run (about "
            f"{max(1, round(replays.seconds_left(job, cfg))):,} s more, at its pace so far), then gets its own copy, "
            f"exactly what the link's author saw."
            + (f" {others:,} other screens wait for it too." if others > 1 else "")
        )
    done = session.step_count()
    seconds, measured = replays.estimate(cfg, target - done)
    pace = "at this server's recent pace for this size" if measured else "a first guess: none of this size timed here"
    return (
        f"This link shows step {target:,}. Re-training from step {done:,} with the same settings and seed (about "
        f"{max(1, round(seconds)):,} s, {pace}), so this screen shows exactly what the link's author saw."
    )


def _replay_box(note: str, done: int, target: int):
    box = st.empty()
    with box.container():
        st.info(note, icon=":material/replay:")
        bar = st.progress(done / target, text=f"Step {done:,} of {target:,}")
        st.button("Stop here", key="replay_stop", on_click=_stop_replay, args=(session.cfg(), target))
    return box, bar


def _wait_for(job: shared.Job, found: str, cfg: TrainConfig, target: int) -> None:
    """Wait for the shared replay (its progress in a bar), then take this session's own copy of its run."""
    box = None
    if found != shared.DONE:
        box, bar = _replay_box(_replay_note(cfg, target, job, found), job.done, target)
        shown = None
        while not job.wait(WAIT_BAR_SECONDS):
            if job.done != shown:
                shown = job.done
                left = max(1, round(replays.seconds_left(job, cfg)))
                bar.progress(shown / target, text=f"Step {shown:,} of {target:,} · about {left:,} s left")
    slot.ARRIVALS.wait_turn()  # the screens it freed at once take their copies and draw their pages in turn
    _adopt(replays.copy_of(job), job.error)
    if box is not None:
        box.empty()


def _adopt(trainer, error: BaseException | None) -> None:
    """Make a copy of a shared replay this session's run (the same config its session is charged for)."""
    if trainer is None or trainer.step_count <= session.step_count():
        return
    session.adopt(trainer)
    session.run_cache().clear()  # nothing derived from the step-0 run it replaces may show
    if isinstance(error, TrainingDiverged):
        session.step_failed(error.message)  # the replay diverged: every copy stops where the author's did


def _stop_replay(cfg: TrainConfig, target: int) -> None:
    """Stop here (the button's on_click): this session takes its copy of the shared replay at the step it reached,
    which trains on for the others waiting; its own replay stops where it is."""
    job = replays.find(cfg, target) if session.cfg() == cfg else None
    if job is not None and session.step_count() == 0:
        _adopt(replays.copy_of(job), None)
    links.replay_done()


def _replay_alone(cfg: TrainConfig, target: int) -> None:
    """This session's own replay, step by step in its turns of the work slot."""
    done = session.trainer().step_count
    box, bar = _replay_box(_replay_note(cfg, target, None, shared.NEW), done, target)
    start = time.perf_counter()
    try:
        replay.replay(
            session.trainer(), target, guard=slot.work_slot,
            progress=lambda done, total: bar.progress(done / total, text=f"Step {done:,} of {total:,}"),
        )  # fmt: skip
    except TrainingDiverged as error:
        session.step_failed(error.message)
    steps = session.trainer().step_count - done
    replays.RATE.record(steps * replay.step_cost(cfg), time.perf_counter() - start, replays.kind(cfg))
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
    # One wrapping row, not six columns: each block is one more message to the browser, and the six saved cost a
    # Step click ~1.5-2 ms of server CPU (bench/train_click.py counts them); on a phone the row wraps
    row = st.container(horizontal=True, vertical_alignment="bottom")
    for label, n in (("Step", 1), ("Step ×10", 10), ("Step ×100", 100)):
        row.button(label, key=f"train_step_{n}", width="stretch", disabled=session.running() or busy,
                   on_click=session.put, args=("train_asked", n))  # fmt: skip
    running = session.running()
    # Two keys, not one relabelled button: a click's trigger that Streamlit replays after the full rerun would
    # otherwise reach the button as redrawn (Run again) and undo the Pause (seen in tests/test_browser.py)
    row.button("Pause" if running else "Run", key="train_pause" if running else "train_run", type="primary",
               width="stretch", disabled=busy, on_click=session.set_running_and_rerun, args=(not running,))  # fmt: skip
    if row.button("Reset", key="train_reset", width="stretch", disabled=busy):
        session.reset()
        st.rerun()
    if asked is not None:
        train(asked)  # with a progress bar when it takes long
        links.sync_step()  # the address bar's link now opens this step (a fragment rerun skips sync_url)
        if busy:
            st.rerun()  # the buttons back on (a full rerun: a long action can afford it)
    row.metric("Step", tr.step_count, width="stretch")
    if session.diverged():
        st.error(session.diverged())
        smaller = tr.cfg.lr / 10
        st.button(f"Reset with learning rate {smaller:g}", key="train_reset_lr", on_click=session.reset_with_lr,
                  args=(smaller,), type="primary")  # fmt: skip
