"""Dirac-GAN (Mescheder et al. 2018) with the project's own loss and penalty functions (genlab.theory).

G(z) = θ, D(x) = ψ·x, real data at 0. The batched field the lab draws is checked against a scalar
autograd computation written here, one point at a time; the trajectories against the paper's figures
(500 alternating steps of h = 0.2 from θ = ψ = 1); the Jacobians against their closed forms.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab.losses import discriminator_loss, generator_loss
from genlab.regularizers import r1_penalty, r2_penalty, wgan_gradient_penalty
from genlab.theory.dirac import DTYPE, DiracGame, field_on_grid, unit_normal_quantiles, vector_field
from genlab.theory.cache import TrajectoryCache
from genlab.theory.dynamics import (extend, field_jacobian, gradient_step, stability, step_jacobian, step_verdict,
                                   trajectories, trajectories_of)

GAMES = [
    DiracGame("minimax"),
    DiracGame("nonsaturating"),
    DiracGame("wasserstein"),
    DiracGame("wasserstein", "weight_clip", 0.5),
    DiracGame("wasserstein", "gradient_penalty", 2.0),
    DiracGame("minimax", "r1", 1.5),
    DiracGame("nonsaturating", "r2", 0.7),
    DiracGame("minimax", "instance_noise", 0.8),
    DiracGame("nonsaturating", "instance_noise", 1.3),
]
REFERENCE = {"start": (1.0, 1.0), "h": 0.2, "steps": 500}


def scalar_field(game: DiracGame, theta: float, psi: float) -> tuple[float, float]:
    """(−∂L_G/∂θ, −∂L_D/∂ψ) at one point, from scalar leaves and genlab's functions called directly."""
    theta_t = torch.tensor(theta, dtype=DTYPE, requires_grad=True)
    psi_t = torch.tensor(psi, dtype=DTYPE, requires_grad=True)
    noisy = game.regularizer == "instance_noise"
    noise = game.strength * unit_normal_quantiles() if noisy else torch.zeros(1, dtype=DTYPE)
    critic = lambda x: psi_t * x.reshape(-1)  # noqa: E731
    real, fake = noise.reshape(-1, 1), (theta_t + noise).reshape(-1, 1)
    loss_d = discriminator_loss(game.loss, critic(real), critic(fake))
    if game.regularizer == "r1":
        loss_d = loss_d + game.strength * r1_penalty(critic, real)
    elif game.regularizer == "r2":
        loss_d = loss_d + game.strength * r2_penalty(critic, fake)
    elif game.regularizer == "gradient_penalty":
        loss_d = loss_d + game.strength * wgan_gradient_penalty(critic, real, fake)
    (grad_psi,) = torch.autograd.grad(loss_d, psi_t)
    (grad_theta,) = torch.autograd.grad(generator_loss(game.loss, critic(fake)), theta_t)
    return -float(grad_theta), -float(grad_psi)


@pytest.mark.parametrize("game", GAMES, ids=lambda g: g.label)
def test_the_drawn_field_is_autograd_through_genlab_functions_at_every_point(game):
    theta, psi, v_theta, v_psi = field_on_grid(game, extent=2.0, cells=9)
    rng = np.random.default_rng(0)
    for i in rng.choice(len(theta), size=12, replace=False):
        expected = scalar_field(game, float(theta[i]), float(psi[i]))
        assert (float(v_theta[i]), float(v_psi[i])) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_the_field_at_off_grid_points_matches_too():
    game = DiracGame("minimax", "r1", 0.3)
    points = torch.tensor([[0.3, -1.7], [-2.2, 0.05], [1e-3, 2.4]], dtype=DTYPE)
    v_theta, v_psi = vector_field(game, points[:, 0], points[:, 1])
    for (theta, psi), vt, vp in zip(points.tolist(), v_theta, v_psi):
        assert (float(vt), float(vp)) == pytest.approx(scalar_field(game, theta, psi), rel=1e-12)


def test_unregularized_dirac_gan_circles_instead_of_converging():
    paths = trajectories(DiracGame("minimax"), **REFERENCE)
    norms = np.linalg.norm(paths.alternating, axis=1)
    assert 1.0 < paths.end_norm("alternating") < 1.5  # ≈ 1.34: still as far out as it started (√2)
    assert norms.min() > 0.9 and norms.max() < 1.6
    assert paths.end_norm("simultaneous") > 3.0  # |1 + hλ| = √1.01 > 1: the simultaneous run spirals out


