"""Failure detectors: each fires on a constructed failing run and stays quiet on a healthy one.

Histories are built two ways: synthetic series with a known answer, and real short CPU runs of genlab
trainers (with `cheap_metrics` recorded every few steps, as the runner does).
"""
import math

import numpy as np
import pytest
import torch
from torch import nn

from genlab.config import (
    DataConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    RunConfig,
)
from genlab.evaluation import cheap_metrics
from genlab.metrics.detectors import (
    EXPLODE_FACTOR,
    WASSERSTEIN_HINT,
    Finding,
    calmest_level,
    detect_discriminator_overpowering,
    detect_divergence,
    detect_exploding,
    detect_failures,
    detect_for_config,
    detect_mode_collapse,
    detect_posterior_collapse,
    flat_critic,
)
from genlab.presets import preset
from genlab.trainers import DivergenceError, make_trainer



def kinds(findings):
    return {f.kind for f in findings}


def train(config: RunConfig, steps: int, cheap_every: int = 25):
    """Train `steps` steps; return (trainer, history as {key: list} with a "step" column, NaN gaps)."""
    trainer = make_trainer(config)
    rows = []
    for _ in range(steps):
        metrics = trainer.step()
        if trainer.step_count % cheap_every == 0:
            metrics.update(cheap_metrics(trainer))
        rows.append(metrics)
    return trainer, table(rows)


def table(rows):
    keys = sorted({k for row in rows for k in row})
    return {k: [row.get(k, math.nan) for row in rows] for k in keys}


def noisy(level, n, scale, seed=0):
    return (level + scale * np.random.default_rng(seed).standard_normal(n)).tolist()


# ------------------------------------------------------------------------------------------------
# Synthetic histories
# ------------------------------------------------------------------------------------------------
def healthy_gan_history(n=300):
    return {
        "step": list(range(1, n + 1)),
        "loss/d": noisy(1.3, n, 0.1), "loss/g": noisy(0.8, n, 0.1, 1), "loss/total": noisy(2.1, n, 0.1, 2),
        "d/real": noisy(0.6, n, 0.05, 3), "d/fake": noisy(0.4, n, 0.05, 4), "grad_norm/g": noisy(1.0, n, 0.1, 5),
        "grad_norm/d": noisy(2.0, n, 0.2, 6),
    }


def with_readings(history, key, values):
    """`values` recorded every len(history)/len(values) steps, NaN in between (like MetricHistory.to_lists)."""
    n = len(history["step"])
    column = [math.nan] * n
    every = n // len(values)
    for i, v in enumerate(values):
        column[(i + 1) * every - 1] = v
    return {**history, key: column}


def test_healthy_gan_history_is_quiet():
    history = with_readings(healthy_gan_history(), "quality/modes_covered", [1, 4, 7, 8, 8, 7, 8, 8])
    history = with_readings(history, "quality/diversity", [0.05, 0.1, 0.4, 0.7, 0.9, 0.85])
    assert detect_failures(history, family="gan", gan_loss="nonsaturating") == []
    assert detect_failures(history) == []  # family and loss inferred from the keys and value ranges


def test_falling_mode_coverage_is_mode_collapse():
    history = with_readings(healthy_gan_history(), "quality/modes_covered", [3, 6, 8, 8, 6, 4, 2, 1, 1])
    history = with_readings(history, "quality/modes_total", [8] * 9)
    (finding,) = detect_mode_collapse(history)
    assert finding.kind == "mode_collapse" and finding.severity == "critical"
    assert "from 8 of 8 to 1" in finding.message
    # a one-mode wobble on a 25-mode grid is noise, not collapse
    wobble = with_readings(healthy_gan_history(), "quality/modes_covered", [10, 20, 24, 23, 24, 23, 22])
    assert detect_mode_collapse(wobble) == []


def collapsed(d_real: float, d_fake: float):
    history = {**healthy_gan_history(), "d/real": noisy(d_real, 300, 0.001, 3), "d/fake": noisy(d_fake, 300, 0.001, 4)}
    history = with_readings(history, "quality/modes_covered", [3, 6, 8, 8, 6, 4, 2, 1, 1])
    return with_readings(history, "quality/modes_total", [8] * 9)


