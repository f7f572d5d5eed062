"""The lesson widgets: pick a lesson, start its run (from the Lessons page or a ?lesson= link), take its steps,
and see whether its point holds on this very run. Keys lesson_*; the run changes only through ui.session."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from core.lessons import LESSONS, check
from ui import session, training


def load_lesson(key: str) -> None:
    """Start a fresh run with a lesson's settings (a callback); refused, the current run is kept (session.busy)."""
    session.load_settings(LESSONS[key].config())


def open_linked_lesson(linked: str | None) -> None:
    """Start a link's ?lesson=<key> once; `linked` is read before ui.page.setup, whose settings sync rewrites it."""
    if linked in LESSONS and session.get("lesson_linked") != linked:
        session.put("lesson_linked", linked)
        session.put("lesson_pick", linked)
        load_lesson(linked)
        st.rerun()


def lesson_link(key: str) -> str | None:
    """This page's address with ?lesson=<key>: opening it starts the lesson (None when the address is unknown)."""
    url = st.context.url
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode({"lesson": key}), ""))


def lesson_panel() -> None:
    """Pick a lesson, start it, and see (once trained) whether its point holds on this very run."""
    key = st.selectbox("Lesson", list(LESSONS), format_func=lambda k: LESSONS[k].name, key="lesson_pick")
    lesson = LESSONS[key]
    st.markdown(f"**The point:** {lesson.point}")
    st.markdown(f"**Look for:** {lesson.look_for}")
    asked = session.pop("lesson_asked")  # "Take the N steps left" clicked (its on_click ran)
    left, right = st.columns(2)
    left.button(
        f"Start this lesson (then take {lesson.steps} steps)", key="lesson_load", on_click=load_lesson, args=(key,),
        type="primary", disabled=asked is not None,
    )  # fmt: skip
    if refused := session.busy("lesson"):
        st.error(refused, icon=":material/memory:")
    tr = session.trainer()
    active = tr.cfg == lesson.config()
    if active and tr.step_count < lesson.steps:
        left_to_take = lesson.steps - tr.step_count
        right.button(
            f"Take the {left_to_take} steps left", key="lesson_steps", disabled=asked is not None,
            on_click=session.put, args=("lesson_asked", left_to_take),
        )  # fmt: skip
    if asked is not None:
        with right:
            training.train(asked, f"Training the lesson's {asked} steps…")  # a progress bar when it takes long
        st.rerun()  # the buttons back on, and the verdict on the trained run
    if not active:
        st.caption("The current run has other settings; start the lesson to check its point on your run.")
        return
    records = list(tr.history)
    verdict = check(lesson, records, tr.weight if lesson.key == "max_norm" else None)
    if not records:
        st.info("Lesson started: take its steps, then its point is checked on your run.")
    elif verdict.holds:
        st.success(f"On your run: {verdict.evidence}")
    else:
        st.warning(f"Not (yet) on your run: {verdict.evidence}")
    if records:
        st.caption(
            f"Loss (mean of the last steps) {verdict.recent_loss:.3f}; {verdict.blind_name}, a blind guess: "
            f"{verdict.blind_guess:.3f}."
        )
