"""What the pages share: this browser tab's token and TrainingRunner, and where runs are saved.

Not a page itself (app.py's st.navigation lists the pages). Import it from a page as
`from pages.shared import session_runner`.
"""
from __future__ import annotations

import functools
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from genlab.cli.args import ENV_CHECKPOINT_DIR
from genlab.config import RunConfig
from genlab.presets import config_for

if TYPE_CHECKING:
    from genlab.live import Attachment, TrainingRunner

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNER_STATE_KEY = "genlab_runner"  # st.session_state[...] = this tab's runner (tests and other pages read it)
TAB_PARAM = "tab"  # the page URL's query parameter holding the tab token
TAB_TOKEN_KEY = "genlab_tab"  # st.session_state[...] = this tab's token
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")  # what secrets.token_urlsafe(32) makes (43 characters)


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


def tab_token() -> str:
    """This browser tab's token, kept in st.session_state and in the page URL (`?tab=...`).

    It keys the tab's run in genlab.live.registry, so a reload or a reconnect of the same tab finds its
    run again (Streamlit ends the session's own resources on every disconnect). A token from the URL
    is taken as it is (a reload, or the tab coming back after the server restarted: its autosave is
    found by the same token); otherwise a new one is made with secrets.token_urlsafe.

    The token is private to this tab: whoever has it controls the tab's run. A link meant for sharing
    (a "copy link" of the setup) must never carry it: leave TAB_PARAM out of its query parameters.
    """
    token = st.session_state.get(TAB_TOKEN_KEY)
    if token is None:
        from_url = st.query_params.get(TAB_PARAM, "")
        token = from_url if TOKEN_PATTERN.match(from_url) else secrets.token_urlsafe(32)
        st.session_state[TAB_TOKEN_KEY] = token
    if st.query_params.get(TAB_PARAM) != token:  # page switches drop the query parameters
        st.query_params[TAB_PARAM] = token
    return token


def _detach(attachment: Attachment) -> None:
    # Runs on the server's event loop whenever the session's caches are cleared (every websocket
    # disconnect, even a blip): the run stays in the registry for its grace period, and this tab
    # attaches to it again when it reconnects or reloads.
    from genlab.live import REGISTRY

    REGISTRY.detach(attachment)


@st.cache_resource(scope="session", on_release=_detach, show_spinner="Preparing a training run…")
def _attach(token: str) -> Attachment:
    from genlab.live import REGISTRY, Autosave, autosave_name, autosave_root, runner_class  # torch: lazily

    def make_runner() -> TrainingRunner:
        from genlab.transfer import new_trainer

        # runs_root: a run started from a saved run's weights (transfer) finds its parent there
        runner = runner_class()(default_config(), trainer_factory=functools.partial(new_trainer,
                                                                                    runs_root=checkpoint_root()))
        runner.enable_autosave(Autosave(autosave_root(checkpoint_root()), autosave_name(token)))
        return runner

    return REGISTRY.attach(token, make_runner)


def session_runner() -> TrainingRunner:
    """This tab's runner (made on first use; kept across reconnects and reloads of the tab, see tab_token)."""
    runner = _attach(tab_token()).runner
    st.session_state[RUNNER_STATE_KEY] = runner
    return runner


def tab_kept() -> dict:
    """What this tab's pages keep with its run, across reloads and reconnects as the run itself (a lesson's
    progress): st.session_state starts empty on a reload."""
    return _attach(tab_token()).kept


def keep_widget_values(keys) -> None:
    """Keep these widgets' values through runs that do not draw them (a closed lazy panel): Streamlit
    forgets a widget's value when a run does not draw it, but not a value the script set itself."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