def test_a_collapse_under_tight_weight_clipping_with_a_flat_d_blames_the_clipping():
    (finding,) = detect_failures(collapsed(0.5, 0.5), family="gan", gan_loss="nonsaturating", lipschitz_d=True,
                                 weight_clip=0.005)
    assert finding.kind == "mode_collapse" and "clipped to ±0.005" in finding.hint and "WGAN-GP" in finding.hint
    assert "D(x) = 0.500 and D(G(z)) = 0.500" in finding.message
    # not without clipping, and not when D still tells real from generated apart
    for history, clip in ((collapsed(0.5, 0.5), 0.0), (collapsed(0.6, 0.4), 0.005)):
        (finding,) = detect_failures(history, family="gan", gan_loss="nonsaturating", weight_clip=clip)
        assert "clipped" not in finding.hint and "lower generator learning rate" in finding.hint


def test_tight_clipping_makes_a_real_ds_outputs_flat():
    clipped = ring_gan("nonsaturating", 2e-3, 2e-3, 1).replace(**{"objective.weight_clip": 0.005})
    _, history = train(clipped, 150)
    assert flat_critic(history) is not None
    _, history = train(ring_gan("nonsaturating", 2e-3, 2e-3, 1), 150)
    assert flat_critic(history) is None


@pytest.mark.parametrize("readings, fires", [
    ([0.1, 0.5, 0.8, 0.6, 0.3, 0.2, 0.2], True),  # was varied, fell below 0.35 and to < half its best
    ([0.05, 0.06, 0.05, 0.07, 0.05, 0.06], True),  # never varied at all: stuck below 0.15
    ([0.05, 0.1, 0.3], False),  # an untrained generator starts alike; too early to call
    ([0.02, 0.03, 0.045, 0.07, 0.10, 0.14], False),  # low but rising: a healthy MLP GAN's first 600 steps
    ([0.2, 0.5, 0.9, 0.8, 0.7, 0.75], False),  # healthy
])
def test_image_diversity(readings, fires):
    history = with_readings(healthy_gan_history(), "quality/diversity", readings)
    assert bool(detect_mode_collapse(history)) == fires


def test_posterior_collapse_from_kl_and_active_units():
    n = 400
    kl = np.concatenate([np.linspace(3.0, 0.02, 200), np.full(200, 0.02)]).tolist()
    collapsed = with_readings({"step": list(range(1, n + 1)), "loss/kl": kl}, "quality/active_units",
                              [3, 1, 0, 0])
    (finding,) = detect_posterior_collapse(collapsed)
    assert finding.kind == "posterior_collapse" and "0 active latent units" in finding.message
    healthy = with_readings({"step": list(range(1, n + 1)), "loss/kl": noisy(20.0, n, 1.0)},
                            "quality/active_units", [4, 6, 7, 7])
    assert detect_failures(healthy, family="vae") == []
    # while a KL warm-up is still running, a small KL is expected: no finding before it ends
    assert detect_posterior_collapse(collapsed, kl_warmup_steps=450) == []


def test_divergence_from_infinities_or_the_runner():
    history = healthy_gan_history()
    assert detect_divergence(history) == []
    history["loss/d"][-1] = math.inf
    (finding,) = detect_divergence(history)
    assert finding.severity == "critical" and "loss/d" in finding.message and finding.step == 300
    (finding,) = detect_failures(healthy_gan_history(), family="gan", diverged_term="penalty/r1")
    assert finding.kind == "divergence" and "penalty/r1" in finding.message


def test_a_gradient_norm_growing_10000_fold_is_exploding():
    exploding = healthy_gan_history()
    exploding["grad_norm/d"] = (np.array(exploding["grad_norm/d"]) * np.logspace(0, 4, 300)).tolist()
    (finding,) = detect_exploding(exploding)
    assert finding.kind == "exploding" and "grad_norm/d" in finding.message and finding.step == 300
    assert detect_exploding(healthy_gan_history()) == []


