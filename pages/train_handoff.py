"""What other pages hand to the Train page: a Dirac-GAN game ("Try it on the ring", genlab.theory.bridge)
or a drawn data set (Draw your data, genlab.data.drawn). Either becomes this tab's run, idle until Start.

The sending page stores its item under its key in the session and calls `switch_to_train`; the Train
page calls `open_handoff` once per run, before its widgets are filled from the runner. Not a page.
"""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from genlab.config import ConfigError
from genlab.drawing_codec import drawing_path
from genlab.presets import config_for
from genlab.theory.bridge import ring_setup
from pages.train_form import flash

DIRAC_GAME_KEY = "handoff.dirac_game"  # a genlab.theory.dirac.DiracGame
DRAWING_KEY = "handoff.drawing"  # (anchors, spread) of a drawing


def switch_to_train() -> None:
    """Go to the Train page (in a script run: a button's callback cannot switch pages)."""
    try:
        st.switch_page("pages/train.py")
    except StreamlitAPIException:  # the sending page run on its own (tests): no Train page to switch to
        st.info("Open **Train** from the menu: the run is set up there.")


def open_handoff(runner) -> None:
    """Replace the tab's run by what a page handed over, if anything."""
    game = st.session_state.pop(DIRAC_GAME_KEY, None)
    drawing = st.session_state.pop(DRAWING_KEY, None)
    try:
        if game is not None:
            setup = ring_setup(game)
            with st.spinner("Building the ring GAN…"):
                runner.reset(setup.config)
            flash("success", f"From the Dirac-GAN lab: **{game.label}** on the 8-Gaussian ring. Press **Start** "
                             "and watch whether the generated points settle on the modes or keep circling. **G and D "
                             "updates** in the sidebar switches between the lab's two schemes while it trains.")
            if setup.note:
                flash("info", setup.note)
        if drawing is not None:
            config = config_for("gan", "points", dotted={"data.path": drawing_path(*drawing)})
            with st.spinner("Building a GAN for your drawing…"):
                runner.reset(config)  # the path holds the drawing: a saved run reopens with its data
            flash("success", f"A GAN for your drawing ({len(drawing[0])} points). Press **Start**. To change the "
                             "drawing, go back to **Draw your data**; an uploaded CSV replaces it at the next Reset.")
    except (ConfigError, ValueError) as exc:  # ConfigError is a ValueError; so is a model over budget
        flash("error", f"Could not set up the run: {exc}")