def test_r1_regularized_dirac_gan_converges_to_machine_precision():
    paths = trajectories(DiracGame("minimax", "r1", 1.0), **REFERENCE)
    assert paths.end_norm("alternating") < 1e-15  # ≈ 2.7e-16
    assert paths.end_norm("simultaneous") < 1e-15
    assert len(paths.alternating) == len(paths.simultaneous) == REFERENCE["steps"] + 1


def test_alternating_steps_take_the_critic_step_first():
    """The first steps, by hand from the scalar field: ψ moves, then θ reads the new ψ."""
    game = DiracGame("nonsaturating", "r1", 0.5)
    paths = trajectories(game, (0.8, -0.4), h=0.3, steps=3)
    theta, psi = 0.8, -0.4
    sim_theta, sim_psi = theta, psi
    for k in range(1, 4):
        psi = psi + 0.3 * scalar_field(game, theta, psi)[1]
        theta = theta + 0.3 * scalar_field(game, theta, psi)[0]
        v_theta, v_psi = scalar_field(game, sim_theta, sim_psi)
        sim_theta, sim_psi = sim_theta + 0.3 * v_theta, sim_psi + 0.3 * v_psi
        assert paths.alternating[k] == pytest.approx([theta, psi], rel=1e-12)
        assert paths.simultaneous[k] == pytest.approx([sim_theta, sim_psi], rel=1e-12)


def test_weight_clipping_keeps_the_critic_in_its_band():
    paths = trajectories(DiracGame("wasserstein", "weight_clip", 0.3), (2.0, 0.1), h=0.2, steps=300)
    for path in (paths.simultaneous, paths.alternating):
        assert np.abs(path[1:, 1]).max() <= 0.3
        assert np.abs(path[:, 1]).max() == pytest.approx(0.3)  # it does reach the bound
        assert np.linalg.norm(path[-100:], axis=1).min() > 0.25  # and it does not converge: it circles


def same_runs(got, expected) -> bool:
    """Equal up to float rounding (a batch averages its rows in another order)."""
    return all(getattr(got, scheme).shape == getattr(expected, scheme).shape
               and np.allclose(getattr(got, scheme), getattr(expected, scheme), rtol=1e-9, atol=1e-12)
               for scheme in ("simultaneous", "alternating"))


@pytest.mark.parametrize("loss, regularizer, settings", [
    ("minimax", "r1", [(0.9, -0.6, 0.0, 0.15), (0.9, -0.6, 0.35, 0.15), (0.9, -0.6, 4.0, 0.15), (-2.0, 1.5, 1.0, 0.6)]),
    ("wasserstein", "gradient_penalty", [(0.9, -0.6, 0.0, 0.15), (0.9, -0.6, 1.0, 0.15), (0.1, 2.0, 2.5, 0.3)]),
    ("wasserstein", "weight_clip", [(0.9, -0.6, 0.0, 0.15), (0.9, -0.6, 0.3, 0.15), (1.0, 1.0, 1.0, 0.05)]),
    ("nonsaturating", "instance_noise", [(0.9, -0.6, 0.0, 0.15), (0.9, -0.6, 0.5, 0.15), (0.0, 0.3, 2.0, 0.4)]),
    ("minimax", "none", [(0.9, -0.6, 0.0, 0.01), (0.9, -0.6, 0.0, 0.5), (2.5, -2.5, 0.0, 1.0)]),
])
def test_a_batch_of_settings_runs_as_each_setting_alone(loss, regularizer, settings):
    """One batch for a slider's every position or every start: each setting runs as its game alone
    (weight clipping with c = 0 does not clip, as in the trainer)."""
    together = trajectories_of(DiracGame(loss, regularizer), settings, steps=120)
    assert list(together) == settings
    for theta0, psi0, strength, h in settings:
        alone = trajectories(DiracGame(loss, regularizer, strength), (theta0, psi0), h=h, steps=120)
        assert same_runs(together[(theta0, psi0, strength, h)], alone)
    if regularizer == "weight_clip":
        assert np.abs(together[settings[0]].alternating[:, 1]).max() > 0.3  # the unclipped run leaves the band


def test_a_batch_refuses_a_setting_out_of_range():
    with pytest.raises(ValueError, match="γ must be between 0 and 10"):
        trajectories_of(DiracGame("minimax", "r1"), [(1.0, 1.0, 1.0, 0.2), (1.0, 1.0, 11.0, 0.2)], steps=5)
    with pytest.raises(ValueError, match="step size must be positive"):
        trajectories_of(DiracGame("minimax", "r1"), [(1.0, 1.0, 1.0, -0.2)], steps=5)


