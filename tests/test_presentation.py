"""Presentation mode: charts restyled for a projector, and the toggle on the Train page (AppTest)."""
from __future__ import annotations

import copy
import json

import numpy as np
import streamlit as st
from streamlit.testing.v1 import AppTest

from genlab import viz
from genlab.viz.presentation import FONT_SIZE, MIN_LINE_WIDTH, STRONG, presentation
from pages.shared import RUNNER_STATE_KEY


def loss_history(steps: int = 300):
    s = np.arange(1, steps + 1)
    rng = np.random.default_rng(0)
    return {"loss/d": (s, 1.4 + 0.1 * rng.standard_normal(steps)), "loss/g": (s, 0.7 + 0.1 * rng.standard_normal(steps))}


def as_text(spec: dict) -> str:
    return json.dumps(spec, sort_keys=True, default=lambda array: np.asarray(array).tolist())


def test_a_projector_chart_has_large_type_thick_lines_and_no_faint_raw_curves():
    figure = viz.loss_figure(loss_history())
    before = copy.deepcopy(figure.spec)
    shown = presentation(figure).spec
    assert as_text(figure.spec) == as_text(before)  # the input is left as it was
    raw = [t for t in before["data"] if t.get("opacity", 1.0) < 0.5 and not t.get("showlegend", True)]
    assert raw and len(shown["data"]) == len(before["data"]) - len(raw)
    assert all(t["line"]["width"] >= MIN_LINE_WIDTH for t in shown["data"] if "line" in t)
    assert shown["layout"]["font"]["size"] == FONT_SIZE
    assert shown["layout"]["xaxis"]["tickfont"]["size"] == FONT_SIZE
    colours = {t["line"].get("color") for t in shown["data"] if "line" in t} - {None}
    assert colours and not colours & set(STRONG)  # every palette colour replaced by its strong twin
    assert shown["layout"]["height"] > before["layout"].get("height", 0)


def test_the_toggle_enlarges_the_page_and_drops_panels(repo_root, monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")  # a closed tab's runner is reaped at once
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=60)
    at.query_params["present"] = "true"  # a link can ask for it
    at.switch_page("pages/train.py").run()
    try:
        assert not at.exception, at.exception
        assert at.toggle(key="present").value
        expanders = [e.label for e in at.expander]
        assert not any(label.startswith(("Evaluate", "Share")) for label in expanders)
        at.toggle(key="present").set_value(False).run()
        assert any(e.label.startswith("Share") for e in at.expander)
    finally:
        runner = at.session_state[RUNNER_STATE_KEY]
        st.cache_resource.clear()
        runner._join(10)


def test_presentation_mode_stays_on_when_a_page_opens_another(repo_root, monkeypatch, tmp_path):
    """Lessons' "Open on the Train page" (st.switch_page) dropped the toggle's value: a teacher's projector
    went back to small type."""
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=60)
    at.switch_page("pages/lessons.py").run()
    at.toggle(key="present").set_value(True).run()
    try:
        at.button(key=f"open.{next(b.key for b in at.button if b.key.startswith('open.'))[5:]}").click().run()
        assert not at.exception, at.exception
        assert at.title[0].value == "Train" and at.toggle(key="present").value
        at.run()  # and on the runs after
        assert at.toggle(key="present").value
    finally:
        runner = at.session_state[RUNNER_STATE_KEY]
        st.cache_resource.clear()
        runner._join(10)


def test_home_puts_its_formulas_in_one_column_on_a_projector(repo_root):
    """At 1280 px with the larger type, the two columns clipped the display formulas (446-572 px in 380)."""
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=60)
    at.run()
    assert len(at.columns) == 4  # the GAN / VAE and the regularizer columns
    at.toggle(key="present").set_value(True).run()
    assert not at.exception and len(at.columns) == 0 and len(at.latex) >= 6
