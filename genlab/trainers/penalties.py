"""Every penalty a trainer adds to a network's loss: one table, one helper.

An entry names the config field holding its strength (λ, γ), the metric its unweighted value is
recorded under, the pure function of genlab.regularizers that computes it, and what that function
needs. The network it joins is the one its strength's knob `acts_on`. A penalty whose strength is 0
is not computed at all, so it costs nothing and records nothing.

A new penalty: its function in genlab/regularizers.py, its strength as a knob in
genlab/config/sections.py (acts_on, live, ui_values, short), and one line below.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from torch import Tensor

from genlab.config import get_dotted, knob_for
from genlab.regularizers import (
    l1_penalty,
    l2_penalty,
    orthogonal_penalty,
    penalized_weights,
    wgan_gradient_penalty,
    zero_centred_penalty,
)

if TYPE_CHECKING:
    from genlab.trainers.base import Trainer

# what a penalty's function is called with
WEIGHTS = "weights"  # the network's weight matrices and kernels: f(weights)
REAL = "real"  # a real batch that requires grad and D's scores on it: f(real, D(real))
FAKE = "fake"  # a generated batch that requires grad and D's scores on it: f(fake, D(fake))
REAL_AND_FAKE = "real and fake"  # the critic, both batches and the trainer's RNG: f(D, real, fake, generator=rng)


@dataclass(frozen=True)
class Penalty:
    strength: str  # dotted config field of its weight
    metric: str  # recorded (unweighted) under this name
    compute: Callable[..., Tensor]
    needs: str  # WEIGHTS, REAL, FAKE or REAL_AND_FAKE
    lazy: bool = False  # may skip updates (objective.lazy_interval): its weight then comes per update

    @property
    def network(self) -> str:
        return knob_for(self.strength).acts_on


def _weight_norms(network: str, suffix: str) -> tuple[Penalty, Penalty]:
    """The L1 and L2 penalties on one network's weights ("penalty/l2_d" for a GAN's discriminator)."""
    return (Penalty(f"objective.l1_{network}", f"penalty/l1_{suffix}", l1_penalty, WEIGHTS),
            Penalty(f"objective.l2_{network}", f"penalty/l2_{suffix}", l2_penalty, WEIGHTS))


PENALTIES: tuple[Penalty, ...] = (
    Penalty("objective.gp_lambda", "penalty/gp", wgan_gradient_penalty, REAL_AND_FAKE),
    Penalty("objective.r1_gamma", "penalty/r1", zero_centred_penalty, REAL, lazy=True),
    Penalty("objective.r2_gamma", "penalty/r2", zero_centred_penalty, FAKE, lazy=True),
    *_weight_norms("discriminator", "d"),
    *_weight_norms("generator", "g"),
    Penalty("objective.ortho_generator", "penalty/ortho_g", orthogonal_penalty, WEIGHTS),
    *_weight_norms("encoder", "encoder"),
    *_weight_norms("decoder", "decoder"),
)


def add_penalties(loss: Tensor, network: str, trainer: Trainer, terms: dict[str, Tensor],
                  real: Tensor | None = None, fake: Tensor | None = None,
                  real_scores: Tensor | None = None, fake_scores: Tensor | None = None,
                  lazy_weight: int = 1) -> Tensor:
    """loss + Σ strength · penalty over the table's penalties on `network` whose strength is not 0;
    each penalty's unweighted value goes into `terms` under its metric name. A penalty that needs
    D's scores on a batch (R1, R2) gets them with the batch, which must then require grad. A lazy
    penalty's strength is multiplied by `lazy_weight`; at 0 it is not computed (nor recorded)."""
    module = trainer.networks[network]
    for penalty in PENALTIES:
        if penalty.network != network:
            continue
        strength = get_dotted(trainer.config, penalty.strength) * (lazy_weight if penalty.lazy else 1)
        if strength == 0:
            continue
        if penalty.needs == WEIGHTS:
            value = penalty.compute(penalized_weights(module))
        elif penalty.needs == REAL:
            value = penalty.compute(real, real_scores)
        elif penalty.needs == FAKE:
            value = penalty.compute(fake, fake_scores)
        else:
            value = penalty.compute(module, real, fake, generator=trainer.rng)
        terms[penalty.metric] = value
        loss = loss + strength * value
    return loss
