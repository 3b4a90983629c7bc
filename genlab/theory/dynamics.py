"""Gradient descent on the Dirac-GAN: trajectories, and what decides whether they converge.

Both schemes take the critic's step first, as genlab's GAN trainer does:
- simultaneous: (θ, ψ) ← (θ, ψ) + h·v(θ, ψ), both players reading the same point;
- alternating: ψ ← ψ − h·∂L_D/∂ψ(θ, ψ), then θ ← θ − h·∂L_G/∂θ(θ, ψ_new).

Near the equilibrium (0, 0) the continuous dynamics ẋ = v(x) converge when every eigenvalue λ of the
field's Jacobian J has Re λ < 0 (and do not when some Re λ > 0; Re λ = 0, the unregularized
Dirac-GAN's ±i/2, leaves it to the higher-order terms: there it circles). A step of size h is a map
x ↦ F(x); it converges locally when the spectral radius of F's Jacobian is below 1. For simultaneous
steps F = x + h·v, so that Jacobian is I + hJ and the test reads |1 + hλ| < 1 for every λ; alternating
steps have their own Jacobian, computed here by autograd through the step itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from genlab.threads import single_threaded
from genlab.theory.dirac import DTYPE, DiracGame, clip_critic_, critic_gradient, generator_gradient, vector_field

SCHEMES = ("simultaneous", "alternating")
ESCAPED = 1e6  # a run whose ‖(θ, ψ)‖ passes this has diverged: it stops there
ESCAPE_CHECK = 50  # steps between checks whether both runs diverged
EIGEN_TOLERANCE = 1e-12  # |Re λ| or |ρ − 1| below this counts as 0 (float rounding of the autograd Jacobian)


def gradient_step(game: DiracGame, theta: Tensor, psi: Tensor, h: float, alternating: Tensor,
                  create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """One step of size h at each point; `alternating` (bool per point) says which scheme it takes.

    Weight clipping acts on the new ψ, as in the trainer, except when differentiating the step
    (create_graph): at the equilibrium ψ = 0 lies inside [−c, c], where clipping does nothing."""
    psi_next = psi - h * critic_gradient(game, theta, psi, create_graph)
    if not create_graph:
        clip_critic_(game, psi_next)
    psi_seen = torch.where(alternating, psi_next, psi)
    theta_next = theta - h * generator_gradient(game, theta, psi_seen, create_graph)
    return theta_next, psi_next


@dataclass(frozen=True)
class Trajectories:
    """Where each scheme went: (steps + 1, 2) arrays of (θ, ψ), cut where a run diverged."""

    simultaneous: np.ndarray
    alternating: np.ndarray

    def end_norm(self, scheme: str) -> float:
        """‖(θ, ψ)‖ after the last step; inf when the run diverged."""
        path = getattr(self, scheme)
        norm = float(np.linalg.norm(path[-1]))
        return norm if norm <= ESCAPED else float("inf")


@single_threaded()  # ~1,000 tiny autograd passes: waking a second thread for each costs more than it saves
def trajectories(game: DiracGame, start: tuple[float, float], h: float, steps: int) -> Trajectories:
    """`steps` simultaneous and alternating steps of size h from `start` = (θ₀, ψ₀), in one batch."""
    if not h > 0 or steps < 0:
        raise ValueError(f"the step size must be positive and the steps at least 0, got h={h!r}, steps={steps!r}")
    theta = torch.full((2,), float(start[0]), dtype=DTYPE)
    psi = torch.full((2,), float(start[1]), dtype=DTYPE)
    alternating = torch.tensor([False, True])
    thetas, psis = [theta], [psi]
    for k in range(1, steps + 1):
        theta, psi = gradient_step(game, theta, psi, h, alternating)
        thetas.append(theta)
        psis.append(psi)
        if k % ESCAPE_CHECK == 0 and not bool((torch.hypot(theta, psi) <= ESCAPED).any()):
            break  # both runs diverged (NaN compares False): the rest would be noise
    path = torch.stack([torch.stack(thetas), torch.stack(psis)], dim=2).numpy()  # step, scheme, (θ, ψ)
    return Trajectories(*(_until_escape(path[:, i]) for i in range(2)))


def _until_escape(path: np.ndarray) -> np.ndarray:
    """The path up to and including its first point beyond ESCAPED (or not finite)."""
    escaped = ~(np.linalg.norm(path, axis=1) <= ESCAPED)
    return path[: int(np.argmax(escaped)) + 1] if escaped.any() else path


def field_jacobian(game: DiracGame, at: tuple[float, float] = (0.0, 0.0)) -> Tensor:
    """J = ∂v/∂(θ, ψ) at `at` (2 × 2, rows v_θ, v_ψ), by autograd through the field itself.

    Where a penalty has a kink (WGAN-GP's (|ψ| − 1)² at ψ = 0) this is autograd's one-sided choice,
    which takes sign(0) = 0: the field is not differentiable there."""
    def field(x: Tensor) -> Tensor:
        return torch.cat(vector_field(game, x[:1], x[1:], create_graph=True))

    return torch.autograd.functional.jacobian(field, torch.tensor(at, dtype=DTYPE))


def step_jacobian(game: DiracGame, h: float, scheme: str, at: tuple[float, float] = (0.0, 0.0)) -> Tensor:
    """∂F/∂(θ, ψ) of one gradient step F of the given scheme at `at`, by autograd through the step."""
    alternating = torch.tensor([scheme == "alternating"])

    def step(x: Tensor) -> Tensor:
        return torch.cat(gradient_step(game, x[:1], x[1:], h, alternating, create_graph=True))

    return torch.autograd.functional.jacobian(step, torch.tensor(at, dtype=DTYPE))


@dataclass(frozen=True)
class Stability:
    """The equilibrium's linearization: J's eigenvalues and the discrete steps' spectral radii, or,
    where the field has no derivative at (0, 0), None and the reason."""

    eigenvalues: tuple[complex, complex] | None  # of the field's Jacobian J at (0, 0), by real part
    radius: dict[str, float] | None  # scheme -> spectral radius of one step's Jacobian (< 1: converges)
    undefined: str = ""  # why there is no linearization

    @property
    def continuous_verdict(self) -> str:
        if self.eigenvalues is None:
            return self.undefined
        largest = max(e.real for e in self.eigenvalues)
        if largest < -EIGEN_TOLERANCE:
            return "converges locally: every Re λ < 0"
        if largest > EIGEN_TOLERANCE:
            return "moves away: some Re λ > 0"
        return "undecided by J: Re λ = 0, the linearization circles"


def step_verdict(radius: float) -> str:
    """What a step whose Jacobian has spectral radius ρ does to small deviations from (0, 0)."""
    if radius < 1 - EIGEN_TOLERANCE:
        return "converges"
    if radius > 1 + EIGEN_TOLERANCE:
        return "spirals out"
    return "circles"


@single_threaded()
def stability(game: DiracGame, h: float) -> Stability:
    """The linearization at the equilibrium (0, 0) of the field and of one step of each scheme."""
    jacobian = field_jacobian(game)
    if not torch.isfinite(jacobian).all():
        return Stability(None, None, f"no linearization: the field of {game.label} has no derivative at (0, 0)")
    eigenvalues = sorted(torch.linalg.eigvals(jacobian).tolist(), key=lambda e: (e.real, e.imag))
    radius = {scheme: float(torch.linalg.eigvals(step_jacobian(game, h, scheme)).abs().max()) for scheme in SCHEMES}
    return Stability((eigenvalues[0], eigenvalues[1]), radius)
