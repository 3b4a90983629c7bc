"""Small data in real headless Chromium: 500 images with adaptive augmentation (ADA's p and r_t appear
and move), and the Train page's start from the shipped Fashion-MNIST GAN (its samples at step 0)."""
from __future__ import annotations

import re

import pytest

from conftest import turn_on_interactive_charts, wait_for_quality

from test_browser import (  # noqa: F401 - fixtures: server, browser, new_tab
    LOAD_TIMEOUT_MS, browser, expect, sync_api, metric_value, new_tab, open_train, screenshot, server, start, step_count,
)

pytestmark = pytest.mark.browser


def choose(page, box_label: str, option: re.Pattern, tries: int = 3) -> None:
    """Pick `option` in the selectbox labelled `box_label`; again if a rerun closed the list first."""
    for attempt in range(tries):
        page.get_by_test_id("stSelectbox").filter(has_text=box_label).first.click()
        try:
            page.get_by_role("option", name=option).click(timeout=10_000)
            return
        except sync_api.TimeoutError:
            if attempt == tries - 1:
                raise


def test_500_images_with_ada_show_p_and_r_t_moving(server, new_tab):
    page = open_train(new_tab, server)
    choose(page, "Data set", re.compile("^Fashion-MNIST"))
    choose(page, "Training set size", re.compile("^500 images"))
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.get_by_text("Reset: a fresh run")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    choose(page, "Augment D's inputs", re.compile("^adaptive"))
    start(page)
    wait_for_quality(page, "r_t (ADA)", timeout_ms=LOAD_TIMEOUT_MS)
    wait_for_quality(page, "ADA p", r"^0\.(00[1-9]|0[1-9]\d|[1-9]\d\d)$", timeout_ms=LOAD_TIMEOUT_MS)  # p left 0.000
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(metric_value(page, "State", "paused").first).to_be_visible()
    # paused, the charts can be interactive plotly charts (while training they are pictures)
    turn_on_interactive_charts(page)
    expect(page.locator(".gtitle", has_text="Overfitting").first).to_be_visible()
    screenshot(page, "train_small_data_ada")


def test_start_from_the_shipped_run_shows_its_samples_at_step_0(server, new_tab):
    page = open_train(new_tab, server)
    choose(page, "Data set", re.compile("^Fashion-MNIST"))
    page.get_by_role("button", name="Start from fashion-gan").click()
    expect(page.get_by_text(re.compile("A fresh run from fashion-gan"))).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text(re.compile("Samples from fixed noise, step 0"))).to_be_visible()
    expect(page.get_by_test_id("stImage").first).to_be_visible()
    page.wait_for_function(  # the samples picture itself arrived and decoded, not only its frame
        "() => [...document.querySelectorAll('[data-testid=stImage] img')].some(i => i.complete && i.naturalWidth > 0)")
    assert step_count(page) == 0
    screenshot(page, "train_start_from_fashion_gan")
