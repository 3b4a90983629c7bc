"""VAE metrics: ELBO, importance-sampled NLL, active units, KL per dimension.

Two kinds of checks:
- exact: a linear-Gaussian VAE whose log p(x) and posterior are known in closed form;
- a small VAE really trained on shapes: NLL_k ≤ −ELBO and NLL_k does not increase with k.
"""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from genlab import losses
from genlab.config import DataConfig, ModelConfig, OptimConfig, RunConfig
from genlab.metrics.vae_metrics import (
    elbo,
    importance_sampled_nll,
    log_importance_weights,
    nested_nll,
    posterior_stats,
)
from genlab.models import VAE
from genlab.trainers import make_trainer



SIGMA = 0.5
W = torch.diag(torch.tensor([2.0, 1.0]))  # decoder x = W z + b + N(0, σ² I); WᵀW diagonal
B = torch.tensor([0.3, -0.2])
POSTERIOR_VAR = 1.0 / (1.0 + torch.diagonal(W.T @ W) / SIGMA**2)  # exact q(z|x) variance: (1/17, 1/5)


def linear_gaussian(mean_scale: float = 1.0, var_scale: float = 1.0):
    """A VAE on 2D points with a linear decoder; its encoder is the exact posterior when both scales are 1."""
    decoder = nn.Linear(2, 2)
    encoder = nn.Linear(2, 4)
    with torch.no_grad():
        decoder.weight.copy_(W)
        decoder.bias.copy_(B)
        gain = POSTERIOR_VAR[:, None] * W.T / SIGMA**2  # E[z|x] = Σ Wᵀ (x − b) / σ²
        encoder.weight.zero_()
        encoder.weight[:2] = mean_scale * gain
        encoder.bias.zero_()
        encoder.bias[:2] = -mean_scale * gain @ B
        encoder.bias[2:] = torch.log(var_scale * POSTERIOR_VAR)
    vae = VAE(encoder, decoder, latent_dim=2)
    return SimpleNamespace(vae=vae, device=torch.device("cpu"), model_space=lambda x: x,
                           reconstruction_nll=lambda decoded, x: losses.gaussian_nll(decoded, x, SIGMA))


def true_nll(x):
    cov = W @ W.T + SIGMA**2 * torch.eye(2)
    return -torch.distributions.MultivariateNormal(B, cov).log_prob(x)


def data(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=g)
    return z @ W.T + B + SIGMA * torch.randn(n, 2, generator=g)


def test_exact_posterior_gives_exact_likelihood():
    """With q(z|x) = p(z|x), every importance weight equals p(x): all bounds are tight."""
    model, x = linear_gaussian(), data(500)
    log_w = log_importance_weights(model, x, 10, torch.Generator().manual_seed(1))
    assert torch.allclose(-log_w, true_nll(x)[:, None].expand_as(log_w), atol=1e-4)
    nll = importance_sampled_nll(model, x, (1, 10), torch.Generator().manual_seed(1))
    assert nll["nll_k1"] == pytest.approx(float(true_nll(x).mean()), abs=1e-4)
    assert nll["nll_k10"] == pytest.approx(float(true_nll(x).mean()), abs=1e-4)
    # the closed-form-KL ELBO is a Monte Carlo estimate of the same (tight) bound
    result = elbo(model, x, torch.Generator().manual_seed(2), samples=20)
    assert -result["elbo"] == pytest.approx(float(true_nll(x).mean()), abs=0.02)


def test_bounds_tighten_towards_true_nll_with_a_poor_posterior():
    """A wrong q: −ELBO is loose, NLL_k tightens with k and stays above the true NLL."""
    model, x = linear_gaussian(mean_scale=0.5, var_scale=3.0), data(2000)
    truth = float(true_nll(x).mean())
    nll = importance_sampled_nll(model, x, (1, 10, 100), torch.Generator().manual_seed(3))
    loose = -elbo(model, x, torch.Generator().manual_seed(4), samples=50)["elbo"]
    assert loose > truth + 0.3  # the bound really is loose here, so the test can tell the k apart
    assert nll["nll_k1"] == pytest.approx(loose, abs=0.06)  # NLL_1 is −ELBO (Monte Carlo KL); ~4σ of MC noise
    assert truth <= nll["nll_k100"] < nll["nll_k10"] < nll["nll_k1"]
    assert nll["nll_k100"] - truth < 0.1 * (loose - truth)  # 100 samples close most of the gap


