"""The Train page's "start from a trained run" and transfer panel (AppTest)."""
from __future__ import annotations

import pytest
import torch

from genlab.runs import load_run
from genlab.transfer import SHIPPED_ROOT
from test_app_train import app, runner_of  # noqa: F401 - `app` is the Train page fixture

SHIPPED = "fashion-gan"


@pytest.fixture
def shipped():
    if not (SHIPPED_ROOT / SHIPPED / "weights.safetensors").is_file():
        pytest.skip(f"the shipped run {SHIPPED} is not in {SHIPPED_ROOT}")
    return load_run(SHIPPED_ROOT / SHIPPED, device="cpu", load_data=False).trainer


def buttons(at) -> set[str]:
    return {b.key for b in at.button}


def test_picking_fashion_mnist_offers_the_shipped_run_and_step_0_shows_its_samples(app, shipped):
    assert "transfer.trained" not in buttons(app)  # the ring: no trained start to offer
    app.selectbox(key="setup.dataset").set_value("fashion_mnist").run()
    assert "transfer.trained" in buttons(app)
    assert any(SHIPPED in info.value for info in app.info)
    app.button(key="transfer.trained").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    runner = runner_of(app)
    assert runner.config.transfer.from_run == SHIPPED and runner.step_count == 0
    assert runner.config.data.name == "fashion_mnist"
    preview = runner.snapshot().preview
    assert preview is not None
    torch.testing.assert_close(torch.tensor(preview.copy()), shipped.preview(), atol=1e-6, rtol=0)
    assert "transfer.trained" not in buttons(app)  # started from it: the offer is gone
    assert any(SHIPPED in s.value for s in app.success)


def test_a_random_start_does_not_show_the_shipped_samples(app, shipped):
    app.selectbox(key="setup.dataset").set_value("fashion_mnist").run()
    app.button(key="btn.reset").click().run()
    assert not app.exception
    runner = runner_of(app)
    assert runner.config.transfer.from_run == ""
    assert runner.trainer.preview().shape == shipped.preview().shape
    assert not torch.allclose(runner.trainer.preview(), shipped.preview(), atol=1e-2)


def metric_value(at, label: str) -> str | None:
    return next((m.value for m in at.metric if m.label == label), None)


@pytest.mark.slow
def test_500_images_with_adaptive_augmentation_show_p_and_r_t_moving(app, wait_until):
    app.selectbox(key="setup.dataset").set_value("fashion_mnist").run()
    app.selectbox(key="setup.train-size").set_value(500).run()
    app.button(key="btn.reset").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    runner = runner_of(app)
    assert len(runner.trainer.data) == 500
    app.selectbox(key="live.augment").set_value("ada").run()
    app.select_slider(key="live.ada-speed").set_value(10_000).run()
    assert runner.config.augment.policy == "ada"
    app.button(key="btn.start").click().run()

    def p_moved(at):
        at.run()
        assert not at.exception, at.exception
        value = metric_value(at, "ADA p")
        return value is not None and metric_value(at, "r_t (ADA)") is not None and float(value) > 0

    wait_until(lambda: p_moved(app), timeout=120, interval=0.5, what="ADA p above 0 with r_t shown")
    app.button(key="btn.pause").click().run()
    history = runner.snapshot().history
    assert "d/r_t" in history and "d/augment_p" in history
