"""genlab: train small GANs and VAEs live in the browser. Run with `streamlit run app.py`."""
from __future__ import annotations

import threading

import streamlit as st

from pages.presentation import presentation_toggle
from pages.shared import tab_token


@st.cache_resource(show_spinner=False)
def _warm_imports() -> threading.Thread:
    """Import torch, the trainers and plotly in the background once per server process, so the first
    visit to Train does not wait ~4 s of CPU for them while the visitor reads the home page."""

    def warm() -> None:
        import genlab.live  # noqa: F401  (torch, models, trainers, runner)
        import genlab.viz as viz
        from genlab.config import RunConfig
        from genlab.trainers import make_trainer

        # torch imports torch._dynamo (~1.3 s of CPU) when the first optimizer is built, so build a run
        make_trainer(RunConfig(), device="cpu")
        viz.loss_figure({}).to_dict()  # plotly loads its validators lazily on first use

    thread = threading.Thread(target=warm, name="genlab-warm-imports", daemon=True)
    thread.start()
    return thread


st.set_page_config(page_title="genlab", page_icon=":material/science:", layout="wide")
tab_token()  # on every page, so a reload anywhere keeps this tab's run

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("pages/latent.py", title="Latent explorer", icon=":material/explore:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
    st.Page("pages/dirac.py", title="Dirac-GAN lab", icon=":material/insights:"),
    st.Page("pages/draw.py", title="Draw your data", icon=":material/draw:"),
]
navigation = st.navigation(pages)
presentation_toggle()
try:
    navigation.run()
finally:
    # after the page, not before: importing torch holds the GIL for long stretches (loading its
    # libraries), which would hold up the first page's rendering
    _warm_imports()
