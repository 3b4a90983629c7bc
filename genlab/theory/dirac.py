"""The Dirac-GAN of Mescheder et al. (2018), played with genlab's own loss and penalty functions.

The generator is one number, G(z) = θ; the critic is one slope, D(x) = ψ·x; the data are a point mass
at 0. Each player descends its own loss (genlab.losses, plus a genlab.regularizers penalty on the
critic), so the game's vector field is

    v(θ, ψ) = (−∂L_G/∂θ, −∂L_D/∂ψ),

computed here by autograd through those functions, never from a formula typed in again. The unique
equilibrium is (0, 0). Every function takes θ and ψ as 1-D tensors of M points and evaluates them in
one batch: the losses average over the batch, so each point's own gradient is M times the batch's.

Instance noise (σ) adds N(0, σ²) to real and generated samples. Its expectation is taken over fixed
standard-normal quantiles (rescaled to unit variance) instead of random draws, so the field stays
deterministic and smooth: the trajectories and Jacobians do not flicker between slider moves.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.losses import discriminator_loss, generator_loss
from genlab.threads import single_threaded
from genlab.regularizers import clip_weights_, r1_penalty, r2_penalty, wgan_gradient_penalty

DTYPE = torch.float64  # R1's trajectory reaches ~1e-16: float32 would stop at ~1e-8
LOSSES = {"minimax": "minimax (saturating)", "nonsaturating": "non-saturating", "wasserstein": "Wasserstein"}
# regularizer -> (label, symbol of its strength, largest strength offered)
REGULARIZERS = {
    "none": ("none", "", 0.0),
    "weight_clip": ("weight clipping", "c", 5.0),
    "gradient_penalty": ("WGAN-GP", "λ", 10.0),
    "r1": ("R1 (on real data)", "γ", 10.0),
    "r2": ("R2 (on generated data)", "γ", 10.0),
    "instance_noise": ("instance noise", "σ", 3.0),
}
NOISE_QUANTILES = 32  # equal-weight standard-normal quantiles that stand in for E over the noise
PENALIZED = ("gradient_penalty", "r1", "r2")  # regularizers that add a penalty to the critic's loss
GP_SEED = 0  # WGAN-GP's interpolation weights; irrelevant here (a linear critic has one gradient everywhere)


@dataclass(frozen=True)
class DiracGame:
    """A GAN loss (genlab.losses kind) and one regularizer of the critic, with its strength."""

    loss: str = "minimax"
    regularizer: str = "none"
    strength: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.regularizer not in REGULARIZERS:
            raise ValueError(f"regularizer must be one of {', '.join(REGULARIZERS)}, got {self.regularizer!r}")
        top = REGULARIZERS[self.regularizer][2]
        if not 0.0 <= float(self.strength) <= top:
            symbol = REGULARIZERS[self.regularizer][1] or "strength"
            raise ValueError(f"{symbol} must be between 0 and {top:g} for {self.regularizer}, got {self.strength!r}")

    @property
    def label(self) -> str:
        name, symbol, _ = REGULARIZERS[self.regularizer]
        regularized = "" if self.regularizer == "none" else f" + {name}, {symbol} = {self.strength:g}"
        return LOSSES[self.loss] + regularized

    @property
    def clips(self) -> bool:
        return self.regularizer == "weight_clip" and self.strength > 0


@functools.lru_cache(maxsize=1)
def unit_normal_quantiles() -> Tensor:
    """NOISE_QUANTILES equal-weight standard-normal quantiles, rescaled to variance exactly 1."""
    levels = (torch.arange(NOISE_QUANTILES, dtype=DTYPE) + 0.5) / NOISE_QUANTILES
    quantiles = torch.special.ndtri(levels)
    return quantiles / quantiles.pow(2).mean().sqrt()


def point_strengths(game: DiracGame, points: int, strength: Tensor | None) -> Tensor:
    """Each point's strength: `strength` (shape (M,)) where given, else the game's own for all."""
    return torch.full((points,), float(game.strength), dtype=DTYPE) if strength is None else strength


class DiracBatch:
    """M Dirac-GANs of one loss and regularizer, each point with its own strength: real and generated
    samples as (M·n, 1) batches, n noise offsets per point (n = 1 without instance noise), grouped by point."""

    def __init__(self, game: DiracGame, theta: Tensor, strength: Tensor):
        self.game = game
        if game.regularizer == "instance_noise":
            self.per_point = NOISE_QUANTILES
            offsets = (strength.unsqueeze(1) * unit_normal_quantiles()).reshape(-1, 1)
            self.real = offsets
            self.fake = theta.repeat_interleave(NOISE_QUANTILES).unsqueeze(1) + offsets
        else:
            self.per_point = 1
            self.real = torch.zeros(len(theta), 1, dtype=DTYPE)
            self.fake = theta.unsqueeze(1)

    def critic(self, psi: Tensor):
        """D(x) = ψ·x, each sample row scored with its own point's ψ."""
        rows = psi.repeat_interleave(self.per_point) if self.per_point > 1 else psi
        return lambda x: rows * x[:, 0]

    def critic_loss(self, psi: Tensor) -> Tensor:
        critic = self.critic(psi)
        return discriminator_loss(self.game.loss, critic(self.real), critic(self.fake))

    def penalty(self, psi: Tensor) -> Tensor:
        """The regularizer's unweighted penalty on the critic (genlab.regularizers)."""
        critic, kind = self.critic(psi), self.game.regularizer
        if kind == "gradient_penalty":
            return wgan_gradient_penalty(critic, self.real, self.fake, generator=torch.Generator().manual_seed(GP_SEED))
        return r1_penalty(critic, self.real) if kind == "r1" else r2_penalty(critic, self.fake)

    def generator_loss(self, psi: Tensor) -> Tensor:
        return generator_loss(self.game.loss, self.critic(psi)(self.fake))


