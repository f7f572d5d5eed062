"""Small widgets shared by pages: the step picker that follows the latest step unless moved back."""

from __future__ import annotations

import streamlit as st

from ui import projector


def step_picker(steps: list[int], key: str, label: str = "Show step") -> int | None:
    """A slider over the kept steps; it stays on the newest step unless the user moved it back.

    The choice is remembered under its own key and written into the slider on every run: a slider whose
    range changes (a new step) is a new widget to Streamlit, which would otherwise start it at its minimum.
    """
    if not steps:
        return None
    ss = st.session_state
    follow_key, chosen_key = key + "_follow", key + "_chosen"
    latest = steps[-1]
    remembered = ss.get(chosen_key)
    following = ss.get(follow_key, True) or remembered is None or not steps[0] <= remembered <= latest
    ss[key] = latest if following else remembered
    if len(steps) == 1:
        return latest
    return st.slider(
        label, steps[0], latest, key=key, help="Any step the history still keeps.",
        on_change=_remember, args=(key, latest),
    )  # fmt: skip


def _remember(key: str, latest: int) -> None:
    """Runs when the user moves the slider, before the rerun: back at the end means follow again."""
    ss = st.session_state
    ss[key + "_chosen"] = ss[key]
    ss[key + "_follow"] = ss[key] >= latest


def step_or_prompt(steps: list[int], key: str, n: int = 1) -> int:
    """The chosen step; before any step, a prompt with a button that takes `n` steps, and the page stops."""
    chosen = step_picker(steps, key)
    if chosen is not None:
        return chosen
    st.info("No step yet: take a few steps on the **Train** page (or press the button).")
    if st.button("Step" if n == 1 else f"Step ×{n}", key=f"{key}_take"):
        projector.train(n)  # with a progress bar when it takes long
        st.rerun()
    st.stop()


def row_label(row: int, token: str) -> str:
    return f"{row} {token}"
