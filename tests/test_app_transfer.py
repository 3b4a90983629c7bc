"""The Train page's "start from a trained run" and transfer panel (AppTest)."""
from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file

from genlab.runs import load_run
from genlab.transfer import SHIPPED_ROOT
from test_app_train import app, runner_of  # noqa: F401 - `app` is the Train page fixture
from conftest import quality_numbers

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
        shown = quality_numbers(at)
        return "r_t (ADA)" in shown and float(shown.get("ADA p", 0)) > 0

    wait_until(lambda: p_moved(app), timeout=120, interval=0.5, what="ADA p above 0 with r_t shown")
    app.button(key="btn.pause").click().run()
    history = runner.snapshot().history
    assert "d/r_t" in history and "d/augment_p" in history


def test_runs_page_fine_tune_asks_the_train_page_for_that_run(repo_root, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path))
    shutil.copytree(SHIPPED_ROOT / "ring-gan", tmp_path / "my-ring")
    at = AppTest.from_file(str(repo_root / "pages" / "runs.py"), default_timeout=60).run()
    at.selectbox(key="runs.manage").set_value("my-ring").run()
    at.button(key="runs.finetune").click().run()
    assert not at.exception, at.exception
    assert at.session_state["transfer.fine_tune"] == "my-ring"  # what the Train page's panel reads


def test_the_train_page_fine_tunes_the_requested_run_with_freezed(app, tmp_path):
    shutil.copytree(SHIPPED_ROOT / "ring-gan", tmp_path / "checkpoints" / "my-ring")
    app.session_state["transfer.fine_tune"] = "my-ring"  # as the Runs page's "Fine-tune on…" leaves it
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="transfer.parent").value == "my-ring"
    app.number_input(key="transfer.freeze-d").set_value(1).run()
    app.button(key="transfer.start").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    runner = runner_of(app)
    assert runner.config.transfer.from_run == "my-ring" and runner.config.transfer.freeze_d == 1
    saved = load_file(str(tmp_path / "checkpoints" / "my-ring" / "weights.safetensors"))
    for name, value in runner.trainer.discriminator.state_dict().items():
        torch.testing.assert_close(value, saved[f"networks.discriminator.{name}"], rtol=0, atol=0)
    assert runner.trainer.transfer.frozen == runner.trainer.frozen_layers and len(runner.trainer.frozen_layers) == 1