def _own_variable(values: Tensor) -> Tensor:
    """`values` as a variable of its own to differentiate by: a partial derivative, even where other
    inputs were computed from `values` (alternating steps: the new ψ depends on θ), while a graph that
    `values` is part of (create_graph, for Jacobians) still reaches through it."""
    return values.clone() if values.requires_grad else values.detach().requires_grad_(True)


def critic_gradient(game: DiracGame, theta: Tensor, psi: Tensor, strength: Tensor | None = None,
                    create_graph: bool = False) -> Tensor:
    """∂L_D/∂ψ at each of the M points, L_D = genlab's discriminator loss + strength · genlab's penalty.

    Loss and penalty are differentiated through two copies of ψ in one autograd pass, so that every
    point can weigh the penalty by its own strength: ∂(L + γP)/∂ψ = ∂L/∂ψ + γ ∂P/∂ψ."""
    strength = point_strengths(game, len(psi), strength)
    batch = DiracBatch(game, theta, strength)
    psi_loss = _own_variable(psi)
    outputs, inputs = [batch.critic_loss(psi_loss)], [psi_loss]
    if game.regularizer in PENALIZED and bool((strength > 0).any()):
        psi_penalty = _own_variable(psi)
        outputs.append(batch.penalty(psi_penalty))
        inputs.append(psi_penalty)
    grads = torch.autograd.grad(outputs, inputs, create_graph=create_graph)
    grad = grads[0] if len(grads) == 1 else grads[0] + strength * grads[1]
    return grad * len(psi)  # the batch loss is the mean over points


def generator_gradient(game: DiracGame, theta: Tensor, psi: Tensor, strength: Tensor | None = None,
                       create_graph: bool = False) -> Tensor:
    """∂L_G/∂θ at each of the M points (θ_i, ψ_i)."""
    theta = _own_variable(theta)
    batch = DiracBatch(game, theta, point_strengths(game, len(theta), strength))
    (grad,) = torch.autograd.grad(batch.generator_loss(psi), theta, create_graph=create_graph)
    return grad * len(theta)


def vector_field(game: DiracGame, theta: Tensor, psi: Tensor, create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """v = (−∂L_G/∂θ, −∂L_D/∂ψ) at the points (θ_i, ψ_i), in one autograd pass per player."""
    return (-generator_gradient(game, theta, psi, create_graph=create_graph),
            -critic_gradient(game, theta, psi, create_graph=create_graph))


@single_threaded()
def field_on_grid(game: DiracGame, extent: float, cells: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(θ, ψ, v_θ, v_ψ) on a cells × cells grid over [−extent, extent]², flattened, in one batch."""
    axis = torch.linspace(-extent, extent, cells, dtype=DTYPE)
    theta, psi = torch.meshgrid(axis, axis, indexing="xy")
    theta, psi = theta.reshape(-1), psi.reshape(-1)
    v_theta, v_psi = vector_field(game, theta, psi)
    return theta, psi, v_theta, v_psi


def clip_critic_(game: DiracGame, psi: Tensor, strength: Tensor | None = None) -> None:
    """The trainer's weight clipping after a critic step (in place): ψ_i into [−c_i, c_i]; c = 0 is off."""
    if game.regularizer == "weight_clip":
        bound = point_strengths(game, len(psi), strength)
        clip_weights_([psi], torch.where(bound > 0, bound, torch.inf))
