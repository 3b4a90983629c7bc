"""Image quality: FID / KID on genlab classifier features (on demand) and sample diversity (live)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genlab.evaluation.noise import fixed_data_batch, fixed_noise, live_state
from genlab.evaluation.registry import EvalSettings, Evaluator, register
from genlab.metrics.classifier import CLASSIFIER_DATASETS, has_feature_classifier, load_feature_extractor
from genlab.metrics.fid import supports_fid, trainer_fid

FID_MAX_SAMPLES = 2000
DIVERSITY_SAMPLES = 128
FID_RECORDED = ("fid", "kid_mean", "kid_std")


def fid_why_not(trainer) -> str | None:
    data = trainer.data
    if data.kind != "images":
        return "FID/KID are for images; this run's data are 2D points"
    if supports_fid(data.name):
        return None
    if data.name in CLASSIFIER_DATASETS:
        return (f"no classifier for {data.name}: make one with "
                f"`python -m genlab.metrics.classifier train --dataset {data.name}` "
                f"(it is saved in checkpoints/classifiers/{data.name})")
    return (f"no classifier for {data.name}: FID/KID need a feature classifier, and genlab trains them for "
            f"{', '.join(CLASSIFIER_DATASETS)} only")


def fid(trainer, settings: EvalSettings) -> dict[str, Any]:
    """FID and KID of generated images against the test split, on genlab classifier features
    (not comparable with Inception FID)."""
    return trainer_fid(trainer, min(settings.n_samples, FID_MAX_SAMPLES), settings.generator)


register(Evaluator("fid", fid_why_not, fid, recorded=lambda key: key in FID_RECORDED))


# --- live: sample diversity of image GANs ----------------------------------------------------------------
def diversity_why_not(trainer) -> str | None:
    if trainer.config.model.family != "gan":
        return "sample diversity is watched for GANs (a VAE's posterior is watched instead)"
    if trainer.data.kind != "images":
        return "sample diversity is for images; 2D runs are watched through their modes"
    if len(trainer.data) < 2:
        return "sample diversity needs at least two real images to compare with"
    return None


def _diversity_features(trainer):
    """Image -> feature function: the data set's feature classifier if genlab has one, else raw pixels."""
    if has_feature_classifier(trainer.data.name):
        extractor = load_feature_extractor(trainer.data.name)
        return lambda images: extractor(images.cpu()).double()
    return lambda images: images.cpu().flatten(1).double()


def mean_pairwise_distance(features: Tensor) -> float:
    return float(torch.pdist(features).mean())


@torch.no_grad()
def image_diversity(trainer, n: int = DIVERSITY_SAMPLES) -> float:
    """Mean pairwise feature distance of n generated images from fixed noise, divided by that of n real
    images (fixed once per run): ≈ 1 when samples vary like the data, → 0 when they all look alike."""
    state = live_state(trainer)
    if "features" not in state:
        state["features"] = _diversity_features(trainer)
        real = fixed_data_batch(trainer, "diversity_real", n)
        state["real_spread"] = max(mean_pairwise_distance(state["features"](real)), 1e-12)
    fake = trainer.generate(fixed_noise(trainer, n))
    return mean_pairwise_distance(state["features"](fake)) / state["real_spread"]


register(Evaluator("diversity", diversity_why_not, quick=lambda trainer: {"diversity": image_diversity(trainer)}))
