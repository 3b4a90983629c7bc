"""The one training loop (genlab.training.run) and its hooks."""
from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch

from genlab.config import RunConfig
from genlab.trainers import DivergenceError, make_trainer
from genlab.training import (
    DIVERGED, REACHED, STOPPED, CheckpointHook, HistoryHook, Hook, MetricHistory, PreviewHook, QualityHook,
    SceneHook, run,
)
from genlab.training.loop import INTERRUPTED
from genlab.training.scene import scene_setup

RING = RunConfig(name="ring-test", seed=0).replace(**{"data.n_samples": 500, "model.width": 16, "optim.batch_size": 32})


class FakeTrainer:
    """Counts steps; raises DivergenceError on step `diverge_at`, KeyboardInterrupt on `interrupt_at`."""

    config = RING

    def __init__(self, diverge_at: int | None = None, interrupt_at: int | None = None):
        self.step_count = 0
        self.diverge_at, self.interrupt_at = diverge_at, interrupt_at
        self.kinds: list[str] = []

    def state_dict(self):
        return {"step": self.step_count}

    def autocast(self):
        return contextlib.nullcontext()

    def load_state_dict(self, state):
        self.step_count = state["step"]

    def check_weights_after_unread_gradients(self):
        pass  # a fake step reads everything it checks

    def _take(self, kind: str) -> dict[str, float]:
        if self.step_count + 1 == self.diverge_at:
            raise DivergenceError("loss/d", self.step_count + 1, math.nan)
        if self.step_count + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.step_count += 1
        self.kinds.append(kind)
        return {"step": float(self.step_count), "loss/d": 1.0 / self.step_count}

    def step(self):
        return self._take("both")

    def step_d(self):
        return self._take("d")


class Recorder(Hook):
    def __init__(self, name: str, calls: list):
        self.name, self.calls = name, calls

    def on_start(self, trainer):
        self.calls.append((self.name, "start", trainer.step_count))

    def on_step(self, trainer, metrics):
        self.calls.append((self.name, "step", int(metrics["step"])))

    def on_divergence(self, trainer, error):
        self.calls.append((self.name, "divergence", error.step))

    def on_end(self, trainer, result):
        self.calls.append((self.name, "end", result.reason))


def test_hooks_are_called_in_order_until_the_step_is_reached():
    calls: list = []
    trainer = FakeTrainer()
    result = run(trainer, until=2, hooks=[Recorder("a", calls), Recorder("b", calls)])
    assert result.reason == REACHED and result.steps == 2 and result.metrics["step"] == 2.0 and result.error is None
    assert calls == [("a", "start", 0), ("b", "start", 0), ("a", "step", 1), ("b", "step", 1),
                     ("a", "step", 2), ("b", "step", 2), ("a", "end", REACHED), ("b", "end", REACHED)]
    assert run(trainer, until=2).steps == 0  # already there


def test_divergence_is_reported_to_hooks_and_in_the_result():
    calls: list = []
    trainer = FakeTrainer(diverge_at=3)
    result = run(trainer, until=10, hooks=[Recorder("a", calls)], snapshot_every=2)
    assert result.reason == DIVERGED and result.steps == 2 and trainer.step_count == 2  # back at the snapshot
    assert isinstance(result.error, DivergenceError) and result.error.step == 3 and result.error.term == "loss/d"
    assert result.error.rolled_back_to == 2 and "rolled back to step 2" in str(result.error)
    assert result.metrics["step"] == 2.0  # the last good step's metrics
    assert calls[-2:] == [("a", "divergence", 3), ("a", "end", DIVERGED)]


def test_the_gate_holds_each_step_and_can_stop():
    trainer, entered, inside = FakeTrainer(), [], []

    class Inside(Hook):
        def on_step(self, trainer, metrics):
            inside.append(held[0])

    held = [False]

    @contextlib.contextmanager
    def gate():
        entered.append(trainer.step_count)
        if trainer.step_count == 3:
            yield False
            return
        held[0] = True
        yield True
        held[0] = False

    result = run(trainer, hooks=[Inside()], gate=gate)  # no `until`: the gate decides
    assert result.reason == STOPPED and result.steps == 3 and entered == [0, 1, 2, 3]
    assert inside == [True, True, True]  # hooks run while the gate is held


