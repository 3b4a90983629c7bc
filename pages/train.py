"""Train: set up a GAN or VAE, start it, and steer it live while it learns.

Thin by design: layout and the transport buttons. The widgets come from the config's knob
declarations (pages/train_setup.py, pages/train_controls.py, mapped to a RunConfig by
pages/train_form.py). Training runs in this tab's TrainingRunner thread (pages/shared.py); this script
only sends commands and draws snapshots; the transport buttons and the live view are a fragment, and
while the run changes on its own (it trains, or its worker is starting) the live view inside it re-runs
about twice a second (ARCHITECTURE.md).
"""
from __future__ import annotations

import streamlit as st

from genlab.config import ConfigError
from genlab.data import DataUnavailableError
from genlab.live import DIVERGED, ERROR, IDLE, PAUSED, RUNNING, STOPPED, CapacityError, TrainingRunner
from pages.plain import plain
from pages.recovery import offer_recovery
from pages.shared import keep_widget_values, session_runner, use_app_navigation
from pages.train_controls import live_controls
from pages.lesson_panel import beside_lesson
from pages.presentation import presenting
from pages.share_panel import TEACHER_KEYS, share_panel
from pages.train_evaluate import evaluate_panel
from pages.train_handoff import open_handoff
from pages.train_form import (FLASH_KEY, SAVE_NAME_KEY, flash, preset_drawn, restore_pending_preset, setup_config,
                               sync_widgets, uploaded_data)
from pages.train_save import name_after_opening, overwrite_prompt, save
from pages.train_setup import setup_panel
from pages.train_transfer import transfer_panel
from pages.train_share import current_lesson, sync_url
from pages.train_view import live_view, view_options

use_app_navigation()

ss = st.session_state
OPEN_RUN_KEY = "open_run"  # set by the Runs page ("Continue training"): the folder of a run to load
STEP_KINDS = {"step": "both", "step_d": "d", "step_g": "g"}
SHOWN_FLASH_KEY = "train.shown_flash"  # the messages on screen, until the next command
PAGE_LIVE_KEY = "train.page_live"  # changes_on_its_own() when the whole page last ran
HIDE_STATUS_WIDGET = "[data-testid='stStatusWidget'] { display: none; }"


def open_run(runner: TrainingRunner, path: str) -> str | None:
    """Load the saved run at `path` (sent by the Runs page's "Continue training") into the runner;
    returns its folder name when it can be trained here, else None (the reason is flashed)."""
    from genlab.runs import CheckpointError

    try:
        with st.spinner("Opening the run…"):
            opened = runner.open_saved(path)
    except (CheckpointError, ValueError) as exc:  # CheckpointError is a ValueError; so is a bad history
        flash("error", f"Could not open the run: {plain(exc)}")
        return None
    if not opened.trainable:
        flash("warning", f"**{plain(opened.name)}**: its data set ({opened.dataset}) is not available here, so it "
                         "can be sampled and explored (Latent explorer) but not trained. The current run is unchanged.")
        return None
    flash("success", f"Opened **{plain(opened.name)}** at step {opened.step:,} — press Start to continue.")
    return opened.name


def command(name: str) -> None:
    """A transport button's action (a callback: it runs before the page re-renders)."""
    runner = session_runner()
    ss.pop(SHOWN_FLASH_KEY, None)
    try:
        if name == "start":
            runner.start()
        elif name == "pause":
            runner.pause()
        elif name == "stop":
            runner.stop()
        elif name in STEP_KINDS:
            runner.step(STEP_KINDS[name])
        elif name == "reset":
            restore_pending_preset()  # a callback: it runs before the Setup widgets, so it may write them
            config = setup_config(runner)
            with st.spinner("Building the model and loading the data…"):
                runner.reset(config, data=uploaded_data(config))
            flash("success", "Reset: a fresh run with the current Setup.")
        elif name == "save":
            save(runner)
    except CapacityError as exc:
        flash("error", str(exc))
    except (ConfigError, DataUnavailableError, ValueError) as exc:
        flash("error", plain(exc))
    except Exception as exc:  # noqa: BLE001 - show any other failure instead of a traceback page
        flash("error", f"{name} failed: {type(exc).__name__}: {plain(exc)}")


def transport(runner: TrainingRunner) -> None:
    """Start/Pause/Step/Stop: inside the live fragment, so a click re-runs only the fragment and the new
    state shows at once (a whole-page re-run took over a second on a busy 2-core server, issue 16)."""
    state, gan = runner.state, runner.config.model.family == "gan"
    buttons = st.columns(6)
    buttons[0].button("Resume" if state in (PAUSED, DIVERGED) else "Start", key="btn.start", type="primary",
                      on_click=command, args=("start",), disabled=state == RUNNING, width="stretch")
    buttons[1].button("Pause", key="btn.pause", on_click=command, args=("pause",), disabled=state != RUNNING,
                      width="stretch")
    buttons[2].button("Step", key="btn.step", on_click=command, args=("step",), width="stretch",
                      help="One training step (pauses a running run).")
    if gan:
        buttons[3].button("Step D", key="btn.step_d", on_click=command, args=("step_d",), width="stretch",
                          help="One discriminator update only.")
        buttons[4].button("Step G", key="btn.step_g", on_click=command, args=("step_g",), width="stretch",
                          help="One generator update only.")
    buttons[5].button("Stop", key="btn.stop", on_click=command, args=("stop",), width="stretch",
                      disabled=state in (IDLE, STOPPED, ERROR) and not runner.thread_alive)


