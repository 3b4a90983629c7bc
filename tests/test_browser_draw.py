"""Draw your data in a real headless Chromium (Playwright) against a real `streamlit run app.py`.

Drags a lasso and clicks on the plane of /draw, trains a GAN on the drawing from the Train page, and
reads the generated points off the Train page's chart: they move onto the drawing. Screenshots go to
test-artifacts/. Skipped, with the reason, only where Playwright or a Chromium binary is missing.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from conftest import REPO_ROOT, app_page, playwright_and_chromium
from conftest import turn_on_interactive_charts, wait_idle
from genlab.drawing_codec import EXTENT, decode_anchors

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = REPO_ROOT / "test-artifacts"
LOAD_TIMEOUT_MS = 90_000  # the first visit imports torch
TIMEOUT_MS = 30_000
TRAIN_STEPS = 1500
LASSO = [(1.0, 0.6), (3.2, 0.6), (3.2, 3.2), (1.0, 3.2)]  # a square in the upper right, in data coordinates
CLICK = (-2.0, -2.0)
GENERATED_POINTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .flatMap(plot => plot._fullData || []).filter(trace => trace.name === 'generated')
    .map(trace => [Array.from(trace.x), Array.from(trace.y)])"""

sync_api, CHROMIUM = playwright_and_chromium()
expect = sync_api.expect
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with app_page(tmp_path_factory, "draw", TIMEOUT_MS) as tab:
        yield tab



def screen(box: dict, x: float, y: float) -> tuple[float, float]:
    """The pixel of data point (x, y) on a plot area whose ranges are [−EXTENT, EXTENT]²."""
    return (box["x"] + (x + EXTENT) / (2 * EXTENT) * box["width"],
            box["y"] + (EXTENT - y) / (2 * EXTENT) * box["height"])


def generated_points(page) -> np.ndarray:
    traces = page.evaluate(GENERATED_POINTS_JS)
    assert traces, "no chart with generated points on the Train page"
    x, y = traces[0]
    return np.stack([x, y], 1)


def median_distances(points: np.ndarray, anchors: list) -> tuple[float, float]:
    """(median distance from a generated point to the drawing, from a drawn point to the generated ones):
    samples on the drawing, and the drawing covered by samples."""
    distances = np.linalg.norm(points[:, None, :] - np.asarray(anchors)[None], axis=-1)
    return float(np.median(distances.min(1))), float(np.median(distances.min(0)))


def step_count(page) -> int:
    text = page.get_by_test_id("stMetric").filter(has_text=re.compile(r"^\s*Step")).first.inner_text()
    return int(re.sub(r"\D", "", text.split("\n", 1)[1]))


def test_draw_a_shape_train_on_it_and_the_generated_points_move_onto_it(page):
    expect(page.get_by_role("heading", name="Draw your data")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    wait_idle(page, LOAD_TIMEOUT_MS)
    box = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first.bounding_box()
    page.mouse.click(*screen(box, *CLICK))  # the chart opens in pan mode, where a click adds a point
    expect(page.locator(".gtitle", has_text="Your points: 1")).to_be_visible()
    wait_idle(page)
    page.mouse.move(*screen(box, 0.0, 0.0))  # the toolbar shows while the pointer is over the chart
    page.locator("[data-testid='stPlotlyChart'] .modebar-btn[data-val='lasso']").first.click()
    page.mouse.move(*screen(box, *LASSO[0]))
    page.mouse.down()
    for corner in LASSO[1:] + LASSO[:1]:
        page.mouse.move(*screen(box, *corner), steps=8)
    page.mouse.up()
    expect(page.locator(".gtitle", has_text=re.compile(r"Your points: \d{3}"))).to_be_visible()
    wait_idle(page)
    anchors = decode_anchors(parse_qs(urlsplit(page.url).query)["points"][0])
    assert anchors[0] == CLICK and len(anchors) >= 100
    near = 0.21  # a grid step: pixels round to the nearest node
    assert all(1.0 - near <= x <= 3.2 + near and 0.6 - near <= y <= 3.2 + near for x, y in anchors[1:])
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "draw-your-data.png"), full_page=True)

    page.get_by_role("button", name="Train a GAN on it").click()
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text("A GAN for your drawing")).to_be_visible()
    wait_idle(page, LOAD_TIMEOUT_MS)
    turn_on_interactive_charts(page)
    wait_idle(page)
    page.wait_for_timeout(2000)  # the live view's next draw
    # the untrained G puts every sample near the drawing's centre (the networks see it standardized):
    # on the drawing, perhaps, but covering none of it
    before = median_distances(generated_points(page), anchors)
    page.get_by_role("button", name="Start").click()
    for _ in range(600):
        if step_count(page) >= TRAIN_STEPS:
            break
        page.wait_for_timeout(500)
    page.get_by_role("button", name="Pause").click()
    wait_idle(page)
    page.wait_for_timeout(2000)  # the live view's next draw shows the paused run's last samples
    after = median_distances(generated_points(page), anchors)
    page.screenshot(path=str(ARTIFACTS / "draw-your-data-trained.png"), full_page=True)
    print(f"median distance of a sample to the drawing / of the drawing to a sample: {before[0]:.2f} / "
          f"{before[1]:.2f} before, {after[0]:.2f} / {after[1]:.2f} after {step_count(page)} steps")
    assert after[0] < 0.3 and after[1] < 0.3 < before[1]
    assert not page.get_by_test_id("stException").count()
