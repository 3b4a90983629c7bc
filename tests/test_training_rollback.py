"""A diverging step is rolled back whole (genlab.training.snapshot and the loop), and the history forgets it."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from genlab.config import RunConfig
from genlab.trainers import make_trainer
from genlab.training import DIVERGED, REACHED, HistoryHook, Hook, MetricHistory, Series, run
from genlab.training.snapshot import cloned

# a conv GAN (BatchNorm buffers in G), two critic steps per G step, G's weight average on
CONV_GAN = RunConfig(name="rollback", seed=3).replace(**{
    "data.name": "shapes", "data.n_samples": 128, "model.arch": "conv", "model.width": 8,
    "optim.batch_size": 8, "optim.n_critic": 2, "optim.ema_decay": 0.9, "stats_every": 1000})


def flat_state(trainer) -> dict[str, torch.Tensor]:
    """Every tensor of the trainer's state (all networks with buffers and the EMA, every optimizer's
    moments and step counts, the RNG) under a dotted name."""
    out: dict[str, torch.Tensor] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, torch.Tensor):
            out[prefix] = value.detach().clone()
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}", item)
    walk("", cloned(trainer.state_dict()))
    return out


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


class StateAt(Hook):
    """Keeps the trainer's whole state as it was after step `step`."""

    def __init__(self, step: int):
        self.step, self.state = step, None

    def on_step(self, trainer, metrics):
        if trainer.step_count == self.step:
            self.state = flat_state(trainer)


def nan_in_generator_term_at(trainer, step: int):
    """D's output becomes NaN during G's update of `step` only (D is frozen then), after D's two
    critic updates of that step were applied: the case where a partial rollback would keep D's."""
    def hook(module, inputs, output):
        frozen = not any(p.requires_grad for p in module.parameters())
        return output * float("nan") if frozen and trainer.step_count + 1 == step else output
    return trainer.discriminator.register_forward_hook(hook)


def test_a_step_whose_generator_term_diverges_is_rolled_back_whole_and_the_run_continues():
    trainer = make_trainer(CONV_GAN, device="cpu")
    at_snapshot = StateAt(3)
    handle = nan_in_generator_term_at(trainer, 5)
    result = run(trainer, until=10, hooks=[at_snapshot], snapshot_every=3)
    assert result.reason == DIVERGED and result.error.step == 5 and result.error.term.startswith("loss/g")
    assert result.error.rolled_back_to == 3 and "rolled back to step 3" in str(result.error)
    assert trainer.step_count == 3
    after = flat_state(trainer)
    assert any(name.startswith(".networks.generator.") and "running_mean" in name for name in after)  # BN buffers
    assert any(name.startswith(".optimizers.discriminator.state.") for name in after)
    assert_same_state(after, at_snapshot.state)

    handle.remove()
    assert run(trainer, until=8, snapshot_every=3).reason == REACHED
    fresh = make_trainer(CONV_GAN, device="cpu")
    run(fresh, until=8)
    assert_same_state(flat_state(trainer), flat_state(fresh))  # the RNG was rolled back too


def test_a_changed_live_setting_is_a_snapshot_point():
    trainer = make_trainer(CONV_GAN.replace(**{"optim.n_critic": 1}), device="cpu")
    before_change = StateAt(4)

    @contextlib.contextmanager
    def gate():
        if trainer.step_count == 4:
            trainer.update(**{"optim.lr_generator": 0.01})
        yield True

    nan_in_generator_term_at(trainer, 6)
    result = run(trainer, until=10, hooks=[before_change], gate=gate, snapshot_every=100)
    assert result.error.rolled_back_to == 4 and trainer.step_count == 4
    after = flat_state(trainer)
    assert_same_state(after, before_change.state)
    assert trainer.config.optim.lr_generator == 0.01  # the live setting stays as the user left it


def test_the_history_forgets_the_rolled_back_steps():
    trainer = make_trainer(CONV_GAN, device="cpu")
    history = MetricHistory()
    nan_in_generator_term_at(trainer, 6)
    run(trainer, until=10, hooks=[HistoryHook(history)], snapshot_every=4)
    assert trainer.step_count == 4
    assert history.to_lists()["step"] == [1.0, 2.0, 3.0, 4.0] and history.last_row()["step"] == 4.0


def test_series_rewind_keeps_exactly_the_values_up_to_the_step():
    series = Series(display_points=8, full_points=1000)
    for step in range(1, 101):
        series.append(step, float(step))
    series.rewind(41)
    steps, values = series.full()
    assert steps.tolist() == list(range(1, 42)) and values.tolist() == [float(s) for s in range(1, 42)]
    assert series.latest() == (41, 41.0)
    display_steps, _ = series.display()
    assert len(display_steps) and display_steps.max() <= 41
    recent, _ = series.window(after_step=30)
    assert recent.tolist() == list(range(31, 42))
    for step in range(42, 61):  # training on from the rolled-back step
        series.append(step, -1.0)
    steps, values = series.full()
    assert np.all(np.diff(steps) == 1) and steps[-1] == 60 and values[45] == -1.0
    assert np.all(np.diff(series.display()[0]) > 0)


def test_a_new_snapshot_reuses_the_memory_of_the_one_it_replaces_and_restores_its_own_step():
    from genlab.training.snapshot import Snapshot

    trainer = make_trainer(CONV_GAN)
    first = Snapshot(trainer)  # step 0: no optimizer moments yet, so the next snapshot cannot reuse those
    run(trainer, until=2)
    second = Snapshot(trainer, replacing=first)
    run(trainer, until=4)
    third = Snapshot(trainer, replacing=second)
    at_four = flat_state(trainer)
    run(trainer, until=6)
    weights = ("networks", "discriminator")
    assert {n: t.data_ptr() for n, t in third._state[weights[0]][weights[1]].items()} == \
        {n: t.data_ptr() for n, t in second._state[weights[0]][weights[1]].items()}  # written over, not new
    third.restore(trainer)
    assert trainer.step_count == 4
    assert_same_state(flat_state(trainer), at_four)
    run(trainer, until=6)
    Snapshot(trainer, replacing=third).restore(trainer)  # a snapshot taken now is now, whatever it reused
    assert trainer.step_count == 6
