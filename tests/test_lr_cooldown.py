"""The learning-rate cool-down (optim.lr_cooldown): the factor against hand-computed values, and the
rates the trainers' optimizers actually use, step by step, against an independent computation."""
import pytest
import torch

from genlab.config import ConfigError, RunConfig
from genlab.trainers import make_trainer
from genlab.trainers.schedule import cooldown_factor, learning_rate_note
from genlab.training import run

TINY = {"data.name": "ring", "data.n_samples": 256, "model.arch": "mlp", "model.width": 16, "model.depth": 1,
        "optim.batch_size": 32, "device": "cpu"}


def expected_factor(step: int, steps: int, cooldown: float) -> float:
    """Written from the docstring's description: full rate until the last cooldown·steps steps, then a
    straight line from 1 down to 0.1 at `steps`, 0.1 after."""
    if cooldown == 0:
        return 1.0
    first_cool_step = steps - cooldown * steps
    fraction_done = (step - first_cool_step) / (steps - first_cool_step)
    return min(1.0, max(0.1, 1.0 - 0.9 * fraction_done))


@pytest.mark.parametrize("step, factor", [(0, 1.0), (50, 1.0), (60, 1.0), (70, 0.55), (75, 0.325), (80, 0.1),
                                          (200, 0.1)])
def test_factor_falls_linearly_to_a_tenth_over_the_last_share(step, factor):
    assert cooldown_factor(step, 80, 0.25) == pytest.approx(factor)


def test_off_keeps_the_full_rate_and_one_cools_the_whole_run():
    assert [cooldown_factor(step, 10, 0.0) for step in (0, 5, 10, 20)] == [1.0] * 4
    assert cooldown_factor(0, 10, 1.0) == 1.0
    assert cooldown_factor(5, 10, 1.0) == pytest.approx(0.55)


@pytest.mark.parametrize("family, rates", [("gan", {"optim.lr_generator": 2e-3, "optim.lr_discriminator": 4e-3}),
                                           ("vae", {"optim.lr_encoder": 2e-3, "optim.lr_decoder": 4e-3,
                                                   "objective.likelihood": "gaussian"})])
def test_trainers_use_the_cooled_rates_at_every_step(family, rates):
    config = RunConfig().replace(**{**TINY, **rates, "model.family": family, "steps": 12, "optim.lr_cooldown": 0.5,
                                    "transfer.lr_scale": 0.5})
    trainer = make_trainer(config)
    configured = sorted(value for field, value in rates.items() if field.startswith("optim.lr_"))
    for step in range(16):  # four steps past the budget: the rates stay at a tenth
        used = sorted(group["lr"] for opt in trainer.optimizers.values() for group in opt.param_groups)
        assert used == pytest.approx([lr * 0.5 * expected_factor(step, 12, 0.5) for lr in configured]), step
        run(trainer, until=step + 1)


def test_a_cooled_run_restored_from_a_checkpoint_uses_the_rate_of_its_step():
    config = RunConfig().replace(**{**TINY, "model.family": "gan", "steps": 10, "optim.lr_cooldown": 0.5})
    trainer = make_trainer(config)
    run(trainer, until=9)
    fresh = make_trainer(config)
    fresh.load_state_dict(trainer.state_dict())
    assert fresh.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-3 * expected_factor(9, 10, 0.5))


def test_the_cool_down_does_not_change_a_run_before_it_starts():
    """Before its window the cool-down is exactly the plain run: same weights after the same steps."""
    plain = make_trainer(RunConfig().replace(**{**TINY, "steps": 20}))
    cooled = make_trainer(RunConfig().replace(**{**TINY, "steps": 20, "optim.lr_cooldown": 0.5}))
    run(plain, until=10)
    run(cooled, until=10)
    for a, b in zip(plain.generator.parameters(), cooled.generator.parameters()):
        assert torch.equal(a, b)
    run(plain, until=12)
    run(cooled, until=12)
    assert not all(torch.equal(a, b) for a, b in zip(plain.generator.parameters(), cooled.generator.parameters()))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "half"])
def test_a_bad_cool_down_is_a_config_error_naming_the_field(bad):
    with pytest.raises(ConfigError, match="optim.lr_cooldown"):
        RunConfig().replace(**{"optim.lr_cooldown": bad})


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_the_train_pages_note_gives_the_factor_the_optimizer_uses(scale):
    """The sliders show the settings; the note under the step counter gives the optimizer's own rate."""
    config = RunConfig().replace(**{**TINY, "model.family": "gan", "steps": 12, "optim.lr_cooldown": 0.5,
                                    "transfer.lr_scale": scale, "optim.lr_generator": 2e-3})
    trainer = make_trainer(config)
    for step in range(16):
        note = learning_rate_note(step, 12, 0.5, scale)
        used = trainer.optimizers["generator"].param_groups[0]["lr"] / 2e-3
        if used == pytest.approx(1.0):
            assert note is None, step
        else:
            assert f"× {used:.2g} (" in note, (step, note)
            assert ("cool-down ended at step 12" in note) == (step >= 12)
        run(trainer, until=step + 1)
