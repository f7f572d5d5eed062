"""Lessons: one click sets up a run that makes one point, and the point is checked on the user's own run."""

import streamlit as st

import ui.page
from core.lessons import LESSONS
from ui import nav, session
from ui.widgets import lessons

linked = st.query_params.get("lesson")  # before setup: its settings sync rewrites the query
ui.page.setup("lessons", "Lessons: one run, one point")
lessons.open_linked_lesson(linked)
lessons.lesson_panel()
lesson = LESSONS[session.get("lesson_pick")]
then = nav.by_url(lesson.page)
st.page_link(str(nav.ROOT / then.file), label=f"Then open {then.title}", icon=then.icon)
if session.cfg() == lesson.config():
    st.query_params["lesson"] = lesson.key  # the address bar now opens this lesson
    link = lessons.lesson_link(lesson.key)
    if link:
        st.caption("A link that starts this lesson on any screen (students then take its steps):")
        st.code(link, language=None)