def test_manual_kinds_and_bad_kinds():
    trainer = FakeTrainer()
    assert run(trainer, until=1, kind="d").reason == REACHED and trainer.kinds == ["d"]
    with pytest.raises(ValueError, match="GANs only"):
        run(trainer, until=2, kind="g")
    with pytest.raises(ValueError, match="step kind"):
        run(trainer, until=2, kind="x")


def test_an_interrupt_reaches_on_end_then_propagates():
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        run(FakeTrainer(interrupt_at=2), until=5, hooks=[Recorder("a", calls)])
    assert calls[-1] == ("a", "end", INTERRUPTED)


def test_history_hook_every_n_keeps_the_last_step():
    history = MetricHistory()
    run(FakeTrainer(), until=7, hooks=[HistoryHook(history, every=3)])
    assert history.to_lists()["step"] == [3.0, 6.0, 7.0]


def test_checkpoint_hook_saves_on_the_way_and_at_the_end_but_not_after_divergence():
    saved: list[int] = []
    hook = CheckpointHook(lambda t: saved.append(t.step_count) or f"run@{t.step_count}", every=2)
    run(FakeTrainer(), until=4, hooks=[hook])
    assert saved == [2, 4] and hook.path == "run@4"  # step 4 is saved once
    saved.clear()
    hook = CheckpointHook(lambda t: saved.append(t.step_count), every=2)
    run(FakeTrainer(diverge_at=4), until=9, hooks=[hook])
    assert saved == [2] and hook.saved_at == 2
    saved.clear()
    with pytest.raises(KeyboardInterrupt):
        run(FakeTrainer(interrupt_at=4), until=9, hooks=[CheckpointHook(lambda t: saved.append(t.step_count))])
    assert saved == [3]  # Ctrl-C keeps what was trained


def test_quality_hook_is_scheduled_by_steps_and_survives_failures(monkeypatch):
    from genlab import evaluation as detectors

    seen: list[int] = []
    monkeypatch.setattr(detectors, "cheap_metrics", lambda t: seen.append(t.step_count) or {"quality/x": 1.0})
    history = MetricHistory()
    run(FakeTrainer(), until=7, hooks=[QualityHook(history, every=3)])
    assert seen == [3, 6] and history.to_lists()["step"] == [3.0, 6.0]

    def broken(trainer):
        raise RuntimeError("boom")

    monkeypatch.setattr(detectors, "cheap_metrics", broken)
    errors: list[str] = []
    hook = QualityHook(MetricHistory(), every=1, on_error=errors.append)
    assert run(FakeTrainer(), until=2, hooks=[hook]).reason == REACHED
    assert errors == ["RuntimeError: boom"] * 2 and hook.last_error == "RuntimeError: boom"


def test_pictures_show_the_last_step_of_a_bounded_run():
    trainer, shown = make_trainer(RING), []
    preview = PreviewHook(shown.append, every_s=3600.0)  # the first step draws, then not for an hour
    run(trainer, until=3, hooks=[preview])
    assert [step for step, _ in shown] == [1, 3]
    step, samples = shown[-1]
    assert samples.shape == (64, 2) and not samples.flags.writeable
    np.testing.assert_array_equal(samples, trainer.preview().numpy())


def test_watching_does_not_change_training():
    """Preview, 2D scene and quality hooks draw no numbers from the trainer's generator."""
    watched, plain = make_trainer(RING), make_trainer(RING)
    setup = scene_setup(watched)
    scenes: list = []
    hooks = [PreviewHook(lambda p: None, every_s=0.0), QualityHook(MetricHistory(), every=2),
             SceneHook(setup, scenes.append, wanted=lambda: True, every_s=0.0)]
    run(watched, until=6, hooks=hooks)
    run(plain, until=6)
    assert len(scenes) == 6 and scenes[-1].heat.shape == (48, 48)
    for name, net in plain.networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(watched.networks[name].state_dict()[key], value), (name, key)
    assert torch.equal(watched.rng.get_state(), plain.rng.get_state())
