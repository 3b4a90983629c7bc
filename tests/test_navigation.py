"""A first visit straight to a page uses app.py's st.navigation (pages/shared.py use_app_navigation).

Streamlit has no public way to do this with the pages in a top-level pages/ folder, so
use_app_navigation sets a private Streamlit flag. These tests fail loudly when a Streamlit upgrade
removes the flag or stops reading it, saying what to do.
"""
from __future__ import annotations

import re
from importlib.metadata import version

import streamlit as st
from packaging.requirements import Requirement
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT

WHAT_TO_DO = (
    "pages/shared.py use_app_navigation() sets the private flag "
    "streamlit.runtime.pages_manager.PagesManager.uses_pages_directory so that a fresh server's first "
    "visit to /train runs app.py's st.navigation instead of Streamlit's legacy pages/ mode. Either "
    "this Streamlit ({version}) changed that, or use_app_navigation no longer does it. Look for a public "
    "replacement (st.navigation's docs), update use_app_navigation, check a fresh server's first visit "
    "with tests/test_browser.py, and move the streamlit pin in requirements.txt to the range you tested."
)


def streamlit_pin() -> Requirement:
    lines = (REPO_ROOT / "requirements.txt").read_text().splitlines()
    (line,) = [line for line in lines if re.match(r"streamlit\b", line)]
    return Requirement(line.split("#")[0].strip())


def test_streamlit_is_pinned_and_the_installed_version_is_in_the_pinned_range():
    pin = streamlit_pin()
    assert pin.specifier and any(s.operator in ("<", "<=", "==", "~=") for s in pin.specifier), \
        f"requirements.txt must bound streamlit from above (it is {pin}): " + WHAT_TO_DO.format(version="any")
    installed = version("streamlit")
    assert pin.specifier.contains(installed), \
        f"streamlit {installed} is outside the tested range {pin.specifier} in requirements.txt. " \
        + WHAT_TO_DO.format(version=installed)


def test_a_first_visit_straight_to_a_page_runs_app_navigation(monkeypatch, tmp_path):
    from streamlit.runtime import pages_manager

    installed = version("streamlit")
    flag = getattr(pages_manager.PagesManager, "uses_pages_directory", "missing")
    assert flag != "missing", "PagesManager.uses_pages_directory is gone. " + WHAT_TO_DO.format(version=installed)

    navigation_calls = []
    real_navigation = st.navigation

    def spy(*args, **kwargs):
        navigation_calls.append(True)
        return real_navigation(*args, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path))  # no runs: the page answers at once
    # AppTest starts each run like a fresh server: the flag is re-derived from app.py's folder (pages/ is
    # there, so the legacy mode is on), and switch_page makes the run start on /latent, as a first visit would.
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/latent.py")
    try:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert [t.value for t in at.title] == ["Latent explorer"]
        assert navigation_calls, "a first visit to /latent ran the page without app.py's navigation. " \
            + WHAT_TO_DO.format(version=installed)
    finally:
        pages_manager.PagesManager.uses_pages_directory = flag


def test_the_page_icon_is_inline_so_an_offline_browser_fetches_nothing(monkeypatch, tmp_path):
    """A ":material/…:" or emoji page icon makes the browser fetch the favicon from another host (it
    failed on every visit offline); the app's icon must reach the browser as a data: URL."""
    from streamlit.commands.page_config import _get_favicon_string

    icons = []
    real_set_page_config = st.set_page_config

    def spy(*args, **kwargs):
        icons.append(kwargs.get("page_icon"))
        return real_set_page_config(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", spy)
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert icons and all(_get_favicon_string(icon).startswith("data:image/svg+xml;base64,") for icon in icons)
