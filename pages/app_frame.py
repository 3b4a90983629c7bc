"""The app's frame around every page: page config, the tab token, the navigation, the presentation
toggle, and the background warm-up once the first page is up. app.py calls main() on every script run."""
from __future__ import annotations

import functools
import math
import threading

import streamlit as st

from pages.preload import preload_widget_code
from pages.presentation import presentation_toggle
from pages.shared import tab_token


@st.cache_resource(show_spinner=False)
def _warm_imports() -> threading.Thread:
    """Import torch, the trainers and plotly in the background once per server process, so the first
    visit to Train does not wait ~4 s of CPU for them while the visitor reads the home page. Where runs
    train in worker processes, the first worker is spawned before anything else; the server itself then
    never builds an optimizer for a live run."""

    def warm() -> None:
        from genlab.live.hosting import runner_kind  # does not import torch

        in_workers = runner_kind() == "process"
        if in_workers:
            from genlab.live.pool import SPARES  # does not import torch

            SPARES.fill()  # the fork server (or the first worker) imports torch on another core meanwhile
            import genlab.live.process_runner  # noqa: F401  (torch, the runner interface)
        import genlab.live.registry  # noqa: F401
        import genlab.live.runner  # noqa: F401  (torch, models, trainers)
        import genlab.viz as viz
        from genlab.config import RunConfig
        from genlab.trainers import make_trainer

        if not in_workers:  # torch imports torch._dynamo (~1.3 s of CPU) at the first optimizer: build a run
            make_trainer(RunConfig(), device="cpu")
        viz.loss_figure({}).to_dict()  # plotly loads its validators lazily on first use

    thread = threading.Thread(target=warm, name="genlab-warm-imports", daemon=True)
    thread.start()
    return thread


@functools.cache
def app_icon() -> str:
    """The favicon, as inline SVG (Streamlit hands it to the browser as a data: URL, nothing to fetch): a
    ":material/…:" page icon is fetched from fonts.gstatic.com, one failed request on every visit in a
    classroom without internet. Eight dots on a ring, the first data set."""
    dots = "".join(f'<circle cx="{32 + 22 * math.cos(math.pi * k / 4):.1f}" '
                   f'cy="{32 + 22 * math.sin(math.pi * k / 4):.1f}" r="7" fill="#ff4b4b"/>' for k in range(8))
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">{dots}</svg>'


def main() -> None:
    st.set_page_config(page_title="genlab", page_icon=app_icon(), layout="wide")
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
        preload_widget_code()
    finally:
        # after the page, not before: importing torch holds the GIL for long stretches (loading its
        # libraries), which would hold up the first page's rendering
        _warm_imports()
