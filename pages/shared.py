"""What the pages share: this browser tab's TrainingRunner and where runs are saved.

Not a page itself (app.py's st.navigation lists the pages). Import it from a page as
`from pages.shared import session_runner`.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from genlab.config import RunConfig
from genlab.runner import TrainingRunner

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_CHECKPOINT_DIR = "GENLAB_CHECKPOINT_DIR"
RUNNER_STATE_KEY = "genlab_runner"  # st.session_state[...] = this tab's runner (tests and other pages read it)


def checkpoint_root() -> Path:
    """Where the app saves runs: $GENLAB_CHECKPOINT_DIR, else <repo>/checkpoints."""
    return Path(os.environ.get(ENV_CHECKPOINT_DIR) or REPO_ROOT / "checkpoints")


def default_config() -> RunConfig:
    """The run a new tab starts with: a GAN on the 8-mode ring (trainer defaults: MLP 128×2, batch 256)."""
    return RunConfig(name="ring-gan")


def _release(runner: TrainingRunner) -> None:
    runner.close()


@st.cache_resource(scope="session", on_release=_release, show_spinner="Preparing a training run…")
def _runner_for_this_tab() -> TrainingRunner:
    # scope="session": one runner per browser tab; on_release stops its thread when the tab goes away
    return TrainingRunner(default_config())


def session_runner() -> TrainingRunner:
    """This tab's runner (created on first use, closed when the tab's session ends)."""
    runner = _runner_for_this_tab()
    st.session_state[RUNNER_STATE_KEY] = runner
    return runner
