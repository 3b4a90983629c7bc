"""Gradient descent on the Dirac-GAN: trajectories, and what decides whether they converge.

The two schemes of genlab's GAN trainer (optim.updates), the critic's step first:
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

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
                  strength: Tensor | None = None, create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """One step of size h at each point; `alternating` (bool per point) says which scheme it takes,
    `strength` (per point; default the game's) how strong its regularizer is.

    Weight clipping acts on the new ψ, as in the trainer, except when differentiating the step
    (create_graph): at the equilibrium ψ = 0 lies inside [−c, c], where clipping does nothing."""
    psi_next = psi - h * critic_gradient(game, theta, psi, strength, create_graph)
    if not create_graph:
        clip_critic_(game, psi_next, strength)
    psi_seen = torch.where(alternating, psi_next, psi)
    theta_next = theta - h * generator_gradient(game, theta, psi_seen, strength, create_graph)
    return theta_next, psi_next


class Setting(NamedTuple):
    """Where a pair of runs starts, how strong the game's regularizer is, and the step size."""

    theta0: float
    psi0: float
    strength: float
    h: float


@dataclass(frozen=True)
class Trajectories:
    """Where each scheme went in `steps` steps: arrays of (θ, ψ), steps + 1 long, or cut short at the
    first point of a run that diverged."""

    simultaneous: np.ndarray
    alternating: np.ndarray
    steps: int

    def escaped(self, scheme: str) -> bool:
        return not float(np.hypot(*getattr(self, scheme)[-1])) <= ESCAPED  # NaN counts as escaped

    def end_norm(self, scheme: str) -> float:
        """‖(θ, ψ)‖ after the last step; inf when the run diverged."""
        return float("inf") if self.escaped(scheme) else float(np.hypot(*getattr(self, scheme)[-1]))

    def first(self, steps: int) -> Trajectories:
        """The runs' first `steps` steps (at most `self.steps`)."""
        steps = min(steps, self.steps)
        return Trajectories(self.simultaneous[: steps + 1], self.alternating[: steps + 1], steps)


def _check(game: DiracGame, settings: Sequence[Setting], steps: int) -> None:
    for setting in settings:
        DiracGame(game.loss, game.regularizer, setting.strength)  # says which strength is out of range
        if not setting.h > 0:
            raise ValueError(f"the step size must be positive, got h={setting.h!r}")
    if steps < 0:
        raise ValueError(f"the number of steps must be at least 0, got {steps!r}")


@single_threaded()  # ~1,000 tiny autograd passes: waking a second thread for each costs more than it saves
def _run(game: DiracGame, start: Tensor, alternating: Tensor, strength: Tensor, h: Tensor, steps: int) -> np.ndarray:
    """`steps` steps of every row from its start (rows × 2), in one batch: (steps + 1, rows, 2)."""
    theta, psi = start[:, 0], start[:, 1]
    thetas, psis = [theta], [psi]
    for k in range(1, steps + 1):
        theta, psi = gradient_step(game, theta, psi, h, alternating, strength)
        thetas.append(theta)
        psis.append(psi)
        if k % ESCAPE_CHECK == 0 and not bool((torch.hypot(theta, psi) <= ESCAPED).any()):
            break  # every run diverged (NaN compares False): the rest would be noise
    return torch.stack([torch.stack(thetas), torch.stack(psis)], dim=2).numpy()


def _until_escape(path: np.ndarray) -> np.ndarray:
    """The path up to and including its first point beyond ESCAPED (or not finite)."""
    escaped = ~(np.hypot(path[:, 0], path[:, 1]) <= ESCAPED)
    return path[: int(np.argmax(escaped)) + 1] if escaped.any() else path


def _rows(settings: Sequence[Setting], schemes: Sequence[str]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(start, alternating, strength, h) of one row per (setting, scheme) pair."""
    alternating = torch.tensor([scheme == "alternating" for scheme in schemes])
    values = torch.tensor([tuple(setting) for setting in settings], dtype=DTYPE).reshape(-1, 4)
    return values[:, :2], alternating, values[:, 2], values[:, 3]


def trajectories_of(game: DiracGame, settings: Sequence[Setting], steps: int) -> dict[Setting, Trajectories]:
    """Both schemes' runs for each setting (start, strength, h) of `game`'s loss and regularizer, in
    one batch.

    A step of this game is a few dozen operations on tiny tensors, whose cost is per operation, not
    per element: a slider's every position (200 settings), or 441 start points, cost about 1.2 times
    what one setting does."""
    settings = [Setting(*setting) for setting in settings]
    _check(game, settings, steps)
    path = _run(game, *_rows([s for s in settings for _ in SCHEMES], SCHEMES * len(settings)), steps)
    return {setting: Trajectories(_until_escape(path[:, 2 * i]), _until_escape(path[:, 2 * i + 1]), steps)
            for i, setting in enumerate(settings)}


def trajectories(game: DiracGame, start: tuple[float, float], h: float, steps: int) -> Trajectories:
    """`steps` simultaneous and alternating steps of size h from `start` = (θ₀, ψ₀)."""
    setting = Setting(*start, game.strength, h)
    return trajectories_of(game, [setting], steps)[setting]


def extend(game: DiracGame, runs: Mapping[Setting, Trajectories], steps: int) -> dict[Setting, Trajectories]:
    """Each setting's runs (of this game's loss and regularizer, all `steps` short by the same count)
    continued to `steps` steps from where they stopped, in one batch: the same numbers as running them
    that long at once, for the price of the new steps only."""
    _check(game, [Setting(*setting) for setting in runs], steps)
    if len({r.steps for r in runs.values()}) > 1:
        raise ValueError("runs extended together must have been run for the same number of steps")
    alive = [(setting, scheme) for setting, r in runs.items() if r.steps < steps
             for scheme in SCHEMES if not r.escaped(scheme)]
    extended = {setting: {scheme: getattr(r, scheme) for scheme in SCHEMES} for setting, r in runs.items()}
    if alive:
        more = steps - next(iter(runs.values())).steps
        _, alternating, strength, h = _rows([setting for setting, _ in alive], [scheme for _, scheme in alive])
        start = torch.tensor(np.stack([extended[setting][scheme][-1] for setting, scheme in alive]), dtype=DTYPE)
        path = _run(game, start, alternating, strength, h, more)
        for i, (setting, scheme) in enumerate(alive):
            extended[setting][scheme] = _until_escape(np.concatenate([extended[setting][scheme], path[1:, i]]))
    return {setting: Trajectories(paths["simultaneous"], paths["alternating"], max(steps, runs[setting].steps))
            for setting, paths in extended.items()}


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
