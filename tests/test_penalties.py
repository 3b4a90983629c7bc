"""The penalty table and the KL weight change the loss each network's optimizer sees, in proportion.

Each check runs one step of trainers built from the same seed, so the batch, the noise and the weights
are the same; only the strength differs. The loss a network is trained on is recorded ("loss/d", "loss/g",
the VAE's "loss/total"), and so is the loss without its penalties ("loss/d_adv", ...).
"""
from __future__ import annotations

import copy

import pytest
import torch

from genlab import losses
from genlab.config import RunConfig, knob_for
from genlab.trainers import make_trainer
from genlab.trainers.penalties import PENALTIES, add_penalties

SMALL_GAN = {"data.n_samples": 512, "model.width": 32, "model.latent_dim": 4, "optim.batch_size": 64}
SMALL_VAE = {"data.name": "shapes", "data.n_samples": 128, "data.image_size": 28, "model.family": "vae",
             "model.arch": "mlp", "model.width": 32, "model.depth": 1, "model.latent_dim": 3, "optim.batch_size": 16}
STRENGTH = 0.1


def penalty_share(penalty, strength: float) -> tuple[float, float | None, float]:
    """(the network's trained loss minus its loss without penalties, the recorded unweighted penalty,
    the float32 rounding that difference can carry) after one step with only this penalty at `strength`."""
    family = knob_for(penalty.strength).family
    small = SMALL_GAN if family == "gan" else SMALL_VAE
    trainer = make_trainer(RunConfig().replace(**{**small, penalty.strength: strength}), device="cpu")
    metrics = trainer.step()
    if penalty.network == "discriminator":
        total, parts = metrics["loss/d"], [metrics["loss/d_adv"]]
    elif penalty.network == "generator":
        total, parts = metrics["loss/g"], [metrics["loss/g_adv"]]
    else:
        total, parts = metrics["loss/total"], [metrics["loss/recon"], metrics["loss/kl"]]  # β = 1, C = 0
    rounding = 4 * torch.finfo(torch.float32).eps * (abs(total) + sum(abs(p) for p in parts))
    return total - sum(parts), metrics.get(penalty.metric), rounding


@pytest.mark.parametrize("penalty", PENALTIES, ids=lambda p: p.metric)
def test_penalty_scales_linearly_with_its_strength_and_is_absent_at_zero(penalty):
    off, off_value, rounding_off = penalty_share(penalty, 0.0)
    assert abs(off) <= rounding_off and off_value is None  # not even computed
    once, value, rounding = penalty_share(penalty, STRENGTH)
    twice, value_again, rounding_again = penalty_share(penalty, 2 * STRENGTH)
    assert value is not None and value > 0
    assert value_again == value  # the same batch and weights: the same unweighted penalty
    assert STRENGTH * value > 100 * rounding  # a share the comparison below can see
    assert once == pytest.approx(STRENGTH * value, rel=1e-5, abs=rounding)
    assert twice == pytest.approx(2 * STRENGTH * value, rel=1e-5, abs=rounding_again)


@pytest.mark.parametrize("penalty", PENALTIES, ids=lambda p: p.metric)
def test_table_entries_are_declared_live_knobs(penalty):
    knob = knob_for(penalty.strength)
    assert knob.live and knob.off == 0.0 and knob.short and penalty.metric.startswith("penalty/")
    assert penalty.network == knob.acts_on and knob.family is not None


def test_add_penalties_only_touches_the_named_network():
    trainer = make_trainer(RunConfig().replace(**{**SMALL_GAN, "objective.l2_generator": 1.0,
                                                  "objective.l2_discriminator": 2.0}), device="cpu")
    terms: dict = {}
    loss = add_penalties(torch.zeros(()), "generator", trainer, terms)
    assert set(terms) == {"penalty/l2_g"} and float(loss.detach()) == pytest.approx(float(terms["penalty/l2_g"].detach()))


def test_weighted_kl_at_beta_4_is_exactly_4_times_beta_1(monkeypatch):
    """The KL term the VAE's loss gets, with β = 1 and β = 4, from the same state (weights, RNG, batch)."""
    seen = []
    real = losses.kl_weight_term

    def spy(kl, beta, capacity):
        term = real(kl, beta, capacity)
        seen.append((kl.detach().clone(), beta, term.detach().clone()))
        return term

    monkeypatch.setattr(losses, "kl_weight_term", spy)
    trainer = make_trainer(RunConfig().replace(**SMALL_VAE), device="cpu")
    trainer.step()  # a trained step first, so the state below is not just the initialisation
    state = copy.deepcopy(trainer.state_dict())  # weights, optimizer, step count and the RNG
    totals = {}
    for beta in (1.0, 4.0):
        trainer.load_state_dict(copy.deepcopy(state))
        trainer.update(**{"objective.beta": beta})
        metrics = trainer.step()
        totals[beta] = metrics["loss/total"] - metrics["loss/recon"]
    (kl_1, beta_1, term_1), (kl_4, beta_4, term_4) = seen[-2:]
    assert (beta_1, beta_4) == (1.0, 4.0)
    assert torch.equal(kl_1, kl_4)  # the same batch and noise
    assert float(kl_1) > 0
    assert torch.equal(term_4, 4 * term_1)
    assert totals[4.0] == pytest.approx(4 * totals[1.0], rel=1e-5)  # and it is what the loss carries
