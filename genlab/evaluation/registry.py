"""One registry of evaluators, used by `python -m genlab eval`, the Train page's "Evaluate now" and the
live quality metrics that the failure detectors read.

Each evaluator says, from the trainer's data and config, whether it applies (`why_not` returns None) or
why not (a one-line reason naming what is missing and how to get it), and offers one or both of:

- `measure(trainer, settings)`: the slower numbers, on demand (seconds on a CPU): `evaluate` runs every
  evaluator that applies and keeps the reasons of those that do not;
- `quick(trainer)`: cheap numbers for the live history (a few ms), from fixed noise: `cheap_metrics`.

    register(Evaluator("name", why_not=..., measure=..., quick=...))
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

DEFAULT_SAMPLES = 2500
DEFAULT_KS = (1, 10, 100)


@dataclass(frozen=True)
class EvalSettings:
    n_samples: int  # samples (or test examples) per metric, capped by each evaluator where costly
    generator: torch.Generator  # CPU generator, reseeded for each evaluator
    ks: tuple[int, ...] = DEFAULT_KS  # importance samples for the VAE NLL estimates


def _every_key(key: str) -> bool:
    return True


@dataclass(frozen=True)
class Evaluator:
    name: str
    why_not: Callable[[Any], str | None]  # trainer -> None when the evaluator applies, else the reason
    measure: Callable[[Any, EvalSettings], dict[str, Any]] | None = None  # on demand: "<name>/<key>"
    # which of measure's numbers the live history records (as "eval/<key>"), next to the training curves
    recorded: Callable[[str], bool] = _every_key
    quick: Callable[[Any], dict[str, float]] | None = None  # live, every few seconds: "quality/<key>"


EVALUATORS: dict[str, Evaluator] = {}


def register(evaluator: Evaluator) -> Evaluator:
    """Add (or replace) an evaluator; evaluators run in the order they were first registered."""
    EVALUATORS[evaluator.name] = evaluator
    return evaluator


@dataclass(frozen=True)
class Evaluation:
    context: dict[str, Any]  # family, dataset, step, n_samples, seed
    results: dict[str, dict[str, Any]]  # evaluator -> its numbers, for every evaluator that ran
    skipped: dict[str, str]  # evaluator -> the one-line reason it did not apply
    history_row: dict[str, float]  # the recorded numbers as "eval/<key>", for the metric history

    def flat(self) -> dict[str, Any]:
        """Every number as "<evaluator>/<key>"."""
        return {f"{name}/{key}": value for name, result in self.results.items() for key, value in result.items()}

    def report(self, run: str) -> dict[str, Any]:
        """What `python -m genlab eval` prints: the run and settings, every number, the evaluators that ran."""
        return {"run": run, **self.context, **self.flat(), "evaluators": list(self.results)}


def evaluate(trainer, n_samples: int = DEFAULT_SAMPLES, seed: int = 0, ks: tuple[int, ...] = DEFAULT_KS,
             only: list[str] | None = None) -> Evaluation:
    """Every evaluator with a `measure` that applies to `trainer` (or those in `only`), on `n_samples`
    samples drawn from `seed`; the others are listed in `skipped` with their reasons."""
    context = {"family": trainer.config.model.family, "dataset": trainer.config.data.name,
               "step": trainer.step_count, "n_samples": n_samples, "seed": seed}
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    history_row: dict[str, float] = {}
    for name, evaluator in EVALUATORS.items():
        if evaluator.measure is None or (only is not None and name not in only):
            continue
        reason = evaluator.why_not(trainer)
        if reason is not None:
            skipped[name] = reason
            continue
        # each evaluator sees the same draws whatever ran before it
        settings = EvalSettings(n_samples, torch.Generator().manual_seed(seed), tuple(ks))
        results[name] = evaluator.measure(trainer, settings)
        history_row.update({f"eval/{k}": float(v) for k, v in results[name].items() if evaluator.recorded(k)})
    return Evaluation(context, results, skipped, history_row)


@torch.no_grad()
def cheap_metrics(trainer) -> dict[str, float]:
    """Quality signals for the live history, keyed "quality/...", a few ms each on a CPU: the `quick`
    numbers of every evaluator that applies (modes of 2D mixtures, diversity of image GANs, active units
    and KL of VAEs). Call it between training steps (it uses the trainer's networks), e.g. every 100 steps.
    """
    out: dict[str, float] = {}
    for evaluator in EVALUATORS.values():
        if evaluator.quick is not None and evaluator.why_not(trainer) is None:
            out.update({f"quality/{k}": float(v) for k, v in evaluator.quick(trainer).items()})
    return out
