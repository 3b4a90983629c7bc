"""The Train page's offer to recover an autosaved run: "Recover the run you were training at step N?"

A tab's run is autosaved (genlab.live.autosave) every few minutes of training and when the server lets
it go (the tab was gone longer than the grace period, or the server stopped). When the same tab comes
back (its URL holds its token) to a fresh run, this offers the autosave back. A tab without one of its
own is told how many autosaves of earlier visits the Runs page lists.

Not a page itself: pages/train.py calls `offer_recovery(runner)`.
"""
from __future__ import annotations

import streamlit as st

from genlab.live import IDLE, TrainingRunner, autosave_name, autosave_root
from genlab.runs import CheckpointError, delete_run, list_runs, run_info
from pages.plain import plain
from pages.shared import checkpoint_root, tab_token

MESSAGE_KEY = "recovery.message"  # (kind, text) to show once, after a Recover / Discard callback


def _recover(runner: TrainingRunner, name: str) -> None:
    try:
        opened = runner.open_saved(name, root=autosave_root(checkpoint_root()))
    except (CheckpointError, ValueError) as exc:
        st.session_state[MESSAGE_KEY] = ("error", f"The autosaved run cannot be opened: {plain(exc)}")
        return
    if not opened.trainable:
        st.session_state[MESSAGE_KEY] = (
            "warning", f"The autosaved run (step {opened.step:,}) trained on data that is not "
                       f"available here ({plain(opened.dataset)}; uploads are not kept), so it cannot "
                       "continue. It stays listed on the Runs page under Autosaved runs.")
        return
    st.session_state[MESSAGE_KEY] = ("success", f"Recovered the run at step {opened.step:,}: press Start "
                                                "to continue, Save to keep it.")


def _discard(name: str) -> None:
    try:
        delete_run(name, autosave_root(checkpoint_root()))
    except CheckpointError as exc:
        st.session_state[MESSAGE_KEY] = ("error", f"Not discarded: {plain(exc)}")


def offer_recovery(runner: TrainingRunner) -> None:
    """Show the offer (or the outcome of the last Recover / Discard) while the tab's run is fresh."""
    kind, text = st.session_state.pop(MESSAGE_KEY, (None, ""))
    if kind:
        getattr(st, kind)(text)
    if runner.run_id != 0 or runner.step_count or runner.state != IDLE:
        return
    root, name = autosave_root(checkpoint_root()), autosave_name(tab_token())
    if (root / name).is_dir():
        try:
            info = run_info(root / name)
        except (CheckpointError, OSError):
            info = None
        if info is not None and info.steps:
            with st.container(border=True):
                st.markdown(f"**Recover the run you were training at step {info.steps:,}?** "
                            f"{plain(info.family.upper())} on {plain(info.dataset)}, autosaved {plain(info.created)}.")
                cols = st.columns([1, 1, 6])
                cols[0].button("Recover", key="recovery.recover", type="primary", on_click=_recover, args=(runner, name))
                cols[1].button("Discard", key="recovery.discard", on_click=_discard, args=(name,))
            return
    try:
        others = [info for info in list_runs(root) if info.ok]
    except CheckpointError:  # an unreadable autosave folder: nothing to offer
        return
    if others:
        st.caption(f"{len(others)} autosaved run(s) of earlier visits can be continued from the Runs page "
                   "(Autosaved runs).")
