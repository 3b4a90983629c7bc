"""Runs: every saved run in a table; compare curves and samples; rename, delete, download, upload;
broken runs (with their error and a Delete button) and autosaved runs, each listed apart.

Thin by design: widgets and calls into genlab.runs / genlab.viz. Names, commands and messages that
quote them come from users (uploaded runs above all): shown as plain text (pages/plain.py).
Opening a run elsewhere goes through st.session_state:
    st.session_state["open_run"] = "<run folder path>"   -> the Train page loads it to continue training
    st.session_state["explore_run"] = "<run name>"        -> the Latent explorer selects it
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from genlab import runs
from genlab import viz
from genlab.live.autosave import autosave_root
from genlab.runs import META_FILE, CheckpointError, list_runs, read_history
from pages.plain import plain
from pages.shared import checkpoint_root, use_app_navigation

use_app_navigation()

ss = st.session_state

OPEN_RUN_KEY = "open_run"  # read (and popped) by the Train page: the folder of a run to continue training
EXPLORE_RUN_KEY = "explore_run"  # read (and popped) by the Latent explorer: a run name
PER_ROW = 4  # samples side by side
RENAME_OPEN_KEY = "runs.rename_open"
RENAME_ERROR_KEY = "runs.rename_error"  # (run, message) of the last rename that failed


def flash(kind: str, text: str) -> None:
    """A message shown on the next run of the page (callbacks cannot draw in place)."""
    ss.setdefault("runs.flash", []).append((kind, text))


def stamp(path: Path) -> str:
    try:
        stat = (path / META_FILE).stat()
        return f"{path.resolve()}|{stat.st_mtime_ns}"
    except OSError:
        return str(path)


@st.cache_data(max_entries=64, show_spinner=False)
def history_of(path: str, key: str) -> dict[str, list[float]]:
    try:
        return read_history(Path(path))
    except CheckpointError:
        return {}


def switch_to(page: str) -> None:
    try:
        st.switch_page(page)
    except StreamlitAPIException:  # page not registered (e.g. this page run on its own, in tests)
        st.info(f"Open **{page}** from the menu to continue.")


# --- callbacks ---------------------------------------------------------------------------------
def on_rename(old: str) -> None:
    new = ss.get("runs.new_name", "").strip()
    try:
        runs.rename_run(old, new, checkpoint_root())
    except CheckpointError as exc:  # said under the button, the panel kept open to try another name
        ss[RENAME_ERROR_KEY] = (old, f"Not renamed: {plain(exc)}")
        ss[RENAME_OPEN_KEY] = True
        return
    ss.pop(RENAME_ERROR_KEY, None)
    ss[RENAME_OPEN_KEY] = False
    ss["runs.manage"] = new
    ss.pop("runs.new_name", None)
    flash("success", f"Renamed **{plain(old)}** to **{plain(new)}**.")


def on_delete(name: str, root: Path, confirm_key: str = "runs.confirm_delete") -> None:
    if not ss.get(confirm_key):
        flash("warning", "Tick the confirmation box first.")
        return
    try:
        runs.delete_run(name, root)
    except CheckpointError as exc:
        flash("error", f"Not deleted: {plain(exc)}")
        return
    ss[confirm_key] = False
    ss.pop("runs.manage", None)
    ss["runs.compare"] = [n for n in ss.get("runs.compare", []) if n != name]
    flash("success", f"Deleted **{plain(name)}**.")


def on_import() -> None:
    upload = ss.get("runs.upload")
    if upload is None:
        flash("warning", "Choose a run zip to upload first.")
        return
    name = (ss.get("runs.import_name") or "").strip() or None
    try:
        info = runs.import_zip(upload.getvalue(), checkpoint_root(), name=name)
    except CheckpointError as exc:
        flash("error", f"Upload refused: {plain(exc)}")
        return
    ss["runs.manage"] = info.name
    flash("success", f"Imported **{plain(info.name)}** ({info.family.upper()} on {info.dataset}, {info.steps:,} steps).")


# --- page --------------------------------------------------------------------------------------
st.title("Runs")
root = checkpoint_root()
try:
    infos = list_runs(root)
except CheckpointError as exc:  # the folder itself cannot be read
    st.error(plain(exc))
    infos = []
for kind, text in ss.pop("runs.flash", []):
    getattr(st, kind)(text)
if not infos:
    st.info(f"No runs in `{root}` yet: train one and press **Save** on the Train page, or upload a run zip below.")

ok = [info for info in infos if info.ok]
by_name = {info.name: info for info in ok}

if infos:
    st.dataframe(pd.DataFrame(runs.table_rows(infos)), hide_index=True, width="stretch",
                 column_config={"steps": st.column_config.NumberColumn(format="%d")})

# --- compare -----------------------------------------------------------------------------------
if ok:
    st.subheader("Compare runs")
    if "runs.compare" not in ss:
        ss["runs.compare"] = runs.default_comparison(ok)
    ss["runs.compare"] = [n for n in ss["runs.compare"] if n in by_name]
    chosen = st.multiselect("Runs to compare", list(by_name), key="runs.compare",
                            help="e.g. β = 1 against β = 4, or spectral norm on against off")
    selected = [by_name[n] for n in chosen]
    if selected:
        histories = {info.name: history_of(str(info.path), stamp(info.path)) for info in selected}
        metrics = sorted({m for h in histories.values() for m in runs.curve_metrics(h)})
        diff = runs.differing_settings(selected) if len(selected) > 1 else []
        if diff and len(diff[0]) > 1:
            st.caption("Where these runs differ:")
            st.dataframe(pd.DataFrame(diff), hide_index=True)
        if metrics:
            preferred = next((m for m in ("loss/total", "loss/d", "loss/g") if m in metrics), metrics[0])
            if ss.get("runs.metric") not in metrics:
                ss["runs.metric"] = preferred
            cols = st.columns([3, 1])
            metric = cols[0].selectbox("Curve", metrics, key="runs.metric")
            log_y = cols[1].toggle("Log scale", key="runs.log")
            overlay = {name: runs.metric_series(h, metric) for name, h in histories.items()}
            names = [name for name, (steps, _) in overlay.items() if len(steps)]
            st.plotly_chart(viz.curves_figure(overlay, names, metric, log_y=log_y, uirevision=f"runs-{metric}"),
                            key="runs.chart")
            missing = [name for name in histories if name not in names]
            if missing:
                st.caption(f"No {plain(metric)} recorded for: {plain(', '.join(missing))}.")
        else:
            st.caption("These runs were saved without training curves.")
        st.caption("Samples (each run's preview, from its fixed noise):")
        for start in range(0, len(selected), PER_ROW):
            cols = st.columns(PER_ROW)
            for col, info in zip(cols, selected[start : start + PER_ROW]):
                with col:
                    if not info.has_preview:
                        st.caption(f"{plain(info.name)}: no preview saved")
                        continue
                    try:  # a run folder may hold anything: its preview is checked before it is decoded
                        st.image(runs.checked_preview(info.path), caption=f"{info.name} · step {info.steps:,}",
                                 output_format="PNG")
                    except (CheckpointError, OSError, ValueError) as exc:  # Pillow: ValueError, OSError
                        st.caption(f"{plain(info.name)}: preview not shown ({plain(exc)})")

# --- manage ------------------------------------------------------------------------------------
if ok:
    st.subheader("Manage a run")
    if ss.get("runs.manage") not in by_name:
        ss["runs.manage"] = ok[0].name
    name = st.selectbox("Run to manage", list(by_name), key="runs.manage")
    info = by_name[name]
    shipped = runs.is_shipped(info.path)
    st.text(f"{info.name} · {info.family.upper()} on {info.dataset} · {info.steps:,} steps"
            + (" · ships with genlab (read-only)" if shipped else ""))
    if info.command:
        st.caption("Made by:" if "\n" not in info.command else "Made by these commands, in order:")
        st.code(info.command, language=None, wrap_lines=True)
    if info.data_note:
        st.info(plain(info.data_note), icon=":material/dataset:")
    cols = st.columns(4)
    if cols[0].button("Continue training", key="runs.open", icon=":material/model_training:",
                      help="Open this run on the Train page, to train it further."):
        ss[OPEN_RUN_KEY] = str(info.path)
        switch_to("pages/train.py")
    if cols[1].button("Explore latent space", key="runs.explore", icon=":material/explore:"):
        ss[EXPLORE_RUN_KEY] = info.name
        switch_to("pages/latent.py")
    if cols[3].button("Fine-tune on…", key="runs.finetune", icon=":material/tune:",
                      help="Start a new run from this run's weights on the data chosen on the Train page."):
        ss["transfer.fine_tune"] = info.name  # read (and popped) by the Train page's transfer panel
        switch_to("pages/train.py")
    cols[2].download_button("Download zip", data=lambda n=name: runs.export_zip(n, checkpoint_root()),
                            file_name=f"{name}.zip", mime="application/zip", key="runs.download",
                            icon=":material/download:", on_click="ignore")

    if shipped:
        st.caption("Runs that ship with genlab cannot be renamed, deleted or overwritten, so that every tab "
                   "keeps them. **Continue training** and save under another name to change a copy.")
    with st.expander("Rename", key=RENAME_OPEN_KEY, on_change="rerun"):
        ss.setdefault("runs.new_name", "")
        st.text_input("New name", key="runs.new_name", placeholder=name,
                      help="Letters, digits, '.', '_' and '-'; an existing run is never overwritten.")
        st.button("Rename", key="runs.rename", on_click=on_rename, args=(name,), disabled=shipped)
        failed = ss.get(RENAME_ERROR_KEY)
        if failed is not None and failed[0] == name:
            st.error(failed[1], icon=":material/error:")
    with st.expander("Delete"):
        st.checkbox(f"Yes, delete **{plain(name)}** and its files permanently", key="runs.confirm_delete")
        st.button("Delete", key="runs.delete", type="primary", on_click=on_delete, args=(name, root),
                  disabled=shipped or not ss.get("runs.confirm_delete"))

# --- broken runs: what is wrong with each, and a way to delete it ------------------------------------
broken = [info for info in infos if not info.ok]
if broken:
    st.subheader("Broken runs")
    st.caption("These folders are not runs genlab can open. Each says what is wrong; delete it, or fix it by hand.")
    for info in broken:
        with st.expander(plain(info.name)):
            st.code(info.error, language=None, wrap_lines=True)
            confirm = f"runs.broken.confirm.{info.name}"
            st.checkbox("Yes, delete this folder and its files permanently", key=confirm)
            st.button("Delete", key=f"runs.broken.delete.{info.name}", on_click=on_delete,
                      args=(info.name, root, confirm), disabled=not ss.get(confirm))

# --- autosaved runs: unsaved progress of tabs that went away ------------------------------------
try:
    autosaved = [info for info in list_runs(autosave_root(root)) if info.ok]
except CheckpointError:
    autosaved = []
if autosaved:
    st.subheader("Autosaved runs")
    st.caption("Unsaved progress of runs whose tab went away (autosaved every few minutes of training and when "
               "the server let the run go). Continue one to train it further and save it.")
    for info in autosaved:
        with st.expander(f"{info.family.upper()} on {info.dataset} · step {info.steps:,} · autosaved "
                         f"{plain(info.created.replace('T', ' ').rstrip('Z'))}"):
            if st.button("Continue training", key=f"runs.autosave.open.{info.name}", icon=":material/model_training:"):
                ss[OPEN_RUN_KEY] = str(info.path)
                switch_to("pages/train.py")
            confirm = f"runs.autosave.confirm.{info.name}"
            st.checkbox("Yes, delete this autosave permanently", key=confirm)
            st.button("Delete", key=f"runs.autosave.delete.{info.name}", on_click=on_delete,
                      args=(info.name, autosave_root(root), confirm), disabled=not ss.get(confirm))

# --- upload ------------------------------------------------------------------------------------
st.subheader("Upload a run")
st.caption(f"A zip made by **Download zip** (a folder with config.json, meta.json, weights.safetensors, …), "
           f"at most {runs.MAX_ZIP_BYTES // 2**20} MB. It is checked like any checkpoint — never unpickled; "
           "pickles, scripts, links and paths outside the run are refused.")
st.file_uploader("Run zip", type=["zip"], key="runs.upload")
st.text_input("Import as (optional)", key="runs.import_name", placeholder="the name stored in the zip")
st.button("Import", key="runs.import", on_click=on_import, icon=":material/upload:")
