"""The Scale page's family-of-models section: what it trains and does not show, and its panel (ui.widgets.chunked):
Measure charges the server, then the family trains chunk by chunk; its results."""

from __future__ import annotations

import streamlit as st

from core import ConfigError, TrainConfig, captions, family
from serve import memory
from ui import display, session
from ui.figures import scale
from ui.widgets import chunked

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
    controls = chunked.Controls(
        "scale_family", lambda: _start(plan), captions.family_progress, captions.family_resume, _results
    )
    chunked.panel(lambda: family.held_for(session.run_cache().get(CACHE), plan), controls)
