"""Lessons: the guided lessons in lessons/, each opened on the Train page with its panel beside the
live view, and a link a teacher can hand out. Thin: the files are read and checked by genlab.lessons.
"""
from __future__ import annotations

import streamlit as st

from pages.shared import use_app_navigation
from pages.train_share import OPEN_LESSON_KEY, link_to, shipped_lessons

use_app_navigation()
if OPEN_LESSON_KEY in st.session_state:  # a lesson's button was pressed: the Train page opens it
    st.switch_page("pages/train.py")


def open_lesson(lesson_id: str) -> None:
    st.session_state[OPEN_LESSON_KEY] = lesson_id


st.title("Lessons")
st.markdown("Short guided experiments. Each opens on the **Train** page with its setup loaded and a panel "
            "beside the live view; a step ticks by itself when the run shows what it is about.")
lessons, errors = shipped_lessons()
for error in errors:
    st.error(f"A lesson file could not be loaded: {error}", icon=":material/error:")
for lesson in lessons.values():
    with st.container(border=True):
        st.subheader(lesson.title)
        st.markdown(lesson.goal)
        steps = f"{len(lesson.steps)} steps" + (" and a challenge" if lesson.challenge else "")
        st.caption(f"{steps} · {lesson.setup['family'].upper()} on {lesson.setup['dataset']}")
        left, right = st.columns([1, 3])
        left.button("Open on the Train page", key=f"open.{lesson.id}", type="primary", on_click=open_lesson,
                    args=(lesson.id,))
        right.code(link_to({"lesson": lesson.id}), language=None)
st.caption("Teachers: hand out a lesson's link above; on the Train page, \"Share · teach · hand in\" makes a link "
           "with controls locked or hidden. Writing a lesson: README, \"Teaching with genlab\".")
