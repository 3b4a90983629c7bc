"""The Train page's form: its session keys, and the mapping between its widgets and a RunConfig.

Setup widgets ("setup.<knob key>") describe the next run and need a Reset; live widgets
("live.<knob key>") change the running one at its next step. Both are filled from the runner's config
(`sync_widgets`) and read back into one (`setup_config`). Not a page (app.py lists the pages).
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from genlab.config import KNOBS, ConfigError, Knob, RunConfig, get_dotted, knob_for
from genlab.data import UPLOADS, missing_upload, source_from_upload, upload_path
from genlab.drawing_codec import is_drawing
from genlab.presets import config_for, default_run_name, preset
from genlab.trainers import pick_device
from pages.plain import plain
from pages.shared import session_runner
from pages.train_data import DATA_FOLDER_KEY, data_folder_value

ss = st.session_state

SETUP_KNOBS = tuple(k for k in KNOBS if k.ui and not k.live)
LIVE_KNOBS = tuple(k for k in KNOBS if k.ui and k.live)
KIND_FIELDS = ("model.family", "data.name")  # choosing these loads their preset
FLASH_KEY = "train.flash"
RUN_ID_KEY = "train.run_id"  # which run the widgets were last filled from
PENDING_PRESET_KEY = "train.pending_preset"  # a kind change's preset until a full page run has drawn it
SAVE_NAME_KEY = "save.name"


def setup_key(knob: Knob) -> str:
    return f"setup.{knob.key}"


def live_key(knob: Knob) -> str:
    return f"live.{knob.key}"


def upload_key(dataset: str) -> str:
    return f"setup.upload.{dataset}"


def form_value(path: str, config: RunConfig) -> Any:
    """A field's value as the Setup widgets show it (the run's, for fields without a widget now)."""
    key = setup_key(knob_for(path))
    return ss[key] if key in ss else get_dotted(config, path)


def shown_in_setup(knob: Knob, config: RunConfig) -> bool:
    """Whether the Setup shows `knob` for the family, data set, ... its widgets describe now."""
    return knob.applies(lambda path: form_value(path, config))


def flash(kind: str, text: str) -> None:
    """A message shown once, on the next full run of the page (callbacks cannot draw in place)."""
    ss.setdefault(FLASH_KEY, []).append((kind, text))


def sync_widgets(runner) -> None:
    """Fill the widgets from the runner's config where they have no value (first visit, back from
    another page, a widget hidden for a while) or when the run was replaced (Reset, a loaded run)."""
    config = runner.config
    replaced = ss.get(RUN_ID_KEY) != (id(runner), runner.run_id)
    if replaced:
        preset_drawn()  # the widgets show the new run's settings from here on
    for knobs, key_of in ((SETUP_KNOBS, setup_key), (LIVE_KNOBS, live_key)):
        for knob in knobs:
            if replaced or key_of(knob) not in ss:
                ss[key_of(knob)] = get_dotted(config, knob.path)
    if replaced or DATA_FOLDER_KEY not in ss:
        ss[DATA_FOLDER_KEY] = "" if config.data.name in UPLOADS else config.data.path
    if replaced or SAVE_NAME_KEY not in ss:
        ss[SAVE_NAME_KEY] = f"{default_run_name(config.model.family, config.data.name)}-seed{config.seed}"
    ss[RUN_ID_KEY] = (id(runner), runner.run_id)


def setup_config(runner) -> RunConfig:
    """The RunConfig the Setup widgets describe, with the run's current live values (may raise ConfigError)."""
    current = runner.config
    changes = {k.path: form_value(k.path, current) for k in SETUP_KNOBS}
    family, dataset = (changes[path] for path in KIND_FIELDS)
    changes["data.path"] = _data_path(dataset, current)
    changes["name"] = default_run_name(family, dataset)
    if (family, dataset) != (current.model.family, current.data.name):
        # another kind of run: start from its preset (learning rates, Adam betas, ...), not from
        # this run's live values; the Setup widgets (already filled from the preset) go on top
        return config_for(family, dataset, dotted=changes)
    return current.replace(**changes)


def _data_path(dataset: str, current: RunConfig) -> str:
    """The uploaded file's name for an uploaded set, else the data-folder field's value; a drawing's run
    (genlab.data.drawn, from Draw your data) keeps its drawing while no CSV is uploaded."""
    if dataset == "points" and ss.get(upload_key(dataset)) is None and is_drawing(current.data.path):
        return current.data.path
    return upload_path(_upload(dataset).name) if dataset in UPLOADS else data_folder_value(dataset)


def setup_differs(runner, config: RunConfig) -> bool:
    paths = [k.path for k in SETUP_KNOBS] + ["data.path"]
    return any(get_dotted(runner.config, path) != get_dotted(config, path) for path in paths)


def uploaded_data(config: RunConfig):
    """The DataSource of the uploaded file a run on an uploaded set needs (None for the other sets)."""
    if config.data.name not in UPLOADS or is_drawing(config.data.path):
        return None
    upload = _upload(config.data.name)
    return source_from_upload(config.data, upload.name, upload.getvalue(), device=pick_device(config.device))


def _upload(dataset: str):
    """The file uploaded for `dataset` (ConfigError while there is none)."""
    upload = ss.get(upload_key(dataset))
    if upload is None:
        raise missing_upload(dataset)
    return upload


def on_kind_change() -> None:
    """A new model family or data set: fill the Setup with genlab.presets' starting values for that
    pair (the CLI uses the same), e.g. an MLP for 2D data, a small conv net for images.

    Streamlit stops a page run when the browser asks for a newer one, and the newer request carries the
    widget values the browser shows, which overwrite what this callback wrote if the stopped run never
    sent the browser its new ones (quick clicks while a first visit is still drawing: VAE, then Shapes,
    then Reset left the 2D presets' MLP in the Setup in 1 of 5 fresh servers). So the preset is kept
    and written again (`restore_pending_preset`) until a run of the whole page has drawn it."""
    values = preset(*(ss[setup_key(knob_for(path))] for path in KIND_FIELDS))
    pending = {setup_key(knob): values[knob.path] for knob in SETUP_KNOBS
               if knob.path in values and knob.path not in KIND_FIELDS}
    ss.update(pending)
    ss[PENDING_PRESET_KEY] = pending


def restore_pending_preset() -> None:
    """Write the latest kind change's preset into the Setup again while no full page run has drawn it
    (see on_kind_change); before any Setup widget of a run, and before a Reset reads the Setup."""
    ss.update(ss.get(PENDING_PRESET_KEY, {}))


def preset_drawn() -> None:
    """Forget the pending preset: a full run of the page has drawn it (the browser has its values now),
    or the run was replaced and the widgets show the new run's settings."""
    ss.pop(PENDING_PRESET_KEY, None)


def on_live_change(path: str) -> None:
    try:
        session_runner().set_live(**{path: ss[live_key(knob_for(path))]})
    except ConfigError as exc:
        flash("error", f"Not applied: {plain(exc)}")