def test_extending_runs_gives_the_runs_computed_at_once():
    """Several settings at once, also where a scheme diverged on the way (Wasserstein, h = 1: the
    simultaneous run escapes) and is left as it was."""
    game = DiracGame("wasserstein", "gradient_penalty")
    settings = [(1.0, 0.5, 0.5, 0.2), (1.0, 0.5, 0.0, 1.0), (-1.0, 2.0, 2.0, 0.05)]
    short = trajectories_of(game, settings, steps=40)
    longer = extend(game, short, steps=130)
    at_once = trajectories_of(game, settings, steps=130)
    assert short[(1.0, 0.5, 0.0, 1.0)].escaped("simultaneous")
    for setting in settings:
        assert longer[setting].steps == 130 and same_runs(longer[setting], at_once[setting])
        assert same_runs(longer[setting].first(40), short[setting])
    mixed = {**short, **trajectories_of(game, [(1.0, 0.5, 1.0, 0.3)], steps=10)}
    with pytest.raises(ValueError, match="same number of steps"):
        extend(game, mixed, steps=130)


def test_the_cache_computes_a_batch_once_then_slices_and_extends(monkeypatch):
    import genlab.theory.cache as cache_module

    calls, extensions = [], []
    real, real_extend = cache_module.trajectories_of, cache_module.extend
    monkeypatch.setattr(cache_module, "trajectories_of", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    monkeypatch.setattr(cache_module, "extend", lambda *a, **k: extensions.append(sorted(a[1])) or real_extend(*a, **k))
    cache, start = TrajectoryCache(max_settings=50), (1.0, 1.0)
    batch = [(*start, g, 0.2) for g in (0.0, 0.5, 1.0, 1.5)]
    first = cache.get(DiracGame("minimax", "r1", 1.0), start, 0.2, 60, batch=batch)
    assert calls == [batch] and len(cache) == 4
    again = cache.get(DiracGame("minimax", "r1", 0.5), start, 0.2, 30, batch=batch)  # a neighbour, fewer steps
    assert len(calls) == 1 and again.steps == 30
    assert same_runs(again, trajectories(DiracGame("minimax", "r1", 0.5), start, 0.2, 30))
    more = cache.get(DiracGame("minimax", "r1", 1.0), start, 0.2, 90, batch=batch)  # more steps: continued
    assert len(calls) == 1 and same_runs(more, trajectories(DiracGame("minimax", "r1", 1.0), start, 0.2, 90))
    assert same_runs(more.first(60), first)
    assert extensions == [batch]  # the batch's runs continued together
    neighbour = cache.get(DiracGame("minimax", "r1", 1.5), start, 0.2, 90)  # so this one is ready
    assert len(calls) == 1 and len(extensions) == 1
    assert same_runs(neighbour, trajectories(DiracGame("minimax", "r1", 1.5), start, 0.2, 90))
    clicks = [(theta, 1.0, 1.0, 0.2) for theta in (-1.0, 0.0, 2.0)]
    cache.get(DiracGame("minimax", "r1", 1.0), (0.0, 1.0), 0.2, 60, batch=clicks)  # another start: a miss
    assert len(calls) == 2 and len(cache) == 7
    assert same_runs(cache.get(DiracGame("minimax", "r1", 1.0), (2.0, 1.0), 0.2, 60),
                     trajectories(DiracGame("minimax", "r1", 1.0), (2.0, 1.0), 0.2, 60))


def test_the_cache_forgets_the_least_recently_used_settings():
    cache = TrajectoryCache(max_settings=3)
    game = DiracGame("minimax", "r2", 1.0)
    cache.get(game, (1.0, 1.0), 0.2, 5, batch=[(1.0, 1.0, g, 0.2) for g in (0.0, 0.5, 1.0, 2.0, 3.0)])
    assert len(cache) == 3
    assert cache.get(game, (1.0, 1.0), 0.2, 5).steps == 5  # the requested setting is always kept


def test_step_verdicts():
    assert [step_verdict(r) for r in (0.9, 1.0 - 1e-15, 1.0 + 1e-15, 1.01)] == \
        ["converges", "circles", "circles", "spirals out"]


def test_a_diverging_run_stops_and_reads_as_infinite():
    paths = trajectories(DiracGame("wasserstein"), (1.0, 1.0), h=1.0, steps=1000)  # |1 + i| = √2 per step
    assert paths.end_norm("simultaneous") == math.inf
    assert len(paths.simultaneous) < 100
    assert math.isfinite(paths.end_norm("alternating"))  # ρ = 1: alternating steps stay on their orbit


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0, 2.5, 7.0])
@pytest.mark.parametrize("regularizer", ["r1", "r2"])
def test_jacobian_eigenvalues_match_the_closed_form(regularizer, gamma):
    """J = [[0, −f′(0)], [f′(0), −γ]] with f′(0) = ½ (up to the sign convention of D's logit, which
    transposes J and leaves its eigenvalues alone): λ = −γ/2 ± √(γ²/4 − 1/4)."""
    closed = np.linalg.eigvals(np.array([[0.0, -0.5], [0.5, -gamma]]))
    result = stability(DiracGame("minimax", regularizer, gamma), h=0.2)
    got = np.array(result.eigenvalues)
    assert np.sort_complex(got) == pytest.approx(np.sort_complex(closed), abs=1e-9)
    assert result.radius["simultaneous"] == pytest.approx(np.abs(1 + 0.2 * closed).max(), rel=1e-12)


