"""What the pages share: this browser tab's TrainingRunner and where runs are saved.

Not a page itself (app.py's st.navigation lists the pages). Import it from a page as
`from pages.shared import session_runner`.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from typing import TYPE_CHECKING

import streamlit as st

from genlab.config import RunConfig
from genlab.presets import config_for

if TYPE_CHECKING:
    from genlab.live import TrainingRunner

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_CHECKPOINT_DIR = "GENLAB_CHECKPOINT_DIR"
RUNNER_STATE_KEY = "genlab_runner"  # st.session_state[...] = this tab's runner (tests and other pages read it)


def checkpoint_root() -> Path:
    """Where the app saves runs: $GENLAB_CHECKPOINT_DIR, else <repo>/checkpoints."""
    return Path(os.environ.get(ENV_CHECKPOINT_DIR) or REPO_ROOT / "checkpoints")


def default_config() -> RunConfig:
    """The run a new tab starts with: the preset GAN on the 8-mode ring (MLP 128×2, batch 256)."""
    return config_for("gan", "ring")


def use_app_navigation() -> None:
    """Call first thing in every page. With a pages/ folder next to app.py, Streamlit runs a new
    server's first sessions in its legacy "pages directory" mode (every .py in pages/ becomes a page,
    app.py's st.navigation is skipped) until some run calls st.navigation. A visitor whose first
    URL is /train would get that mode: helper modules listed as pages, no wide layout. Switch it
    off and re-run, so app.py's navigation takes over.

    Streamlit offers no public switch for this while the pages live in a top-level pages/ folder
    (checked on 1.67: no config option, and its maintainers' advice is to rename the folder,
    streamlit/streamlit#8388), so this sets the private class attribute Streamlit reads for it.
    requirements.txt pins Streamlit to the tested range; tests/test_navigation.py fails, saying what
    to do, when the attribute disappears or stops working.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def _release(runner: TrainingRunner) -> None:
    # Runs on the server's event loop when the tab's session ends: signal the thread and return
    # (it stops after its current step; genlab.runner joins leftover threads at exit).
    runner.close(timeout=0)


@st.cache_resource(scope="session", on_release=_release, show_spinner="Preparing a training run…")
def _runner_for_this_tab() -> TrainingRunner:
    # scope="session": one runner per browser tab; on_release stops its thread when the tab goes away
    from genlab.live import TrainingRunner  # torch: imported only by pages that train
    from genlab.transfer import new_trainer

    # runs_root: a run started from a saved run's weights (transfer) finds its parent there
    return TrainingRunner(default_config(), trainer_factory=functools.partial(new_trainer, runs_root=checkpoint_root()))


def session_runner() -> TrainingRunner:
    """This tab's runner (created on first use, closed when the tab's session ends)."""
    runner = _runner_for_this_tab()
    st.session_state[RUNNER_STATE_KEY] = runner
    return runner
