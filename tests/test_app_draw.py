"""AppTest for Draw your data: a drawing read from its link, edited, and trained on in the Train page."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from genlab.drawing_codec import EXTENT, encode_anchors, parse_drawing_path, snap
from pages.shared import RUNNER_STATE_KEY
from conftest import quality_numbers

TIMEOUT = 60
SQUARE = snap([(x, y) for x in (-2.0, 2.0) for y in np.linspace(-2.0, 2.0, 11)]
              + [(x, y) for y in (-2.0, 2.0) for x in np.linspace(-2.0, 2.0, 11)])  # a square's outline


@pytest.fixture
def draw(repo_root, monkeypatch, tmp_path):
    """The app on Draw your data, opened from a link that carries the square."""
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT).run()
    at.query_params["points"] = encode_anchors(SQUARE)
    at.switch_page("pages/draw.py").run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    runner = at.session_state[RUNNER_STATE_KEY] if RUNNER_STATE_KEY in at.session_state else None
    if runner is not None:
        runner.close(timeout=10)


def test_a_link_opens_its_drawing_and_edits_go_back_into_the_link(draw):
    assert draw.session_state["draw.anchors"] == SQUARE
    assert draw.get("plotly_chart")  # the plane is drawn
    draw.button(key="draw.clear").click().run()
    assert draw.session_state["draw.anchors"] == [] and "points" not in draw.query_params
    assert draw.button(key="draw.train").disabled  # nothing to train on
    draw.button(key="draw.undo_button").click().run()
    assert draw.session_state["draw.anchors"] == SQUARE
    assert draw.query_params["points"] == encode_anchors(SQUARE)


def test_sigma_goes_into_the_link_and_comes_back_from_it(draw, repo_root):
    draw.slider(key="draw.spread").set_value(0.3).run()
    assert draw.query_params["sigma"] == "0.3"
    reopened = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT).run()
    reopened.query_params["points"] = encode_anchors(SQUARE)
    reopened.query_params["sigma"] = "0.3"
    reopened.switch_page("pages/draw.py").run()
    assert reopened.slider(key="draw.spread").value == 0.3 and not reopened.warning
    draw.slider(key="draw.spread").set_value(0.1).run()  # the default: not written
    assert "sigma" not in draw.query_params


@pytest.mark.parametrize("sigma", ["9", "nan", "-0.1", "wide"])
def test_a_bad_sigma_in_a_link_is_named_and_the_default_used(repo_root, sigma):
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT).run()
    at.query_params["sigma"] = sigma
    at.switch_page("pages/draw.py").run()
    assert not at.exception
    assert at.slider(key="draw.spread").value == 0.1
    assert len(at.warning) == 1 and "σ" in at.warning[0].value and "0.02 to 0.5" in at.warning[0].value


def test_a_broken_link_says_what_is_wrong_and_starts_empty(repo_root):
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT).run()
    at.query_params["points"] = "AAB"
    at.switch_page("pages/draw.py").run()
    assert not at.exception
    assert "two characters per point" in at.warning[0].value
    assert at.session_state["draw.anchors"] == []


def distance_to_drawing(points: torch.Tensor) -> float:
    """Median distance of generated points to their nearest drawn point."""
    anchors = torch.tensor(SQUARE, dtype=points.dtype)
    return float(torch.cdist(points.cpu(), anchors).min(1).values.median())


@pytest.mark.slow
def test_training_on_the_drawing_moves_the_generated_points_onto_it(draw, wait_until):
    draw.slider(key="draw.spread").set_value(0.05).run()
    draw.button(key="draw.train").click().run()
    assert not draw.exception, [e.value for e in draw.exception]
    assert draw.title[0].value == "Train"
    runner = draw.session_state[RUNNER_STATE_KEY]
    assert runner.config.data.name == "points" and runner.trainer.data.x.shape == (4096, 2)
    assert parse_drawing_path(runner.config.data.path) == (SQUARE, 0.05)  # saved with the run
    assert runner.trainer.data.x.abs().max() <= EXTENT
    torch.manual_seed(0)
    before = distance_to_drawing(runner.trainer.preview(512))
    draw.switch_page("pages/train.py")  # AppTest stays on the page it switched to last
    draw.button(key="btn.start").click().run()
    wait_until(lambda: runner.step_count >= 1500, timeout=240, interval=0.5, what="1,500 training steps")
    draw.button(key="btn.pause").click().run()
    after = distance_to_drawing(runner.trainer.preview(512))
    print(f"median distance to the drawing: {before:.2f} before, {after:.2f} after {runner.step_count} steps")
    assert after < 0.3 < before
    draw.run()  # the live readout has the 2D quality numbers for drawn data
    shown = quality_numbers(draw)
    assert "Precision (k = 3)" in shown and "Recall (k = 3)" in shown


def test_the_train_page_keeps_the_drawing_through_a_reset(draw):
    draw.button(key="draw.train").click().run()
    draw.switch_page("pages/train.py").run()
    runner = draw.session_state[RUNNER_STATE_KEY]
    first = runner.run_id
    assert not [w.value for w in draw.warning if "not valid" in w.value]  # the Setup needs no CSV upload
    draw.button(key="btn.reset").click().run()
    assert not draw.exception and runner.run_id != first
    assert any(s.value.startswith("Reset: a fresh run") for s in draw.success), [e.value for e in draw.error]
    assert parse_drawing_path(runner.config.data.path)[0] == SQUARE
    assert any(f"your drawing** ({len(SQUARE)} points, blob width σ = 0.1)" in c.value for c in draw.caption)