def test_instance_noise_damps_the_critic_like_the_paper_says():
    """Mescheder et al.: instance noise σ adds 2 f″(0) σ² = −σ²/2 to the critic's entry of J."""
    sigma = 1.2
    closed = np.linalg.eigvals(np.array([[0.0, -0.5], [0.5, -sigma**2 / 2]]))
    got = np.array(stability(DiracGame("minimax", "instance_noise", sigma), h=0.1).eigenvalues)
    assert np.sort_complex(got) == pytest.approx(np.sort_complex(closed), abs=1e-9)


def test_the_unregularized_game_circles_and_its_steps_say_so():
    result = stability(DiracGame("nonsaturating"), h=0.2)
    assert np.array(result.eigenvalues) == pytest.approx([-0.5j, 0.5j], abs=1e-12)
    assert "Re λ = 0" in result.continuous_verdict
    assert result.radius["simultaneous"] == pytest.approx(math.sqrt(1 + 0.2**2 / 4))
    assert result.radius["alternating"] == pytest.approx(1.0)  # det = 1, complex pair: the unit circle


def test_the_step_jacobian_is_autograd_of_the_step_itself():
    game, h = DiracGame("minimax", "r1", 0.8), 0.25
    for scheme in ("simultaneous", "alternating"):
        jacobian = step_jacobian(game, h, scheme, at=(0.3, -0.2))
        alternating = torch.tensor([scheme == "alternating"])
        eps = 1e-6
        for j in range(2):
            hi, lo = torch.tensor([0.3, -0.2], dtype=DTYPE), torch.tensor([0.3, -0.2], dtype=DTYPE)
            hi[j] += eps
            lo[j] -= eps
            up = torch.cat(gradient_step(game, hi[:1], hi[1:], h, alternating))
            down = torch.cat(gradient_step(game, lo[:1], lo[1:], h, alternating))
            assert jacobian[:, j] == pytest.approx(((up - down) / (2 * eps)).tolist(), abs=1e-8)
    assert torch.allclose(step_jacobian(game, h, "simultaneous"), torch.eye(2, dtype=DTYPE) + h * field_jacobian(game))


def test_wgan_gp_has_no_linearization_at_the_equilibrium():
    result = stability(DiracGame("wasserstein", "gradient_penalty", 1.0), h=0.2)
    assert result.eigenvalues is None and result.radius is None
    assert "no derivative at (0, 0)" in result.continuous_verdict


@pytest.mark.parametrize("kwargs, says", [
    ({"loss": "hinge"}, "loss must be one of"),
    ({"regularizer": "dropout"}, "regularizer must be one of"),
    ({"regularizer": "r1", "strength": -1.0}, "γ must be between 0 and 10"),
    ({"regularizer": "instance_noise", "strength": 99.0}, "σ must be between 0 and 3"),
])
def test_a_bad_game_is_refused_in_one_line(kwargs, says):
    with pytest.raises(ValueError, match=says) as error:
        DiracGame(**kwargs)
    assert "\n" not in str(error.value)


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="step size must be positive"):
        trajectories(DiracGame(), (1.0, 1.0), h=0.0, steps=10)
