"""The Train page's Setup panel: one widget per Setup knob of the chosen family, in four columns
(data, model, objective, optimizer and run), and whether a Reset would change the run."""
from __future__ import annotations

import streamlit as st

from genlab.config import ConfigError, RunConfig, knob_for
from genlab.data import UPLOADS
from genlab.drawing_codec import is_drawing, parse_drawing_path
from genlab.trainers import available_devices
from pages.plain import plain
from pages.knob_widgets import knob_widget
from pages.train_data import data_folder_field, sets_on_disk
from pages.train_form import (
    KIND_FIELDS, SETUP_KNOBS, form_value, on_kind_change, setup_config, setup_differs, setup_key, shown_in_setup,
    upload_key,
)

ss = st.session_state
COLUMNS = {"data": 0, "model": 1, "objective": 2}  # by section; the optimizer and the run's own fields: 3


def dataset_label(name: str) -> str:
    missing = sets_on_disk().get(name) is False
    return knob_for("data.name").choice_label(name) + (" — not found offline: tick Download" if missing else "")


def device_options(config: RunConfig) -> list[str]:
    """The devices this machine has, and the one the form holds (a loaded run's) even if it has not."""
    options = available_devices()
    current = form_value("device", config)
    return options if current in options else options + [current]


def setup_panel(runner) -> None:
    config = runner.config
    columns = st.columns(4)
    with columns[0]:
        for path in KIND_FIELDS:
            knob = knob_for(path)
            knob_widget(knob, setup_key(knob), on_change=on_kind_change,
                        format_func=dataset_label if path == "data.name" else None)
        dataset = form_value("data.name", config)
        if dataset == config.data.name and is_drawing(config.data.path):
            anchors, spread = parse_drawing_path(config.data.path)
            st.caption(f"This run trains on **your drawing** ({len(anchors)} points, blob width σ = {spread:g}) "
                       "from *Draw your data*. A CSV uploaded here replaces it at the next Reset.")
        if dataset in UPLOADS:
            upload = UPLOADS[dataset]
            st.file_uploader(upload.label, type=list(upload.extensions), key=upload_key(dataset))
            if dataset == "points":
                st.caption("Any units: the networks see your points centred and scaled to the ring's spread; "
                           "samples and plots stay in your units.")
        data_folder_field(dataset)
    for knob in SETUP_KNOBS:
        if knob.path in KIND_FIELDS or not shown_in_setup(knob, config):
            continue
        with columns[COLUMNS.get(knob.path.split(".")[0], 3)]:
            knob_widget(knob, setup_key(knob), options=device_options(config) if knob.path == "device" else None)
    try:
        pending = setup_config(runner)
        if setup_differs(runner, pending):
            st.info("The Setup differs from the current run: press **Reset** to start a fresh run with it.")
    except ConfigError as exc:
        st.warning(f"This Setup is not valid yet: {plain(exc)}")
