"""The Train page's end of "Try it on the ring" (Dirac-GAN lab): the game the lab handed over becomes
this tab's run, the preset ring GAN with the same loss and regularizer (genlab.theory.bridge).

The lab puts the game in the session under DIRAC_GAME_KEY and switches to Train; the Train page calls
`open_dirac_game` once per run, before its widgets are filled from the runner. Not a page (app.py lists them).
"""
from __future__ import annotations

import streamlit as st

from genlab.config import ConfigError
from genlab.theory.bridge import ring_setup
from pages.train_form import flash

DIRAC_GAME_KEY = "dirac.to_train"  # a genlab.theory.dirac.DiracGame, set by pages/dirac.py


def open_dirac_game(runner) -> None:
    """Replace the tab's run by the ring run of the handed-over game, if there is one (idle until Start)."""
    game = st.session_state.pop(DIRAC_GAME_KEY, None)
    if game is None:
        return
    try:
        setup = ring_setup(game)
        with st.spinner("Building the ring GAN…"):
            runner.reset(setup.config)
    except (ConfigError, ValueError) as exc:  # ConfigError is a ValueError; so is a model over budget
        flash("error", f"Could not set up the ring run: {exc}")
        return
    flash("success", f"From the Dirac-GAN lab: **{game.label}** on the 8-Gaussian ring. Press **Start** and "
                     "watch whether the generated points settle on the modes or keep circling.")
    if setup.note:
        flash("info", setup.note)
