"""The Scale page's family-of-models panel: Measure (charged to the server), Stop, Continue, progress and results;
it trains a chunk per tick of the panel's fragment, in the session's turn of the fair slot, only while the page
is shown."""

from __future__ import annotations

import streamlit as st

from core import ConfigError, TrainConfig, captions, family
from serve import memory
from ui import display, session, training
from ui.figures import scale

TICK_SECONDS = 0.4  # one chunk per tick of the fragment ...
CHUNK_SECONDS = 0.25  # ... of about this long, so the server runs other sessions' work in between
CACHE = "family"  # its key in the run's cache (session.run_cache)


def _start(plan: family.FamilyPlan) -> None:
    """Measure: a new family, charged to the server's memory budget, or the reason it is refused."""
    try:
        session.run_cache()[CACHE] = family.start(plan, lambda n_bytes: memory.admit_extra("family", n_bytes))
    except memory.ServerBusy as busy:
        session.put("scale_family_busy", busy.message)


def _results(held: family.Family) -> None:
    if warning := captions.family_diverged(held):
        st.warning(warning)
    results = [r for r in held.results if not r.diverged]
    if not results:
        return
    models, labels = [r.member.model for r in results], [r.member.label for r in results]
    params = [r.params for r in results]
    charts = [("loss", [r.held_out_loss for r in results])]
    if held.plan.has_categories:
        charts.append(("purity", [r.purity for r in results]))
    for column, (what, values) in zip(display.columns(len(charts)), charts, strict=True):
        with column:
            display.chart(scale.family(models, labels, params, values, what))
    st.caption(captions.family_caption(held))


def _panel(plan: family.FamilyPlan, page_title: str, ticking: bool) -> None:
    held = family.held_for(session.run_cache().get(CACHE), plan)
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
        st.progress(held.done_steps / held.total_steps, text=captions.family_progress(held))
        st.button("Stop", key="scale_family_stop", on_click=held.stop)
    else:
        if busy := session.pop("scale_family_busy"):
            st.error(display.md_escape(busy), icon=":material/memory:")
        c1, c2 = st.columns([1, 4])
        c1.button("Measure", key="scale_family_measure", type="primary", on_click=_start, args=(plan,))
        if held is not None and held.stopped and not held.done:
            c2.button(captions.family_resume(held), key="scale_family_resume", on_click=held.resume)
    if held is not None and held.results:
        _results(held)


def section(cfg: TrainConfig) -> None:
    """The whole measurement for the sidebar's corpus: what it trains, what it does not show, the panel."""
    if cfg.vocab_size > family.MAX_VOCAB:
        st.info(captions.family_vocab_limit(family.MAX_VOCAB))
        return
    try:  # a 5,000,000-character text is split once per run, not on every rerun
        plan = session.memo("family_plan", cfg, lambda: family.plan_family(cfg), keep=1)
    except ConfigError as error:
        st.info(captions.family_too_short(error.message))
        return
    if not plan.fits:
        st.warning(captions.family_unfit(plan))
        return
    st.write(captions.family_intro(plan))
    if shrunk := captions.family_shrunk(plan):
        st.info(shrunk)
    st.caption(captions.family_held_out(plan))
    if not plan.has_categories:
        st.caption(captions.family_no_categories())
    panel(plan)
    st.caption(captions.family_limits(plan))


def panel(plan: family.FamilyPlan) -> None:
    """The family's controls, progress and results; it trains only while this page is the page shown."""
    held = family.held_for(session.run_cache().get(CACHE), plan)
    ticking = held is not None and held.running  # the fragment's timer runs only while a family trains
    st.fragment(_panel, run_every=TICK_SECONDS if ticking else None)(plan, session.page(), ticking)
