"""A shared link in real headless Chromium: a fresh browser opens the same setup and takes the same first
step; a control the link locks cannot be changed."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import open_expander, playwright_and_chromium, streamlit_server

pytestmark = pytest.mark.browser

sync_api, CHROMIUM = playwright_and_chromium()
expect = sync_api.expect
expect.set_options(timeout=180_000)  # a loaded machine: the first Train visit imports torch
LINK = "train?family=gan&dataset=ring&seed=5&r1=0.5&lock=r1&tab=someone-elses-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server("app.py", log_path, GENLAB_CHECKPOINT_DIR=str(tmp_path_factory.mktemp("runs"))) as url:
        yield url


def first_step(browser, url: str) -> tuple[str, str]:
    """Open `url` in a fresh browser context, take one step; (the page's shared link, its first losses)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1700})
    try:
        page = context.new_page()
        page.set_default_navigation_timeout(180_000)
        page.set_default_timeout(120_000)
        page.goto(url)
        step = page.get_by_role("button", name="Step", exact=True)
        expect(step).to_be_enabled()
        locked = page.get_by_test_id("stSidebar").get_by_test_id("stSlider").filter(has_text="R1 γ")
        expect(locked.get_by_role("slider")).to_be_disabled()  # the link locks R1
        step.click()
        expect(page.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^1$")).first).to_be_visible()
        name = page.get_by_placeholder("run name")
        name.fill("shared")
        name.press("Enter")  # a full re-run: the share panel reads the first step
        open_expander(page, "Share · teach · hand in")
        caption = page.get_by_text(re.compile(r"^First step of this run: "))
        expect(caption).to_be_visible()
        link = page.get_by_test_id("stCode").filter(has_text="family=gan").first.inner_text()
        return link.strip(), caption.inner_text()
    finally:
        context.close()


def test_a_shared_link_opens_the_same_run_in_a_fresh_browser(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            link, losses = first_step(browser, f"{server}/{LINK}")
            params = dict(parse_qsl(urlsplit(link).query))
            assert params == {"family": "gan", "dataset": "ring", "seed": "5", "r1": "0.5", "lock": "r1"}  # no tab
            again_link, again = first_step(browser, link)
        finally:
            browser.close()
    assert again_link == link and again == losses
    assert re.search(r"loss/d \d", losses)
