"""One Streamlit widget per declared knob (genlab.config): the widget's kind comes from the declaration.

choices → a selectbox (a horizontal radio for two), bool → a checkbox, a value ladder (ui_values) → a
select_slider, other numbers → a number_input within the knob's bounds. A teacher's link can hide a knob
(no widget) or lock it (a disabled widget): the tab's View (pages/train_share.py). Not a page (app.py lists them).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

from genlab.config import Knob
from pages.train_share import current_view

LOCKED_HELP = "Locked by the link you opened (your teacher's choice)."


def fmt_number(knob: Knob, value: float) -> str:
    """A slider's value: "0 (off)" where 0 switches the knob off, small numbers as 1e-04."""
    if knob.off is not None and value == knob.off:
        return f"{value:g} (off)"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{value:g}"
    return f"{value:.0e}" if 0 < abs(value) < 1e-2 else f"{value:g}"


def widget_kind(knob: Knob) -> str:
    """The Streamlit widget that shows `knob` (its element type in AppTest)."""
    if knob.kind is bool:
        return "checkbox"
    if knob.choices:
        return "radio" if len(knob.choices) == 2 else "selectbox"
    return "select_slider" if knob.ui_values else "number_input"


def knob_widget(knob: Knob, key: str, *, options: Sequence | None = None,
                format_func: Callable[[Any], str] | None = None, on_change: Callable | None = None,
                args: tuple = ()) -> None:
    """Draw `knob`'s widget bound to st.session_state[key] (which must hold its current value), unless the
    tab's View hides it; disabled when the View locks it."""
    view = current_view()
    if not view.shows(knob):
        return
    locked = view.locks(knob)
    common = {"key": key, "help": LOCKED_HELP if locked else knob.help or None, "on_change": on_change,
              "args": args, "disabled": locked}
    kind = widget_kind(knob)
    if kind == "checkbox":
        st.checkbox(knob.title, **common)
    elif kind in ("radio", "selectbox"):
        choose = st.radio if kind == "radio" else st.selectbox
        extra = {"horizontal": True} if kind == "radio" else {}
        choose(knob.title, tuple(options or knob.choices), format_func=format_func or knob.choice_label, **extra,
               **common)
    elif kind == "select_slider":
        ladder = tuple(sorted(set(knob.ui_values) | {st.session_state[key]}))
        st.select_slider(knob.title, ladder, format_func=lambda value: fmt_number(knob, value), **common)
    else:
        low, high = knob.bounds
        st.number_input(knob.title, None if knob.low_open else low, high, step=knob.ui_step, **common)
