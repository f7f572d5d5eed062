"""The One step in slow motion page's replay: charged to the server's memory budget, shown with its cost, kept
for the run (one step and row at a time)."""

from __future__ import annotations

import streamlit as st

from core import replay
from core import slow_motion as sm
from core.config import TrainConfig
from serve import memory
from ui import display, session


def replayed(cfg: TrainConfig, step: int, row: int) -> sm.Replayed:
    """Step `step` re-taken from step 0 for `row`; a second run's memory is charged first (a full server: why)."""
    n, seconds = step - 1, replay.expected_seconds(cfg, step - 1)

    def compute() -> sm.Replayed:
        try:
            memory.admit_extra("slow_motion", sm.replay_bytes(cfg))  # a second copy of the run (a GPT's model too)
        except memory.ServerBusy as refused:
            st.error(display.md_escape(refused.message), icon=":material/memory:")
            st.stop()
        with st.spinner(f"Re-taking step {step} from step 0 ({n:,} steps, about {seconds:.1f} s)…"):
            return sm.replay_step(cfg, step, row)

    return session.memo("slow_motion", (step, row), compute, keep=1)
