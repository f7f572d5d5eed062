"""The Scale page's dimension sweep panel: Measure (charged to the server), Stop, Continue, progress and results;
it trains a chunk per tick of the panel's fragment, in the session's turn of the fair slot."""

from __future__ import annotations

import streamlit as st

from core import captions, sweep
from serve import memory
from ui import display, session, training
from ui.figures import scale

TICK_SECONDS = 0.4  # one chunk per tick of the fragment ...
CHUNK_SECONDS = 0.25  # ... of about this long, so the server runs other sessions' work in between


def _start(plan: sweep.SweepPlan) -> None:
    """Measure: a new sweep, charged to the server's memory budget, or the reason it is refused."""
    try:
        session.run_cache()["sweep"] = sweep.start(plan, lambda n_bytes: memory.admit_extra("sweep", n_bytes))
    except memory.ServerBusy as busy:
        session.put("scale_busy", busy.message)


def _results(held: sweep.DimensionSweep) -> None:
    if warning := captions.sweep_diverged(held):
        st.warning(warning)
    if results := [r for r in held.results if not r.diverged]:
        losses, purities = [r.final_loss for r in results], [r.purity for r in results]
        display.chart(scale.dimension_sweep([r.dim for r in results], losses, purities))
        st.caption(captions.sweep_caption(held))


def _panel(plan: sweep.SweepPlan, page_title: str, ticking: bool) -> None:
    held = sweep.held_for(session.run_cache().get("sweep"), plan)
    running = held is not None and held.running
    if running != ticking:
        st.rerun()  # started or stopped by a button in this fragment: a full rerun (re)sets the timer
    if running:
        if session.page() != page_title:  # the timer outlived its page: never train unseen
            held.stop()
        else:
            training.in_turn(held.advance, CHUNK_SECONDS)  # one chunk per turn: other sessions' Steps in between
        if not held.running:
            st.rerun()  # done: a full rerun stops the timer
        st.progress(held.done_steps / held.total_steps, text=captions.sweep_progress(held))
        st.button("Stop", key="scale_stop", on_click=held.stop)
    else:
        if busy := session.pop("scale_busy"):
            st.error(display.md_escape(busy), icon=":material/memory:")
        c1, c2 = st.columns([1, 4])
        c1.button("Measure", key="scale_measure", type="primary", on_click=_start, args=(plan,))
        if held is not None and held.stopped and not held.done:
            c2.button(captions.sweep_resume(held), key="scale_resume", on_click=held.resume)
    if held is not None and held.results:
        _results(held)


def panel(plan: sweep.SweepPlan) -> None:
    """The sweep's controls, progress and results; it trains only while this page is the page shown."""
    held = sweep.held_for(session.run_cache().get("sweep"), plan)
    ticking = held is not None and held.running  # the fragment's timer runs only while a sweep does
    st.fragment(_panel, run_every=TICK_SECONDS if ticking else None)(plan, session.page(), ticking)
