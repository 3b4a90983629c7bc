"""Mode coverage of 2D mixtures with known centres (VEEGAN / PacGAN protocol): modes covered,
high-quality fraction and reverse KL of the generated mode histogram against uniform."""
from __future__ import annotations

from typing import Any

from genlab.evaluation.noise import fixed_noise, sample
from genlab.evaluation.registry import EvalSettings, Evaluator, register
from genlab.metrics.modes import mode_metrics

LIVE_SAMPLES = 2500  # the protocol's sample count


def why_not(trainer) -> str | None:
    data = trainer.data
    if data.kind != "points":
        return "mode coverage is for 2D points; this run's data are images"
    if data.modes is None:
        return f"no mode labels for {data.name} (mode coverage needs a mixture with known centres: ring or grid)"
    return None


def measure(trainer, settings: EvalSettings) -> dict[str, Any]:
    data = trainer.data
    return mode_metrics(sample(trainer, settings.n_samples, settings.generator), data.modes, data.mode_std)


def quick(trainer) -> dict[str, float]:
    data = trainer.data
    return mode_metrics(trainer.generate(fixed_noise(trainer, LIVE_SAMPLES)), data.modes, data.mode_std)


register(Evaluator("modes", why_not, measure, quick=quick))
