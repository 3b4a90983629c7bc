"""A lesson in real headless Chromium: opened from its link, its first step's condition ticks while the
run trains live (issue 12)."""
from __future__ import annotations

import re

import pytest

from conftest import playwright_and_chromium, streamlit_server

pytestmark = pytest.mark.browser

sync_api, CHROMIUM = playwright_and_chromium()
expect = sync_api.expect
expect.set_options(timeout=180_000)  # a loaded machine: the first Train visit imports torch


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server("app.py", log_path, GENLAB_CHECKPOINT_DIR=str(tmp_path_factory.mktemp("runs"))) as url:
        yield url


def test_a_lessons_first_condition_ticks_during_a_live_run(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1700}).new_page()
            page.set_default_navigation_timeout(180_000)
            page.set_default_timeout(120_000)
            page.goto(f"{server}/train?lesson=saturation")
            expect(page.get_by_text(re.compile("^Waiting for: "))).to_be_visible()  # step 1 not met yet
            expect(page.get_by_text(re.compile(r"^Done at step \d"))).to_have_count(0)
            start = page.get_by_role("button", name="Start", exact=True)
            expect(start).to_be_enabled()
            start.click()
            expect(page.get_by_text(re.compile(r"^Done at step [\d,]+: "))).to_be_visible()
            expect(page.get_by_text(re.compile(r"^Done at step [\d,]+: `?d/fake < 0\.01"))).to_have_count(1)
        finally:
            browser.close()
