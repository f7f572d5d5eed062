"""Small widgets shared by pages: the step picker that follows the latest step unless moved back."""

from __future__ import annotations

import streamlit as st


def step_picker(steps: list[int], key: str, label: str = "Show step") -> int | None:
    """A slider over the kept steps; it stays on the newest step unless the user moved it back."""
    if not steps:
        return None
    ss = st.session_state
    follow_key = key + "_follow"
    latest = steps[-1]
    if ss.get(follow_key, True) or ss.get(key) not in range(steps[0], latest + 1):
        ss[key] = latest
    if len(steps) == 1:
        ss[follow_key] = True
        return latest
    return st.slider(
        label, steps[0], latest, key=key, help="Any step the history still keeps.",
        on_change=_set_follow, args=(key, follow_key, latest),
    )  # fmt: skip


def _set_follow(key: str, follow_key: str, latest: int) -> None:
    """Runs when the user moves the slider, before the rerun: back at the end means follow again."""
    st.session_state[follow_key] = st.session_state[key] >= latest


def row_label(row: int, token: str) -> str:
    return f"{row} {token}"
