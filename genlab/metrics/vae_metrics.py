"""VAE quality numbers on held-out data: ELBO, importance-sampled NLL, active units, KL per dimension.

All functions take a VAETrainer (for its `vae` and its `reconstruction_nll`, so the likelihood is the
one the run trains with) and a batch `x` of data in data space (images in [0, 1]). Nats per example, in
the space the VAE models (`trainer.model_space`): a user's 2D points standardized, as in training, so
these numbers compare with the training loss; in the points' own units add 2·log(scale) per point.

Importance-weighted bound (Burda et al. 2016, "Importance Weighted Autoencoders"): with z_i ~ q(z|x),

    w_i = p(x|z_i) p(z_i) / q(z_i|x),      log p̂_k(x) = log (1/k) Σ_{i≤k} w_i,
    E[log p̂_1] = ELBO  ≤  E[log p̂_k]  ≤  E[log p̂_{k+1}]  ≤  log p(x).

So NLL_k = −E[log p̂_k] is an upper bound on −log p(x) that tightens (never loosens) as k grows.

Estimating NLL_k for several k from ONE set of m = max(k) samples per example, split into m/k disjoint
blocks of k (block b holds samples b·k … b·k + k − 1) and averaged over the blocks, keeps that ordering
exactly on every draw, not only in expectation: the mean of the w's in a block of 100 is the average
of the means of its ten blocks of 10, and log of an average ≥ average of the logs (Jensen), so

    NLL_100 ≤ NLL_10 ≤ NLL_1,   where NLL_1 is −ELBO estimated on the same m samples.

Each block average is still an unbiased estimate of NLL_k (an average of m/k independent k-sample bounds).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genlab import losses
from genlab.nn_utils import eval_mode

DEFAULT_KS = (1, 10, 100)
ACTIVE_THRESHOLD = 0.01  # Burda et al.: unit u is active if Cov_x(E_q[z_u | x]) > 0.01
MAX_DECODES = 4096  # decoder inputs per forward pass when drawing many posterior samples
EVAL_BATCH = 1000  # examples per forward pass otherwise
LOG_2PI = math.log(2.0 * math.pi)


def _encode(trainer, x: Tensor) -> tuple[Tensor, Tensor]:
    return trainer.vae.encode(trainer.model_space(x.to(trainer.device)))


@torch.no_grad()
def log_importance_weights(trainer, x: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """(B, k) log w = log p(x|z) + log p(z) − log q(z|x) for k posterior samples z ~ q(z|x) per example.

    Noise is drawn on the CPU from `generator` (so results do not depend on the device) in batches that
    keep at most MAX_DECODES decoder inputs per forward pass.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    rows = []
    chunk = max(1, MAX_DECODES // k)
    with eval_mode(trainer.vae):
        for start in range(0, len(x), chunk):
            xb = trainer.model_space(x[start : start + chunk].to(trainer.device))
            mu, logvar = trainer.vae.encode(xb)  # (b, d)
            b, d = mu.shape
            eps = torch.randn(b, k, d, generator=generator).to(mu.device, mu.dtype)
            z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps  # (b, k, d)
            log_q = (-0.5 * (eps.square() + logvar[:, None] + LOG_2PI)).sum(-1)  # log N(z; mu, σ²), (b, k)
            log_prior = (-0.5 * (z.square() + LOG_2PI)).sum(-1)  # log N(z; 0, I), (b, k)
            decoded = trainer.vae.decode(z.reshape(b * k, d))
            x_rep = xb.repeat_interleave(k, dim=0)
            log_lik = -trainer.reconstruction_nll(decoded, x_rep).reshape(b, k)
            rows.append(log_lik + log_prior - log_q)
    return torch.cat(rows)


def nested_nll(log_w: Tensor, k: int) -> Tensor:
    """Per-example NLL_k from (B, m) log-weights: −mean over the m/k blocks of log-mean-exp of each block."""
    m = log_w.shape[1]
    if m % k:
        raise ValueError(f"k={k} must divide the number of samples m={m}")
    blocks = log_w.reshape(log_w.shape[0], m // k, k)
    return -(torch.logsumexp(blocks, dim=-1) - math.log(k)).mean(-1)


@torch.no_grad()
def importance_sampled_nll(trainer, x: Tensor, ks: tuple[int, ...] = DEFAULT_KS,
                           generator: torch.Generator | None = None) -> dict[str, float]:
    """{"nll_k<k>": mean NLL_k over x} for each k, from max(ks) shared samples (every k must divide it).

    "nll_k1" is −ELBO estimated with those same samples (KL by Monte Carlo); the values never increase
    with k on any draw (see the module docstring).
    """
    ks = tuple(sorted({int(k) for k in ks}))
    m = ks[-1]
    bad = [k for k in ks if k < 1 or m % k]
    if bad:
        raise ValueError(f"each k must be ≥ 1 and divide the largest k ({m}); not {bad}")
    log_w = log_importance_weights(trainer, x, m, generator)
    return {f"nll_k{k}": float(nested_nll(log_w, k).mean()) for k in ks}


@torch.no_grad()
def elbo(trainer, x: Tensor, generator: torch.Generator | None = None, samples: int = 1) -> dict[str, float]:
    """ELBO = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) with β = 1 and the KL in closed form; mean over x.

    The expectation uses `samples` posterior samples per example. Also returns its two terms.
    """
    recon_sum, kl_sum = 0.0, 0.0
    with eval_mode(trainer.vae):
        for start in range(0, len(x), EVAL_BATCH):
            xb = trainer.model_space(x[start : start + EVAL_BATCH].to(trainer.device))
            mu, logvar = trainer.vae.encode(xb)
            for _ in range(samples):
                eps = torch.randn(mu.shape, generator=generator).to(mu.device, mu.dtype)
                decoded = trainer.vae.decode(mu + torch.exp(0.5 * logvar) * eps)
                recon_sum += float(trainer.reconstruction_nll(decoded, xb).sum()) / samples
            kl_sum += float(losses.kl_standard_normal(mu, logvar).sum())
    n = len(x)
    return {"elbo": -(recon_sum + kl_sum) / n, "recon_nll": recon_sum / n, "kl": kl_sum / n}


@torch.no_grad()
def posterior_stats(trainer, x: Tensor, threshold: float = ACTIVE_THRESHOLD) -> dict[str, Any]:
    """Active units and KL per latent dimension over x.

    active_units: number of dims u with Var_x(E_q[z_u|x]) > threshold (Burda et al. 2016);
    au_var: that variance per dim; kl_dims: mean KL(q(z_u|x) ‖ N(0,1)) per dim (nats).
    """
    mus, kls = [], []
    with eval_mode(trainer.vae):
        for start in range(0, len(x), EVAL_BATCH):
            mu, logvar = _encode(trainer, x[start : start + EVAL_BATCH])
            mus.append(mu.double())
            kls.append(losses.kl_standard_normal(mu, logvar).double().sum(0))
    mu = torch.cat(mus)
    variance = mu.var(0, unbiased=len(mu) > 1)
    kl_dims = torch.stack(kls).sum(0) / len(mu)
    return {
        "active_units": int((variance > threshold).sum()),
        "au_var": variance.cpu().tolist(),
        "kl_dims": kl_dims.cpu().tolist(),
    }


def vae_test_metrics(trainer, n_test: int = 1000, ks: tuple[int, ...] = DEFAULT_KS,
                     generator: torch.Generator | None = None, split: str = "test",
                     nll_examples: int | None = 500) -> dict[str, Any]:
    """Everything above on the run's held-out split, as a flat dict for `python -m genlab eval`.

    ELBO, active units and KL per dim use n_test examples; the NLL (k = max(ks) decodes per example)
    uses the first `nll_examples` of them (None: all). For Bernoulli likelihoods on grey-level images
    the "NLL" is that of the Bernoulli model used in training (a standard, if not normalized, choice).
    """
    from genlab.data import load_data

    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    data = load_data(trainer.config.data, "cpu", seed=trainer.config.seed, split=split)
    index = torch.randperm(len(data), generator=generator)[: min(n_test, len(data))]
    x = data.batch(index)
    # a set without test files is measured on its seeded held-out split, and says so (genlab.data.split)
    result: dict[str, Any] = {"n_test": len(x), "split": data.split_note or split,
                              "likelihood": trainer.config.objective.likelihood}
    result.update(elbo(trainer, x, generator))
    nll_x = x if nll_examples is None else x[:nll_examples]
    result.update(importance_sampled_nll(trainer, nll_x, ks, generator))
    result["n_nll"] = len(nll_x)
    stats = posterior_stats(trainer, x)
    result["active_units"] = stats["active_units"]
    result["latent_dim"] = len(stats["kl_dims"])
    for i, (kl, var) in enumerate(zip(stats["kl_dims"], stats["au_var"])):
        result[f"kl/dim_{i}"] = kl
        result[f"au_var/dim_{i}"] = var
    return result
