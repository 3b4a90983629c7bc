"""Quality of any 2D point set, mode labels or not (moons, spirals, uploaded or drawn points): grid KL
and JS between the real and generated histograms, precision / recall of the generated points and their
median distance to the nearest real point (genlab.metrics.density2d, genlab.metrics.precision_recall);
live and on demand."""
from __future__ import annotations

from typing import Any

import torch

from genlab.evaluation.noise import fixed_data_batch, fixed_noise, live_state, sample
from genlab.evaluation.registry import EvalSettings, Evaluator, register
from genlab.metrics.density2d import BINS, grid_divergences
from genlab.metrics.precision_recall import K_NEAREST, knn_radii, median_nearest_distance, precision_recall

LIVE_SAMPLES = 2500  # for the grid divergences, real and generated alike (the modes protocol's count)
LIVE_PR_SAMPLES = 1000  # precision / recall compare all pairs: 1,000 keeps a live reading near 10 ms
MAX_PR_SAMPLES = 10_000  # on demand
RECORDED = ("grid_kl", "grid_js", "precision", "recall", "nearest_real")


def why_not(trainer) -> str | None:
    data = trainer.data
    if data.kind != "points":
        return "grid KL/JS and precision/recall are for 2D points; this run's data are images"
    if len(data) <= K_NEAREST:
        return f"precision/recall need more than {K_NEAREST} real points; this data set has {len(data)}"
    return None


def scores(real, generated, pr_samples: int, real_radii=None) -> dict[str, float]:
    """The five numbers; precision / recall and the nearest-real distance on the first `pr_samples`
    points of each set."""
    real, generated = real.cpu(), generated.cpu()
    return {**grid_divergences(real, generated),
            **precision_recall(real[:pr_samples], generated[:pr_samples], real_radii=real_radii),
            "nearest_real": median_nearest_distance(generated[:pr_samples].float(), real[:pr_samples].float())}


def measure(trainer, settings: EvalSettings) -> dict[str, Any]:
    data = trainer.data
    n_real = min(settings.n_samples, len(data))
    index = torch.randperm(len(data), generator=settings.generator)[:n_real]
    real = data.batch(index.to(data.device))
    generated = sample(trainer, settings.n_samples, settings.generator)
    pr_samples = min(n_real, settings.n_samples, MAX_PR_SAMPLES)
    return {**scores(real, generated, pr_samples), "bins": BINS, "k": K_NEAREST, "n_real": n_real,
            "n_pr": pr_samples}


def quick(trainer) -> dict[str, float]:
    state = live_state(trainer)
    real = fixed_data_batch(trainer, "points_real", min(LIVE_SAMPLES, len(trainer.data))).cpu()
    pr_samples = min(LIVE_PR_SAMPLES, len(real))
    if "points_real_radii" not in state:  # the real set is fixed: its balls are too
        state["points_real_radii"] = knn_radii(real[:pr_samples].float())
    generated = trainer.generate(fixed_noise(trainer, LIVE_SAMPLES))
    return scores(real, generated, pr_samples, real_radii=state["points_real_radii"])


register(Evaluator("points", why_not, measure, recorded=lambda key: key in RECORDED, quick=quick))
