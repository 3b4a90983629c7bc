"""Presentation mode, for a projector: larger type everywhere, thick high-contrast charts
(genlab.viz.presentation, applied by pages/train_view.py), fewer panels. A sidebar toggle drawn by
app.py on every page; `present=true` in a link turns it on. Not a page (app.py lists the pages).
"""
from __future__ import annotations

import streamlit as st

from genlab.share import TRUE_WORDS

PRESENT_KEY = "present"
KEPT_KEY = "present.kept"  # a plain copy: a page that opens another (st.switch_page) loses the widget's value
# Scoped to the app's own elements; sizes chosen to stay legible at 1280×720 from ~10 m.
CSS = """<style>
html { font-size: 20px !important; }
[data-testid="stApp"] { color: #000; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; }
[data-testid="stMetricValue"] { font-size: 2.2rem !important; font-weight: 700; }
[data-testid="stMetricLabel"] p { font-size: 1rem !important; }
[data-testid="stWidgetLabel"] p { font-size: 1rem !important; }
[data-testid="stCaptionContainer"] { font-size: 0.95rem; color: #222; }
h1 { font-size: 2.2rem !important; }
/* larger type in the same columns: button labels wrap instead of ending in "…", wide formulas scroll */
[data-testid="stBaseButton-primary"], [data-testid="stBaseButton-secondary"], [data-testid="stBaseButton-tertiary"] {
  height: auto; }
[data-testid^="stBaseButton"] p, [data-testid="stPageLink"] p { white-space: normal !important;
  overflow-wrap: normal; word-break: keep-all; text-overflow: clip !important; overflow: visible !important; }
.katex-display { overflow-x: auto; overflow-y: hidden; }
</style>"""


def presenting() -> bool:
    return bool(st.session_state.get(PRESENT_KEY))


def presentation_toggle() -> None:
    """The sidebar toggle (call in app.py, so it lives across pages) and, when on, the page's style."""
    ss = st.session_state
    if KEPT_KEY in ss:
        ss[PRESENT_KEY] = ss[KEPT_KEY]
    elif PRESENT_KEY not in ss:  # a tab's first run: a link may ask for it
        ss[PRESENT_KEY] = st.query_params.get(PRESENT_KEY, "").strip().lower() in TRUE_WORDS
    st.sidebar.toggle("Presentation mode", key=PRESENT_KEY, on_change=_keep,
                      help="For a projector: large type, thick high-contrast charts, fewer panels.")
    ss[KEPT_KEY] = ss[PRESENT_KEY]
    if presenting():
        st.html(CSS)


def _keep() -> None:
    st.session_state[KEPT_KEY] = st.session_state[PRESENT_KEY]
