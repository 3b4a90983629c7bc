"""Evaluate a saved run: a small registry of evaluators, each adding its metrics when it applies.

    result = evaluate_run(load_run("ring-gan"), n_samples=2500)

Built in: mode coverage for 2D mixtures (VEEGAN / PacGAN protocol), FID/KID on genlab classifier
features for image GANs and VAEs, test-set ELBO, importance-sampled NLL, active units and KL per
dimension for VAEs, and MIG on shapes. More register themselves with `register`:

    @register("name", applies=lambda loaded: ...)
    def metric(loaded, settings): ...
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from genlab.checkpoints import LoadedRun
from genlab.config import TOY2D_DATASETS

EVAL_BATCH = 500
DEFAULT_KS = (1, 10, 100)


@dataclass(frozen=True)
class EvalSettings:
    n_samples: int  # samples (or test examples) per metric, capped by each evaluator where costly
    generator: torch.Generator  # CPU generator, reseeded for each evaluator
    ks: tuple[int, ...] = DEFAULT_KS  # importance samples for the VAE NLL estimates


Evaluator = Callable[[LoadedRun, EvalSettings], dict[str, Any]]


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


def evaluate_run(loaded: LoadedRun, n_samples: int = 2500, seed: int = 0, only: list[str] | None = None,
                 ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, Any]:
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
        # each evaluator sees the same draws whatever ran before it
        settings = EvalSettings(n_samples, torch.Generator().manual_seed(seed), tuple(ks))
        for key, value in entry.evaluate(loaded, settings).items():
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
    return loaded.config.data.name in ("ring", "grid")


@register("modes", applies=_has_modes)
def mode_coverage(loaded: LoadedRun, settings: EvalSettings) -> dict[str, Any]:
    """Modes covered, high-quality fraction and reverse KL of samples against the true mixture."""
    from genlab.data import toy2d
    from genlab.metrics.modes import mode_metrics

    make_modes, std = toy2d.MODES[loaded.config.data.name]
    return mode_metrics(sample(loaded.trainer, settings.n_samples, settings.generator), make_modes(), std)


def _is_vae(loaded: LoadedRun) -> bool:
    return loaded.config.model.family == "vae"


def _has_fid_classifier(loaded: LoadedRun) -> bool:
    from genlab.metrics.fid import supports_fid

    return loaded.config.data.name not in TOY2D_DATASETS and supports_fid(loaded.config.data.name)


@register("fid", applies=_has_fid_classifier)
def fid(loaded: LoadedRun, settings: EvalSettings) -> dict[str, Any]:
    """FID and KID of generated images against the test split, on genlab classifier features
    (not comparable with Inception FID)."""
    from genlab.metrics.fid import trainer_fid

    return trainer_fid(loaded.trainer, min(settings.n_samples, 2000), settings.generator)


@register("vae", applies=_is_vae)
def vae(loaded: LoadedRun, settings: EvalSettings) -> dict[str, Any]:
    """Test-set ELBO (β = 1), importance-sampled NLL for each k, active units, KL per dimension."""
    from genlab.metrics.vae_metrics import vae_test_metrics

    return vae_test_metrics(loaded.trainer, n_test=min(settings.n_samples, 1000), ks=settings.ks,
                            generator=settings.generator)


@register("mig", applies=lambda loaded: _is_vae(loaded) and loaded.config.data.name == "shapes")
def mig(loaded: LoadedRun, settings: EvalSettings) -> dict[str, Any]:
    """Mutual information gap of the posterior means against the shapes' known factors."""
    from genlab.metrics.mig import trainer_mig

    result = trainer_mig(loaded.trainer)
    return {k: v for k, v in result.items() if k == "mig" or k.startswith("mig/")}