def run_file_row() -> None:
    """Reset, the run's name and Save: they change more than the live view, so they re-run the page."""
    buttons = st.columns([1, 3, 1, 3])
    buttons[0].button("Reset", key="btn.reset", on_click=command, args=("reset",), width="stretch",
                      help="A fresh run with the Setup above (discards this one unless saved).")
    buttons[1].text_input("Run name", key=SAVE_NAME_KEY, label_visibility="collapsed", placeholder="run name")
    buttons[2].button("Save", key="btn.save", on_click=command, args=("save",), width="stretch",
                      help="Save weights, config and curves as a run (listed on the Runs page).")


def changes_on_its_own(runner: TrainingRunner) -> bool:
    """Whether the run changes without a click: it trains, or its worker is still starting. Only then do
    the live view (and an open lesson's panel) refresh on a timer: an idle or paused tab that refreshed
    twice a second cost the server ≈ 20 % of a core and 80-130 KiB/s, for a picture that did not change."""
    return runner.state == RUNNING or not runner.ready


def studio() -> None:
    """The studio fragment: transport buttons, messages, and the live view. Re-runs on a click of its
    buttons; while the run changes on its own, the live view inside it is a fragment of its own that also
    re-runs every refresh. Safe only with Streamlit's message cache off (.streamlit/config.toml;
    benchmarks/pause_resume_stress.py)."""
    runner = session_runner()
    transport(runner)
    if FLASH_KEY in ss:  # kept on screen across the fragment's refreshes until the next command
        ss[SHOWN_FLASH_KEY] = ss.pop(FLASH_KEY)
    for kind, text in ss.get(SHOWN_FLASH_KEY, []):
        getattr(st, kind)(text)
    live = changes_on_its_own(runner)
    if live != ss.get(PAGE_LIVE_KEY) and current_lesson() is not None:
        st.rerun(scope="app")  # the lesson panel beside is a fragment of the page: its refresh follows too
    if live:
        st.fragment(run_every=ss["live.refresh"])(refreshing_view)()
    else:
        live_view()  # the same elements, without a timer: nothing re-runs until a click


def refreshing_view() -> None:
    """The live view while the run changes on its own. Once it stops by itself (the worker is ready, the
    run diverged or its worker died), the whole page runs once: that ends the timer and brings the
    transport buttons up to date."""
    if not changes_on_its_own(session_runner()):
        st.rerun(scope="app")
    live_view()


# ----------------------------------------------------------------------------------------------
# page
# ----------------------------------------------------------------------------------------------
runner = session_runner()
opened = open_run(runner, ss.pop(OPEN_RUN_KEY)) if ss.get(OPEN_RUN_KEY) else None
ss.pop(OPEN_RUN_KEY, None)
open_handoff(runner)  # a run set up by the Dirac-GAN lab or Draw your data
view = sync_url(runner)  # a link's or lesson's setup on a tab's first visit; the run's setup into the URL
restore_pending_preset()
sync_widgets(runner)
if opened is not None:
    ss[SAVE_NAME_KEY] = name_after_opening(opened)

st.title("Train")
# Streamlit's header shows "Running… Stop" through every refresh of the live view; its Stop ends a script
# run, not the training, and students clicked it for the page's own Stop
st.html(f"<style>{HIDE_STATUS_WIDGET}</style>")
ss.pop(SHOWN_FLASH_KEY, None)
# Every block above the live fragment sits in a container of its own, drawn on every run, so the
# fragment keeps its place in the page whatever appears above it (a precaution: the frontend failures
# seen came from Streamlit's message cache, now off).
with st.container():
    offer_recovery(runner)
fresh = runner.state == IDLE and runner.step_count == 0
with st.expander("Setup: model, data, loss (changing these needs **Reset**)", expanded=fresh and not presenting()):
    setup_panel(runner)
with st.container():
    transfer_panel(runner)
with st.sidebar:
    live_controls(runner)
run_file_row()
with st.container():
    overwrite_prompt(runner)
with st.container():
    if not presenting():  # fewer panels on a projector
        # Drawn only while open (opening one re-runs the page): a closed panel's widgets would
        # still be re-rendered at every live refresh, which costs a laptop's browser.
        with st.expander("Evaluate now (FID / ELBO / modes: seconds for 2D data, up to a minute for images)",
                         key="train.evaluate_open",
                         on_change="rerun") as panel:
            if panel.open:
                evaluate_panel(runner)
        keep_widget_values(TEACHER_KEYS)
        with st.expander("Share · teach · hand in: link, student link, run report", key="train.share_open",
                         on_change="rerun") as panel:
            if panel.open:
                share_panel(runner, view)

# --- Live view: a fragment (only it re-runs on a click of its buttons, not the page) --------------
view_options(runner)
ss[PAGE_LIVE_KEY] = changes_on_its_own(runner)
with beside_lesson(ss["live.refresh"] if ss[PAGE_LIVE_KEY] else None):
    st.fragment(studio)()
preset_drawn()
