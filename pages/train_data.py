"""The Train page's data-folder field for the standard image sets: where their files go, whether they
are found, and a refresh of the data set list after copying files. Not a page (app.py lists the pages)."""
from __future__ import annotations

import streamlit as st

from genlab.data import offline_sets
from genlab.data.folders import FOLDER_SETS, check_data_folder
from pages.plain import plain

ss = st.session_state

DATA_FOLDER_KEY = "setup.data-folder"


@st.cache_data(ttl=30, show_spinner=False)
def sets_on_disk() -> dict[str, bool]:
    """Which standard sets are found in the usual places (the data set list marks the others)."""
    return offline_sets()


@st.cache_data(ttl=30, show_spinner=False)
def checked_folder(name: str, folder: str):
    return check_data_folder(name, folder)


def refresh() -> None:
    """Forget what was found on disk, so that files copied a moment ago show at once."""
    sets_on_disk.clear()
    checked_folder.clear()


def data_folder_field(dataset: str) -> None:
    """The folder field and its note, for a data set that is read from files on the server."""
    if dataset not in FOLDER_SETS:
        return
    st.text_input("Data folder (optional)", key=DATA_FOLDER_KEY, placeholder="the usual places",
                  help="A folder on the server holding the data set's files; leave empty to search the usual places.")
    check = checked_folder(dataset, ss.get(DATA_FOLDER_KEY, "").strip())
    if check.found:
        st.caption(":green[Found on this machine.]")
    else:
        st.caption(plain(check.note))
    st.button("Look again", key="setup.data_refresh", on_click=refresh, icon=":material/refresh:",
              help="After copying files: check the folders again and refresh the data set list.")


def data_folder_value(dataset: str) -> str:
    """data.path for the standard sets: the folder typed in the field ("" = the usual places)."""
    return ss.get(DATA_FOLDER_KEY, "").strip() if dataset in FOLDER_SETS else ""
