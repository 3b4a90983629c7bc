"""Alternating and simultaneous G/D updates (optim.updates): the Dirac-GAN lab's two schemes on real networks.

Simultaneous: G's gradient is taken at the D that D's last update of the step starts from, and both step
after. So D ends where the alternating step puts it (D goes first either way), and G ends where an
alternating step puts it when D's last update is made a no-op (G then meets the D it started from).
"""
import pytest
import torch

from genlab.config import ConfigError, RunConfig
from genlab.trainers import make_trainer
from genlab.training import run

SMALL_GAN = {"data.n_samples": 2000, "model.width": 32, "optim.batch_size": 64, "objective.r1_gamma": 0.5,
             "objective.weight_clip": 0.08, "optim.lr_generator": 5e-3, "optim.lr_discriminator": 5e-3}


def gan(**overrides):
    return make_trainer(RunConfig().replace(**{**SMALL_GAN, **overrides}), device="cpu")


def weights(network) -> list[torch.Tensor]:
    return [p.detach().clone() for p in network.parameters()]


def same(left: list[torch.Tensor], right: list[torch.Tensor]) -> bool:
    return all(torch.equal(a, b) for a, b in zip(left, right, strict=True))


def freeze_last_critic_update(trainer) -> None:
    """Make D's last optimizer step of the coming step a no-op (lr 0), so G meets the D it started from."""
    optimizer = trainer.optimizers["discriminator"]
    calls = {"n": 0}

    def before_step(optimizer, args, kwargs) -> None:  # a step hook: every way of stepping runs it
        calls["n"] += 1
        if calls["n"] == trainer.config.optim.n_critic:
            for group in optimizer.param_groups:
                group["lr"] = 0.0

    optimizer.register_step_pre_hook(before_step)


@pytest.mark.parametrize("n_critic", [1, 2])
def test_simultaneous_g_steps_from_the_d_that_d_steps_from(n_critic):
    warm_up = 3  # past Adam's first, sign-like step
    runs = {}
    for name, updates in [("simultaneous", "simultaneous"), ("alternating", "alternating"), ("frozen", "alternating")]:
        trainer = gan(**{"optim.n_critic": n_critic})
        for _ in range(warm_up):
            trainer.step()
        trainer.update(**{"optim.updates": updates})
        if name == "frozen":
            freeze_last_critic_update(trainer)
        trainer.step()
        runs[name] = trainer
    simultaneous, alternating, frozen = runs["simultaneous"], runs["alternating"], runs["frozen"]
    assert same(weights(simultaneous.discriminator), weights(alternating.discriminator))
    assert same(weights(simultaneous.generator), weights(frozen.generator))
    assert not same(weights(simultaneous.generator), weights(alternating.generator))  # the schemes differ
    assert all(p.abs().max() <= 0.08 for p in simultaneous.discriminator.parameters())  # clipping still applies
    assert same(weights(simultaneous.generator_ema), weights(frozen.generator_ema))


def test_the_schemes_part_ways_over_a_run_and_each_is_reproducible():
    def trajectory(updates):
        trainer = gan(**{"optim.updates": updates})
        return [trainer.step() for _ in range(20)]

    assert trajectory("simultaneous") == trajectory("simultaneous")
    simultaneous, alternating = trajectory("simultaneous"), trajectory("alternating")
    assert simultaneous[0]["loss/d"] == alternating[0]["loss/d"]  # D's first loss is read before any step
    assert simultaneous[0]["loss/g"] != alternating[0]["loss/g"]  # G's meets the old D or the new one
    assert all(a["loss/d"] != b["loss/d"] for a, b in zip(simultaneous[5:], alternating[5:]))


def test_the_order_is_a_live_setting_with_a_clear_error():
    trainer = gan()
    generator = trainer.generator
    trainer.step()
    trainer.update(**{"optim.updates": "simultaneous"})
    trainer.step()
    assert trainer.generator is generator and trainer.step_count == 2
    with pytest.raises(ConfigError) as info:
        trainer.update(**{"optim.updates": "sideways"})
    assert info.value.field == "optim.updates" and "alternating, simultaneous" in str(info.value)


def test_a_diverging_simultaneous_step_rolls_back_whole():
    trainer = gan(**{"optim.updates": "simultaneous"})
    run(trainer, until=2)
    before = {name: weights(net) for name, net in trainer.networks.items()}
    trainer.discriminator.register_forward_hook(lambda module, inputs, output: output * float("nan"))
    result = run(trainer, until=5)
    assert result.error is not None and result.error.rolled_back_to == 2
    assert all(same(before[name], weights(net)) for name, net in trainer.networks.items())
