"""A measurement the Scale page trains in chunks (the dimension sweep, the family of models): Measure (charged to
the server), Stop, Continue, a progress bar and its results. It trains a chunk per tick of the panel's fragment, in
the session's turn of the fair slot, and only while its page is shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from ui import display, session, training

TICK_SECONDS = 0.4  # one chunk per tick of the fragment ...
CHUNK_SECONDS = 0.25  # ... of about this long, so the server runs other sessions' work in between


@dataclass(frozen=True)
class Controls:
    """One measurement's panel: its widget keys' prefix ({prefix}_measure, _stop, _resume; a refusal kept under
    {prefix}_busy), Measure's callback, and the texts and results drawn from the measurement held."""

    prefix: str
    start: Callable[[], None]
    progress: Callable[[Any], str]
    resume: Callable[[Any], str]
    results: Callable[[Any], None]


def _panel(held_now: Callable[[], Any], controls: Controls, page_title: str, ticking: bool) -> None:
    held, key = held_now(), controls.prefix
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
        st.progress(held.done_steps / held.total_steps, text=controls.progress(held))
        st.button("Stop", key=f"{key}_stop", on_click=held.stop)
    else:
        if busy := session.pop(f"{key}_busy"):
            st.error(display.md_escape(busy), icon=":material/memory:")
        c1, c2 = st.columns([1, 4])
        c1.button("Measure", key=f"{key}_measure", type="primary", on_click=controls.start)
        if held is not None and held.stopped and not held.done:
            c2.button(controls.resume(held), key=f"{key}_resume", on_click=held.resume)
    if held is not None and held.results:
        controls.results(held)


def panel(held_now: Callable[[], Any], controls: Controls) -> None:
    """The controls, progress and results of the measurement `held_now()` returns (None: none yet, or planned for
    other settings); its fragment's timer runs only while it trains."""
    held = held_now()
    ticking = held is not None and held.running
    st.fragment(_panel, run_every=TICK_SECONDS if ticking else None)(held_now, controls, session.page(), ticking)
