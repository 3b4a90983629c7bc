"""The Train page's Save: it asks before replacing a saved run, and never replaces one that ships with
genlab (genlab.runs.shipped). Not a page (app.py lists the pages)."""
from __future__ import annotations

import streamlit as st

from genlab.live import TrainingRunner
from genlab.runs import check_name, free_copy_name, is_run_folder, is_shipped
from pages.plain import plain
from pages.shared import checkpoint_root
from pages.train_form import SAVE_NAME_KEY, flash

ss = st.session_state

PENDING_KEY = "save.pending_overwrite"  # the run name waiting for "Overwrite" or "Cancel"
OWN_KEY = "save.own"  # (run id, name) this tab last saved: saving it again replaces it without asking


def name_after_opening(name: str) -> str:
    """The Save name to offer after opening run `name`: itself (Save continues it), or a free copy name
    for a run that ships with genlab."""
    root = checkpoint_root()
    return free_copy_name(root, name) if is_shipped(root / name) else name


def save(runner: TrainingRunner, overwrite: bool = False) -> None:
    """Save under the name in the box; a run of that name that this tab did not save asks first."""
    name = check_name((ss.get(SAVE_NAME_KEY) or "").strip())  # a path such as "../x" is refused, not looked up
    root = checkpoint_root()
    target = root / name
    ss.pop(PENDING_KEY, None)
    if (target.exists() or target.is_symlink()) and not is_run_folder(target):
        flash("error", f"**{plain(name)}** is the name of something in the runs folder that is not a saved run "
                       f"(e.g. the FID classifiers); save under another name, e.g. **{plain(free_copy_name(root, name))}**.")
        return
    if target.exists() and not overwrite and ss.get(OWN_KEY) != (runner.run_id, name):
        if is_shipped(target):
            flash("error", f"**{plain(name)}** ships with genlab and cannot be overwritten: save under another "
                           f"name, e.g. **{plain(free_copy_name(root, name))}**.")
        else:
            ss[PENDING_KEY] = name
        return
    path = runner.save(name=name, root=str(root))
    ss[OWN_KEY] = (runner.run_id, path.name)
    flash("success", f"Saved step {runner.step_count:,} as **{plain(path.name)}**.")


def overwrite_prompt(runner: TrainingRunner) -> None:
    """The question shown while a Save waits for the user's word."""
    name = ss.get(PENDING_KEY)
    if not name or name != ss.get(SAVE_NAME_KEY):
        ss.pop(PENDING_KEY, None)
        return
    st.warning(f"A run named **{plain(name)}** already exists. Replace it with this run?")
    cols = st.columns([1, 1, 6])
    cols[0].button("Overwrite", key="btn.save_overwrite", type="primary", on_click=_confirmed, args=(runner,))
    cols[1].button("Cancel", key="btn.save_cancel", on_click=ss.pop, args=(PENDING_KEY, None))


def _confirmed(runner: TrainingRunner) -> None:
    try:
        save(runner, overwrite=True)
    except ValueError as exc:  # CheckpointError / ConfigError: a bad name, a root that cannot be written
        flash("error", f"Not saved: {plain(exc)}")
