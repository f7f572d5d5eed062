"""The Scale page's dimension sweep panel (ui.widgets.chunked): Measure charges the server, then the sweep trains
chunk by chunk; its results."""

from __future__ import annotations

import streamlit as st

from core import captions, sweep
from serve import memory
from ui import display, session
from ui.figures import scale
from ui.widgets import chunked


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


def panel(plan: sweep.SweepPlan) -> None:
    """The sweep's controls, progress and results; it trains only while this page is the page shown."""
    controls = chunked.Controls("scale", lambda: _start(plan), captions.sweep_progress, captions.sweep_resume, _results)
    chunked.panel(lambda: sweep.held_for(session.run_cache().get("sweep"), plan), controls)
