"""genlab: train small GANs and VAEs live in the browser. Run with `streamlit run app.py`."""
from __future__ import annotations

import threading

import streamlit as st

from pages.presentation import presentation_toggle
from pages.shared import tab_token


@st.cache_resource(show_spinner=False)
def _warm_imports() -> threading.Thread:
    """Import torch, the trainers and plotly in the background once per server process, so the first
    visit to Train does not wait ~5 s for them while the visitor reads the home page."""

    def warm() -> None:
        import plotly.graph_objects  # noqa: F401

        import genlab.live  # noqa: F401  (torch, models, trainers)
        import genlab.viz as viz

        viz.loss_figure({}).to_dict()  # plotly loads its validators lazily on first use

    thread = threading.Thread(target=warm, name="genlab-warm-imports", daemon=True)
    thread.start()
    return thread


st.set_page_config(page_title="genlab", page_icon=":material/science:", layout="wide")
_warm_imports()
tab_token()  # on every page, so a reload anywhere keeps this tab's run

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("pages/latent.py", title="Latent explorer", icon=":material/explore:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
]
navigation = st.navigation(pages)
presentation_toggle()
navigation.run()
