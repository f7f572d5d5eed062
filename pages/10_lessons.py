"""Lessons: one click sets up a run that makes one point, and the point is checked on the user's own run."""

import streamlit as st

import ui
from core.presets import PRESETS
from ui import classroom, nav

linked = st.query_params.get("lesson")  # before setup: its settings sync rewrites the query
ui.setup("Lessons")
classroom.open_linked_lesson(linked)
st.title("Lessons: one run, one point")
classroom.look_for("lessons")
classroom.preset_panel("lesson")
preset = PRESETS[st.session_state.lesson_pick]
page = next(p for p in nav.PAGES if p[2] == preset.page)
st.page_link(str(nav.ROOT / page[0]), label=f"Then open {page[1]}", icon=page[3])
if st.session_state.cfg == preset.config():
    st.query_params["lesson"] = preset.key  # the address bar now opens this lesson
    link = classroom.lesson_link(preset.key)
    if link:
        st.caption("A link that starts this lesson on any screen (students then take its steps):")
        st.code(link, language=None)
