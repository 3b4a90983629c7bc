"""Evaluate a saved run: a small registry of evaluators, each adding its metrics when it applies.

    result = evaluate_run(load_run("ring-gan"), n_samples=2500)

Built in: mode coverage for 2D mixtures (VEEGAN / PacGAN protocol, genlab.metrics.modes) and the ELBO
on the test split for VAEs. Other metrics (FID, NLL, ...) register themselves with `register`:

    @register("fid", applies=lambda loaded: loaded.trainer.data.kind == "images")
    def fid(loaded, n_samples, generator): ...
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from genlab.checkpoints import LoadedRun

Evaluator = Callable[[LoadedRun, int, torch.Generator], dict[str, Any]]
EVAL_BATCH = 500


@dataclass(frozen=True)
class Registered:
    name: str
    applies: Callable[[LoadedRun], bool]
    evaluate: Evaluator


EVALUATORS: dict[str, Registered] = {}


def register(name: str, applies: Callable[[LoadedRun], bool]) -> Callable[[Evaluator], Evaluator]:
    """Decorator adding an evaluator; its metrics appear in the result under "<name>/<key>"."""

    def decorate(fn: Evaluator) -> Evaluator:
        EVALUATORS[name] = Registered(name, applies, fn)
        return fn

    return decorate


def evaluate_run(loaded: LoadedRun, n_samples: int = 2500, seed: int = 0, only: list[str] | None = None) -> dict[str, Any]:
    """Metrics of every applicable evaluator (or those in `only`) on `n_samples` samples drawn from `seed`."""
    trainer = loaded.trainer
    result: dict[str, Any] = {
        "run": loaded.path.name,
        "family": loaded.config.model.family,
        "dataset": loaded.config.data.name,
        "step": trainer.step_count,
        "n_samples": n_samples,
        "seed": seed,
    }
    names = []
    for name, entry in EVALUATORS.items():
        if only is not None and name not in only:
            continue
        if not entry.applies(loaded):
            continue
        generator = torch.Generator().manual_seed(seed)  # each evaluator sees the same draws whatever ran first
        for key, value in entry.evaluate(loaded, n_samples, generator).items():
            result[f"{name}/{key}"] = value
        names.append(name)
    result["evaluators"] = names
    return result


def sample(trainer, n: int, generator: torch.Generator) -> torch.Tensor:
    """n samples in data space from prior noise drawn with `generator` (CPU), in batches; on the CPU."""
    out = []
    for start in range(0, n, EVAL_BATCH):
        z = torch.randn(min(EVAL_BATCH, n - start), trainer.latent_dim, generator=generator)
        out.append(trainer.generate(z.to(trainer.device)).cpu())
    return torch.cat(out)


def _has_modes(loaded: LoadedRun) -> bool:
    return loaded.trainer.data.kind == "points" and loaded.config.data.name in ("ring", "grid")


@register("modes", applies=_has_modes)
def mode_coverage(loaded: LoadedRun, n_samples: int, generator: torch.Generator) -> dict[str, Any]:
    """Modes covered, high-quality fraction and reverse KL of samples against the true mixture."""
    from genlab.data import toy2d
    from genlab.metrics.modes import mode_metrics

    make_modes, std = toy2d.MODES[loaded.config.data.name]
    return mode_metrics(sample(loaded.trainer, n_samples, generator), make_modes(), std)


def _is_vae(loaded: LoadedRun) -> bool:
    return loaded.config.model.family == "vae"


@register("elbo", applies=_is_vae)
@torch.no_grad()
def test_elbo(loaded: LoadedRun, n_samples: int, generator: torch.Generator) -> dict[str, Any]:
    """ELBO (β = 1, one posterior sample) on up to n_samples examples of the test split, in nats per example.

    ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)); higher is better. The training β does not enter it.
    """
    from genlab import losses
    from genlab.data import load_data
    from genlab.nn_utils import eval_mode

    trainer = loaded.trainer
    test = load_data(loaded.config.data, trainer.device, seed=loaded.config.seed, split="test")
    n = min(n_samples, len(test))
    index = torch.randperm(len(test), generator=generator)[:n]
    recon_sum, kl_sum = 0.0, 0.0
    with eval_mode(trainer.vae):
        for start in range(0, n, EVAL_BATCH):
            x = test.batch(index[start : start + EVAL_BATCH].to(test.device))
            mu, logvar = trainer.vae.encode(x)
            eps = torch.randn(mu.shape, generator=generator).to(mu.device)
            z = mu + torch.exp(0.5 * logvar) * eps
            recon_sum += float(trainer.reconstruction_nll(trainer.vae.decode(z), x).sum())
            kl_sum += float(losses.kl_standard_normal(mu, logvar).sum())
    return {
        "elbo": -(recon_sum + kl_sum) / n,
        "recon_nll": recon_sum / n,
        "kl": kl_sum / n,
        "n_test": n,
        "likelihood": loaded.config.objective.likelihood,
    }