def test_nested_blocks_never_loosen_on_any_draw():
    """Jensen on nested blocks: for any log-weights, NLL_100 ≤ NLL_10 ≤ NLL_1 per example."""
    log_w = 5.0 * torch.randn(50, 100, generator=torch.Generator().manual_seed(5))
    nll = [nested_nll(log_w, k) for k in (1, 10, 100)]
    assert bool((nll[2] <= nll[1] + 1e-9).all()) and bool((nll[1] <= nll[0] + 1e-9).all())
    assert torch.allclose(nll[0], -log_w.mean(1))
    assert torch.allclose(nll[2], -(torch.logsumexp(log_w, 1) - math.log(100)))
    with pytest.raises(ValueError):
        nested_nll(log_w, 30)


@pytest.fixture(scope="module")
def trained_vae():
    """An MLP VAE trained 300 steps on 32 px shapes (about 3 s on 2 CPU cores)."""
    cfg = RunConfig(
        name="nll", device="cpu", seed=0, stats_every=10_000,
        data=DataConfig(name="shapes", image_size=32, n_samples=2000),
        model=ModelConfig(family="vae", arch="mlp", latent_dim=8, width=128, depth=1),
        optim=OptimConfig(lr_encoder=1e-3, lr_decoder=1e-3, beta1=0.9, beta2=0.999, batch_size=64),
    )
    trainer = make_trainer(cfg)
    for _ in range(300):
        trainer.step()
    return trainer


def test_trained_vae_nll_is_below_minus_elbo_and_falls_with_k(trained_vae):
    from genlab.data import load_data

    test = load_data(trained_vae.config.data, "cpu", seed=0, split="test")
    x = test.batch(torch.arange(64))
    nll = importance_sampled_nll(trained_vae, x, (1, 10, 100), torch.Generator().manual_seed(1))
    # same samples, nested blocks: exact ordering on this draw
    assert nll["nll_k100"] <= nll["nll_k10"] <= nll["nll_k1"]
    # against an ELBO estimated from independent samples (closed-form KL, 20 samples per image):
    # NLL_1 agrees with it up to Monte Carlo noise, and the k > 1 bounds are clearly tighter
    minus_elbo = -elbo(trained_vae, x, torch.Generator().manual_seed(2), samples=20)["elbo"]
    assert nll["nll_k1"] == pytest.approx(minus_elbo, abs=0.5)
    assert nll["nll_k10"] < minus_elbo - 1.0
    assert nll["nll_k100"] < nll["nll_k10"] - 0.2
    # the same holds with fresh samples for each k (in expectation, with a wide margin here)
    fresh = {k: importance_sampled_nll(trained_vae, x, (k,), torch.Generator().manual_seed(10 + k))[f"nll_k{k}"]
             for k in (10, 100)}
    assert fresh[100] < fresh[10] < minus_elbo


def test_active_units_and_kl_per_dim(trained_vae):
    x = trained_vae.data.batch(torch.arange(500))
    stats = posterior_stats(trained_vae, x)
    assert len(stats["kl_dims"]) == len(stats["au_var"]) == 8
    assert stats["active_units"] == sum(v > 0.01 for v in stats["au_var"])
    assert stats["active_units"] >= 1
    with torch.no_grad():
        mu, logvar = trained_vae.vae.encode(x)
    assert stats["kl_dims"] == pytest.approx(losses.kl_standard_normal(mu, logvar).mean(0).tolist(), rel=1e-4)
    assert stats["au_var"] == pytest.approx(mu.double().var(0).tolist(), rel=1e-4)


def test_active_units_of_a_collapsed_encoder():
    """An encoder that ignores x (E[z|x] constant) has no active units and, at the prior, zero KL."""
    model = linear_gaussian()
    with torch.no_grad():
        model.vae.encoder.weight.zero_()
        model.vae.encoder.bias.zero_()  # q(z|x) = N(0, I) = p(z) for every x
    stats = posterior_stats(model, data(300))
    assert stats["active_units"] == 0
    assert stats["kl_dims"] == pytest.approx([0.0, 0.0], abs=1e-12)
    healthy = posterior_stats(linear_gaussian(), data(300))
    assert healthy["active_units"] == 2


def test_vae_test_metrics_for_eval(trained_vae):
    from genlab.metrics.vae_metrics import vae_test_metrics

    result = vae_test_metrics(trained_vae, n_test=200, ks=(1, 10), generator=torch.Generator().manual_seed(0),
                              nll_examples=50)
    assert result["n_test"] == 200 and result["n_nll"] == 50 and result["split"] == "test"
    assert result["elbo"] == pytest.approx(-(result["recon_nll"] + result["kl"]))
    assert result["nll_k10"] <= result["nll_k1"]
    assert 0 <= result["active_units"] <= result["latent_dim"] == 8
    assert sum(result[f"kl/dim_{i}"] for i in range(8)) == pytest.approx(result["kl"], rel=1e-4)
    with pytest.raises(ValueError):
        vae_test_metrics(trained_vae, n_test=10, ks=(3, 10))  # 3 does not divide 10