def test_a_steadily_growing_loss_is_caught_against_its_calmest_level():
    """|loss| ∝ step², as an unconstrained Wasserstein critic's grows: the recent median is only ~30×
    the median of the first half (a comparison with the past's average misses it), but ~10⁴× the level
    of the first steps."""
    n = 600
    steps = np.arange(1, n + 1)
    history = {**healthy_gan_history(n), "loss/g": (0.5 * steps.astype(float) ** 2).tolist()}
    g = np.abs(history["loss/g"])
    assert np.median(g[-60:]) < EXPLODE_FACTOR * np.median(g[: n // 2])
    (finding,) = detect_exploding(history)
    assert "loss/g" in finding.message and finding.severity == "critical"
    assert calmest_level(g[:-60]) == pytest.approx(np.median(g[:10]))


@pytest.mark.parametrize("change, fires", [
    (lambda v: v * np.logspace(0, 2.5, v.size), True),  # 300× over the run
    (lambda v: v * np.logspace(0, 1.8, v.size), False),  # 60×: a lot, but not orders of magnitude
    (lambda v: np.where(np.arange(v.size) == v.size - 1, 1e6, v), False),  # one wild reading
    (lambda v: v * 1e-3 * np.logspace(0, 4, v.size), False),  # 0.001 → 10: 10⁴×, but still below the floor
])
def test_exploding_needs_a_sustained_rise_by_orders_of_magnitude(change, fires):
    history = healthy_gan_history()
    history["loss/g"] = change(np.abs(np.array(history["loss/g"]))).tolist()
    assert bool(detect_exploding(history)) == fires


def test_exploding_hint_names_the_lipschitz_constraint_for_an_unconstrained_wasserstein_loss():
    history = healthy_gan_history()
    history["loss/d"] = (np.array(history["loss/d"]) * np.logspace(0, 4, 300)).tolist()
    cfg = RunConfig(model=ModelConfig(family="gan"), objective=ObjectiveConfig(gan_loss="wasserstein"))
    (finding,) = detect_for_config(history, cfg)
    assert finding.kind == "exploding" and finding.hint == WASSERSTEIN_HINT
    for constrained in (cfg.replace(**{"objective.gp_lambda": 10.0}), cfg.replace(**{"objective.weight_clip": 0.01}),
                        cfg.replace(**{"model.spectral_norm_discriminator": True}),
                        cfg.replace(**{"objective.gan_loss": "nonsaturating"})):
        (finding,) = detect_for_config(history, constrained)
        assert finding.kind == "exploding" and finding.hint != WASSERSTEIN_HINT and "learning rate" in finding.hint
    history["loss/d"][-1] = math.nan  # a NaN reading is skipped by the series; an infinity is divergence
    history["loss/g"][-1] = math.inf
    assert kinds(detect_for_config(history, cfg)) == {"divergence"}


def test_a_wandering_wasserstein_critic_is_not_divergence():
    history = healthy_gan_history()
    history["loss/d"] = (np.sin(np.arange(300) / 20.0) * 3.0).tolist()  # critic loss swings by a few units
    assert detect_failures(history, family="gan", gan_loss="wasserstein") == []


def test_both_history_formats_give_the_same_findings():
    history = with_readings(healthy_gan_history(), "quality/modes_covered", [3, 6, 8, 8, 6, 4, 2, 1, 1])
    as_pairs = {}
    for key, values in history.items():
        if key == "step":
            continue
        values = np.asarray(values, dtype=float)
        keep = ~np.isnan(values)
        as_pairs[key] = (np.asarray(history["step"], dtype=float)[keep], values[keep])
    assert detect_failures(history) == detect_failures(as_pairs)
    assert detect_failures(history)[0].to_dict()["kind"] == "mode_collapse"


def test_quality_argument_counts_as_the_latest_reading():
    history = {"step": list(range(1, 301)), "loss/kl": noisy(5.0, 300, 0.1)}
    assert detect_failures(history, family="vae") == []
    (finding,) = detect_failures(history, family="vae", quality={"active_units": 0})
    assert finding.kind == "posterior_collapse"


# ------------------------------------------------------------------------------------------------
# Real runs
# ------------------------------------------------------------------------------------------------
def ring_gan(loss, lr_g, lr_d, n_critic):
    return RunConfig(
        name="det", device="cpu", seed=0, stats_every=10_000, data=DataConfig(name="ring", n_samples=5000),
        model=ModelConfig(family="gan", arch="mlp", latent_dim=2, width=64, depth=2),
        objective=ObjectiveConfig(gan_loss=loss),
        optim=OptimConfig(lr_generator=lr_g, lr_discriminator=lr_d, beta1=0.5, beta2=0.999, batch_size=64, n_critic=n_critic),
    )


def test_vanished_generator_gradients_are_judged_over_the_same_steps_when_read_less_often():
    """The trainer reads ‖∇G‖ every few steps and D's outputs every step: the window is the same steps."""
    steps = np.arange(1, 201, dtype=float)
    saturated = steps > 150
    history = {"d/real": (steps, np.where(saturated, 0.99, 0.6)), "d/fake": (steps, np.where(saturated, 0.01, 0.4)),
               "grad_norm/g": (steps[4::5], np.where(saturated[4::5], 1e-3, 1.0))}
    (finding,) = detect_discriminator_overpowering(history, "nonsaturating")
    assert finding.severity == "critical" and "‖∇G‖ 0.001 (was up to 1)" in finding.message
    history["grad_norm/g"] = (steps[4::5], np.ones(40))  # still flowing: a warning only
    (finding,) = detect_discriminator_overpowering(history, "nonsaturating")
    assert finding.severity == "warning"


def test_discriminator_overpowering_on_real_gan_runs():
    """Minimax loss, D 250x faster and 5 D steps per G step: D(x) → 1, D(G(z)) → 0, ‖∇G‖ → 0."""
    cfg = ring_gan("minimax", 2e-5, 5e-3, 5)
    _, history = train(cfg, 100)
    findings = detect_for_config(history, cfg)
    assert "discriminator_overpowering" in kinds(findings)
    (finding,) = [f for f in findings if f.kind == "discriminator_overpowering"]
    assert finding.severity == "critical" and "‖∇G‖" in finding.message
    healthy = ring_gan("nonsaturating", 2e-4, 2e-4, 1)
    _, history = train(healthy, 100)
    assert detect_for_config(history, healthy) == []


def shapes_vae(beta):
    return RunConfig(
        name="det", device="cpu", seed=0, stats_every=10_000,
        data=DataConfig(name="shapes", image_size=32, n_samples=2000),
        model=ModelConfig(family="vae", arch="mlp", latent_dim=8, width=128, depth=1),
        objective=ObjectiveConfig(beta=beta),
        optim=OptimConfig(lr_encoder=1e-3, lr_decoder=1e-3, beta1=0.9, beta2=0.999, batch_size=64),
    )


def test_posterior_collapse_on_real_vae_runs():
    """β = 200 makes any information in z cost more than it saves: the encoder collapses to the prior."""
    collapsed_cfg = shapes_vae(200.0)
    _, history = train(collapsed_cfg, 150)
    findings = detect_for_config(history, collapsed_cfg)
    assert kinds(findings) == {"posterior_collapse"}
    assert [v for v in history["quality/active_units"] if not math.isnan(v)][-1] == 0
    healthy_cfg = shapes_vae(1.0)
    _, history = train(healthy_cfg, 150)
    assert detect_for_config(history, healthy_cfg) == []
    assert [v for v in history["quality/active_units"] if not math.isnan(v)][-1] >= 3


def test_divergence_on_a_real_run():
    """Plain SGD at lr 1 on an unconstrained Wasserstein critic blows up within ~10 steps (seeds 0-3 checked)."""
    cfg = ring_gan("wasserstein", 1.0, 1.0, 1)
    cfg.optim.optimizer = "sgd"
    trainer = make_trainer(cfg)
    rows = []
    with pytest.raises(DivergenceError) as caught:
        for _ in range(200):
            rows.append(trainer.step())
    findings = detect_for_config(table(rows), cfg, diverged_term=caught.value.term)
    assert findings[0].kind == "divergence" and findings[0].severity == "critical"


def test_exploding_on_a_real_unconstrained_wasserstein_run():
    """Issue 16: Wasserstein loss with no constraint on D, lr 1e-2, 5 D steps per G step: the critic's
    outputs run away within a few dozen steps. The same run with WGAN-GP stays quiet."""
    cfg = ring_gan("wasserstein", 1e-2, 1e-2, 5)
    _, history = train(cfg, 150)
    finding = detect_for_config(history, cfg)[0]
    assert finding.kind == "exploding" and finding.hint == WASSERSTEIN_HINT
    assert max(abs(v) for v in history["loss/g"]) > 1e3
    _, history = train(cfg.replace(**{"objective.gp_lambda": 10.0}), 150)
    assert detect_for_config(history, cfg.replace(**{"objective.gp_lambda": 10.0})) == []


@pytest.mark.slow
def test_exploding_in_the_apps_ring_setup_as_the_issue_saw_it():
    """The Train page's ring GAN (its preset) switched to the Wasserstein loss, lr 1e-2, n_critic 5 and
    R1 off (the preset's light R1 alone keeps this critic in check): |loss/g| grows steadily, past 10⁴
    within 600 steps; the finding is there long before."""
    cfg = RunConfig(name="explode").replace(**{
        **preset("gan", "ring"), "objective.gan_loss": "wasserstein", "optim.lr_generator": 1e-2, "optim.lr_discriminator": 1e-2,
        "optim.n_critic": 5, "objective.r1_gamma": 0.0, "stats_every": 10_000})
    _, history = train(cfg, 600, cheap_every=100)
    assert max(abs(v) for v in history["loss/g"][-50:]) > 1e4
    early = {key: values[:200] for key, values in history.items()}
    assert detect_for_config(early, cfg)[0].hint == WASSERSTEIN_HINT
    assert detect_for_config(history, cfg)[0].kind == "exploding"


class ModeSampler(nn.Module):
    """A stand-in generator for 2D: sends each z to one of the first `active` ring modes (by z's angle)."""

    def __init__(self, modes):
        super().__init__()
        self.register_buffer("modes", modes.float())
        self.active = len(modes)

    def forward(self, z):
        angle = torch.atan2(z[:, 1], z[:, 0]) + math.pi  # [0, 2π]
        index = (angle / (2 * math.pi) * self.active).long().clamp(max=self.active - 1)
        return self.modes[index] + 0.002 * z


def test_mode_collapse_through_cheap_metrics():
    """cheap_metrics on a GAN trainer whose generator covers 8 ring modes, then fewer and fewer."""
    cfg = ring_gan("nonsaturating", 2e-4, 2e-4, 1)
    trainer = make_trainer(cfg)
    trainer.generator = trainer.generator_ema = ModeSampler(trainer.data.modes)  # samples may come from the EMA copy
    rows = []
    for step, active in enumerate([8, 8, 8, 8, 6, 4, 2, 1, 1], start=1):
        trainer.generator.active = active
        rows.append({"step": step * 100, **cheap_metrics(trainer)})
    history = table(rows)
    assert history["quality/modes_covered"][:4] == [8, 8, 8, 8]
    assert history["quality/high_quality_fraction"][0] == 1.0
    (finding,) = detect_failures(history, family="gan")
    assert finding.kind == "mode_collapse"
    healthy = table(rows[:4])
    assert detect_failures(healthy, family="gan") == []


class ImageBank(nn.Module):
    """A stand-in image generator: z picks one of `count` stored real images (model space [-1, 1])."""

    def __init__(self, images):
        super().__init__()
        self.register_buffer("images", images * 2 - 1)
        self.count = len(images)

    def forward(self, z):
        index = (torch.special.ndtr(z[:, 0]) * self.count).long().clamp(max=self.count - 1)
        return self.images[index]


def test_image_diversity_through_cheap_metrics():
    """Real images score diversity ≈ 1; one image repeated scores 0; the detector sees the fall."""
    cfg = RunConfig(name="det", device="cpu", seed=0, data=DataConfig(name="shapes", image_size=32, n_samples=1000),
                    model=ModelConfig(family="gan", arch="mlp", latent_dim=8, width=32, depth=1))
    trainer = make_trainer(cfg)
    trainer.generator = trainer.generator_ema = ImageBank(trainer.data.batch(torch.arange(500)))
    rows = []
    for step, count in enumerate([500, 500, 500, 50, 3, 1, 1, 1], start=1):
        trainer.generator.count = count
        rows.append({"step": step * 100, **cheap_metrics(trainer)})
    diversity = [row["quality/diversity"] for row in rows]
    assert 0.8 < diversity[0] < 1.2
    assert diversity[-1] == pytest.approx(0.0, abs=1e-6)
    assert kinds(detect_failures(table(rows), family="gan")) == {"mode_collapse"}
    assert detect_failures(table(rows[:4]), family="gan") == []


def test_findings_are_plain_values():
    finding = Finding("divergence", "critical", "Training diverged", "loss/d became nan", "Lower the lr.", 3)
    assert finding.to_dict() == {"kind": "divergence", "severity": "critical", "title": "Training diverged",
                                 "message": "loss/d became nan", "hint": "Lower the lr.", "step": 3}
