"""The Train page's transfer panel: a fresh run that starts from a saved run's weights (its model,
the Setup's data and settings), with FreezeD and a lower fine-tuning learning rate, and above it the
offer to start from the run shipped for the Setup's image data set (recognisable samples at step 0).
The Runs page's "Fine-tune on…" button opens the panel with that run chosen. Not a page."""
from __future__ import annotations

import streamlit as st

from genlab.config import IMAGE_DATASETS, ConfigError, knob_for
from genlab.data import DataUnavailableError
from genlab.runs import CheckpointError, RunInfo, list_runs
from genlab.transfer import SHIPPED_ROOT, trained_starts
from pages.knob_widgets import knob_widget
from pages.shared import checkpoint_root, session_runner
from pages.train_form import flash, form_value, setup_config, uploaded_data

ss = st.session_state
PARENT_KEY = "transfer.parent"
# The Runs page's "Fine-tune on…" leaves the run's name here (not in PARENT_KEY: Streamlit drops the
# state of a widget that the page just run did not draw); the panel opens with that run chosen.
REQUEST_KEY = "transfer.fine_tune"
FREEZE_KEY = "transfer.freeze-d"
SCALE_KEY = "transfer.lr-scale"


@st.cache_data(ttl=60, show_spinner=False)
def shipped_starts(dataset: str, family: str) -> list[RunInfo]:
    return trained_starts(dataset, family)


def parent_choices() -> dict[str, RunInfo]:
    """The runs a transfer can start from: the shipped ones and the user's (theirs win on a name clash)."""
    runs = [*list_runs(SHIPPED_ROOT), *list_runs(checkpoint_root())]
    return {info.name: info for info in runs if info.ok}


def start_from(name: str, freeze_d: int, lr_scale: float) -> None:
    """Reset to a run with the Setup's settings, the parent's model and the parent's fitting weights."""
    from genlab.transfer import parent_config, transfer_config

    runner = session_runner()
    try:
        base = setup_config(runner)
        freeze = freeze_d if base.model.family == "gan" else 0
        config = transfer_config(base, parent_config(name, checkpoint_root()), name, freeze_d=freeze,
                                 lr_scale=lr_scale)
        with st.spinner(f"Loading {name}'s weights…"):
            runner.reset(config, data=uploaded_data(config))
    except (ConfigError, CheckpointError, DataUnavailableError, ValueError) as exc:
        flash("error", f"Not started from {name}: {exc}")
        return
    flash("success", f"A fresh run from **{name}**: {runner.transfer_summary()}. Press Start to fine-tune.")


def start_from_chosen_parent() -> None:
    start_from(ss[PARENT_KEY], ss[FREEZE_KEY], ss[SCALE_KEY])


def trained_start_offer(runner) -> None:
    """For an image data set with a shipped run of the Setup's family: a button to start from it."""
    config = runner.config
    dataset, family = form_value("data.name", config), form_value("model.family", config)
    if dataset not in IMAGE_DATASETS:
        return
    starts = shipped_starts(dataset, family)
    if not starts or config.transfer.from_run == starts[0].name:
        return
    best = starts[0]
    left, right = st.columns([3, 1])
    left.info(f"Start from a trained run: **{best.name}** ({family.upper()} on {dataset}, {best.steps:,} steps) "
              "shows recognisable samples at step 0; then move the regularizers and watch what they do.")
    right.button(f"Start from {best.name}", key="transfer.trained", type="primary", on_click=start_from,
                 args=(best.name, 0, 1.0), help="A fresh run with the Setup's settings and this run's model and weights.")


def drop_parent() -> None:
    runner = session_runner()
    try:
        config = setup_config(runner).replace(**{"transfer.from_run": "", "transfer.freeze_d": 0,
                                                 "transfer.lr_scale": 1.0})
        runner.reset(config, data=uploaded_data(config))
    except (ConfigError, DataUnavailableError, ValueError) as exc:
        flash("error", f"Not reset: {exc}")
        return
    flash("success", "Reset: a fresh run from a random initialisation.")


def transfer_panel(runner) -> None:
    trained_start_offer(runner)
    config = runner.config
    requested = ss.pop(REQUEST_KEY, None)
    if requested is not None:
        ss[PARENT_KEY] = requested
    with st.expander("Start from a saved run (transfer, fine-tuning)", expanded=requested is not None):
        if config.transfer.from_run:
            summary = runner.transfer_summary()
            st.caption(f"This run started from **{config.transfer.from_run}**"
                       + (f": {summary}." if summary is not None else "."))
            st.button("Reset without a parent", key="transfer.drop", on_click=drop_parent)
        runs = parent_choices()
        if not runs:
            st.caption("No saved runs yet: train one and press Save.")
            return
        if ss.get(PARENT_KEY) not in runs:
            ss[PARENT_KEY] = config.transfer.from_run if config.transfer.from_run in runs else next(iter(runs))
        st.selectbox("Parent run", list(runs), key=PARENT_KEY,
                     format_func=lambda n: f"{n} ({runs[n].family.upper()} on {runs[n].dataset}, {runs[n].steps:,} steps)",
                     help="Its weights that fit the Setup's data are loaded (e.g. another data set of the same "
                          "image size); the rest are skipped and named.")
        family = form_value("model.family", config)
        ss.setdefault(FREEZE_KEY, config.transfer.freeze_d)
        ss.setdefault(SCALE_KEY, config.transfer.lr_scale)
        if family == "gan":
            knob_widget(knob_for("transfer.freeze_d"), FREEZE_KEY)
        knob_widget(knob_for("transfer.lr_scale"), SCALE_KEY)
        parent = runs[ss[PARENT_KEY]]
        if parent.family != family:
            st.warning(f"{parent.name} is a {parent.family.upper()}; the Setup trains a {family.upper()}.")
        st.button(f"Reset from {parent.name}", key="transfer.start", type="primary", on_click=start_from_chosen_parent,
                  disabled=parent.family != family,
                  help="A fresh run with the Setup's data and settings and the parent's model and weights.")
