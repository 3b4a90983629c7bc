"""The Train page's transfer panel: a fresh run that starts from a saved run's weights (its model,
the Setup's data and settings), with FreezeD and a lower fine-tuning learning rate. The Runs page's
"Fine-tune on…" button opens it with that run chosen. Not a page (app.py lists the pages)."""
from __future__ import annotations

import streamlit as st

from genlab.config import ConfigError, knob_for
from genlab.data import DataUnavailableError
from genlab.runs import CheckpointError, list_runs
from pages.knob_widgets import knob_widget
from pages.shared import checkpoint_root, session_runner
from pages.train_form import flash, form_value, setup_config, uploaded_data

ss = st.session_state
PARENT_KEY = "transfer.parent"  # the Runs page's "Fine-tune on…" sets it, with OPEN_KEY
OPEN_KEY = "transfer.open"
FREEZE_KEY = "transfer.freeze-d"
SCALE_KEY = "transfer.lr-scale"


def start_from_parent() -> None:
    """Reset to a run with the Setup's settings, the parent's model and the parent's fitting weights."""
    from genlab.transfer import parent_config, transfer_config

    runner, name = session_runner(), ss[PARENT_KEY]
    try:
        base = setup_config(runner)
        freeze = ss[FREEZE_KEY] if base.model.family == "gan" else 0
        config = transfer_config(base, parent_config(name, checkpoint_root()), name, freeze_d=freeze,
                                 lr_scale=ss[SCALE_KEY])
        with st.spinner(f"Loading {name}'s weights…"):
            runner.reset(config, data=uploaded_data(config))
    except (ConfigError, CheckpointError, DataUnavailableError, ValueError) as exc:
        flash("error", f"Not started from {name}: {exc}")
        return
    flash("success", f"A fresh run from **{name}**: {runner.trainer.transfer.summary()}. Press Start to fine-tune.")


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
    config = runner.config
    with st.expander("Start from a saved run (transfer, fine-tuning)", expanded=bool(ss.pop(OPEN_KEY, False))):
        if config.transfer.from_run:
            report = getattr(runner.trainer, "transfer", None)
            st.caption(f"This run started from **{config.transfer.from_run}**"
                       + (f": {report.summary()}." if report is not None else "."))
            st.button("Reset without a parent", key="transfer.drop", on_click=drop_parent)
        runs = {info.name: info for info in list_runs(checkpoint_root()) if info.ok}
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
        st.button(f"Reset from {parent.name}", key="transfer.start", type="primary", on_click=start_from_parent,
                  disabled=parent.family != family,
                  help="A fresh run with the Setup's data and settings and the parent's model and weights.")
