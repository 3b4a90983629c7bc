"""The Dirac-GAN lab in a real headless Chromium (Playwright) against a real `streamlit run app.py`.

Opens /dirac, moves the step-size slider with the keyboard and clicks a new start point on the plane;
the numbers beside it follow. Screenshots go to test-artifacts/. Skipped, with the reason, only where
Playwright or a Chromium binary is missing.
"""
from __future__ import annotations

import math
import re

import pytest

from conftest import REPO_ROOT, app_page, playwright_and_chromium
from conftest import wait_idle

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
LOAD_TIMEOUT_MS = 90_000  # the first visit imports torch
TIMEOUT_MS = 30_000
EXTENT = 2.5  # pages/dirac.py: the plane is [−2.5, 2.5]²

sync_api, CHROMIUM = playwright_and_chromium()
expect = sync_api.expect
expect.set_options(timeout=TIMEOUT_MS)  # the default 5 s is too short on a loaded machine


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory, "dirac", TIMEOUT_MS) as tab:
        yield tab



def scheme_row(page, scheme: str):
    """The row of the numbers table for one scheme (its cells: end norm, ρ, verdict)."""
    return page.get_by_test_id("stTable").locator("tr").filter(has_text=re.compile(rf"^\s*{scheme}"))


def test_the_lab_renders_and_follows_a_slider_and_a_click(page):
    expect(page.get_by_role("heading", name="Dirac-GAN lab")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    wait_idle(page, LOAD_TIMEOUT_MS)
    expect(scheme_row(page, "alternating")).to_contain_text("1.0000")
    expect(scheme_row(page, "alternating")).to_contain_text("circles")
    expect(page.locator(".legendtext", has_text="alternating GD").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dirac-lab.png"), full_page=True)

    slider = page.get_by_role("slider", name="Step size h")
    slider.focus()
    for _ in range(5):  # 0.20 -> 0.25
        slider.press("ArrowRight")
    expect(page.get_by_test_id("stTable").get_by_text("ρ of one step, h = 0.25")).to_be_visible()
    expect(scheme_row(page, "simultaneous")).to_contain_text(f"{math.hypot(1, 0.25 / 2):.4f}")  # max |1 + hλ|
    wait_idle(page)

    before = scheme_row(page, "alternating").inner_text()
    plot = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first
    box = plot.bounding_box()
    theta, psi = -1.5, 0.5  # a click target (every 0.125 on both axes)
    page.mouse.click(box["x"] + (theta + EXTENT) / (2 * EXTENT) * box["width"],
                     box["y"] + (EXTENT - psi) / (2 * EXTENT) * box["height"])
    expect(page.get_by_role("spinbutton", name="Start θ₀")).to_have_value("-1.50")
    expect(page.get_by_role("spinbutton", name="Start ψ₀")).to_have_value("0.50")
    wait_idle(page)
    expect(scheme_row(page, "alternating")).not_to_have_text(before)
    page.screenshot(path=str(ARTIFACTS / "dirac-lab-clicked.png"), full_page=True)
    assert not page.get_by_test_id("stException").count()
