"""AppTest for the Dirac-GAN lab: the numbers beside the plane follow the sliders."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from pages.shared import RUNNER_STATE_KEY

TIMEOUT = 60  # the first run imports torch


EIGENVALUES = "Eigenvalues λ of J at (0, 0)"


def eigenvalues(at: AppTest, side: int = 0) -> list[complex]:
    """The eigenvalues a side shows ("a ± bi" or "a, b"), read back as numbers."""
    text = [m.value for m in at.metric if m.label == EIGENVALUES][side].replace("−", "-")
    pair = re.fullmatch(r"(\S+) ± (\S+)i", text)
    if pair:
        real, imag = float(pair[1]), float(pair[2])
        return [complex(real, -imag), complex(real, imag)]
    return [complex(float(v)) for v in text.split(", ")]


def closed_form(gamma: float) -> list[complex]:
    """λ of [[0, −½], [½, −γ]], the R1-regularized Dirac-GAN's Jacobian, ordered as the page orders them."""
    return sorted(np.linalg.eigvals([[0.0, -0.5], [0.5, -gamma]]).tolist(), key=lambda e: (e.real, e.imag))


def schemes(at: AppTest, side: int = 0):
    return at.table[side].value


@pytest.fixture
def page() -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "dirac.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_opens_on_the_unregularized_game_circling(page):
    assert eigenvalues(page) == pytest.approx([-0.5j, 0.5j], rel=5e-3, abs=1e-3)  # shown to 3 significant digits
    assert any("Re λ = 0" in c.value for c in page.caption)
    table = schemes(page)
    assert float(table.loc["alternating", "‖(θ, ψ)‖ after 500 steps"]) == pytest.approx(1.34, abs=0.01)
    assert table.loc["alternating", "ρ of one step, h = 0.2"] == "1.0000"
    assert list(table["near (0, 0)"]) == ["spirals out", "circles"]


def test_moving_gamma_moves_the_eigenvalues_to_the_closed_form(page):
    page.selectbox(key="dirac.A.regularizer").set_value("r1").run()
    assert eigenvalues(page) == pytest.approx(closed_form(1.0), rel=5e-3, abs=1e-3)  # a double eigenvalue −½
    assert float(schemes(page).loc["alternating", "‖(θ, ψ)‖ after 500 steps"]) < 1e-15
    assert list(schemes(page)["near (0, 0)"]) == ["converges", "converges"]

    page.slider(key="dirac.A.r1").set_value(0.4).run()
    assert eigenvalues(page) == pytest.approx(closed_form(0.4), rel=5e-3, abs=1e-3)  # a complex pair now
    page.slider(key="dirac.A.r1").set_value(3.0).run()
    assert eigenvalues(page) == pytest.approx(closed_form(3.0), rel=5e-3, abs=1e-3)  # two real ones


def test_the_step_size_decides_the_discrete_verdict(page):
    page.slider(key="dirac.h").set_value(0.5).run()
    assert schemes(page).loc["simultaneous", "ρ of one step, h = 0.5"] == f"{math.sqrt(1 + 0.25**2):.4f}"
    page.slider(key="dirac.steps").set_value(100).run()
    assert "‖(θ, ψ)‖ after 100 steps" in schemes(page).columns


def test_side_by_side_compares_two_games_and_says_where_there_is_no_jacobian(page):
    page.toggle(key="dirac.compare").set_value(True).run()
    assert eigenvalues(page, 0) == pytest.approx([-0.5j, 0.5j], rel=5e-3, abs=1e-3)  # side A: the plain GAN
    assert eigenvalues(page, 1) == pytest.approx(closed_form(1.0), rel=5e-3, abs=1e-3)  # side B: R1, γ = 1
    page.selectbox(key="dirac.B.loss").set_value("wasserstein")
    page.selectbox(key="dirac.B.regularizer").set_value("gradient_penalty").run()
    assert not page.exception
    assert [w.value for w in page.warning] == [
        "no linearization: the field of Wasserstein + WGAN-GP, λ = 1 has no derivative at (0, 0)"]
    assert list(schemes(page, 1).columns) == ["‖(θ, ψ)‖ after 500 steps"]  # the runs still show
    page.number_input(key="dirac.theta0").set_value(-2.0).run()  # a new start moves both sides' paths
    assert not page.exception and len(page.get("plotly_chart")) == 2


def test_try_it_on_the_ring_opens_train_with_the_same_loss_and_regularizer(repo_root, monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/dirac.py").run()
    at.selectbox(key="dirac.A.loss").set_value("nonsaturating")
    at.selectbox(key="dirac.A.regularizer").set_value("r1").run()
    at.slider(key="dirac.A.r1").set_value(0.35).run()
    at.button(key="dirac.A.to_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Train"
    runner = at.session_state[RUNNER_STATE_KEY]
    try:
        objective = runner.config.objective
        assert (runner.config.data.name, objective.gan_loss, objective.r1_gamma) == ("ring", "nonsaturating", 0.35)
        assert at.session_state["live.r1"] == 0.35  # the sidebar's R1 slider shows the game's γ
        assert any("From the Dirac-GAN lab" in s.value for s in at.success)
    finally:
        runner.close(timeout=10)


def test_the_lab_alone_says_where_the_ring_run_waits(page):
    page.button(key="dirac.A.to_train").click().run()
    assert not page.exception
    assert any("Open **Train**" in i.value for i in page.info)
