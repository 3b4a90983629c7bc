"""Sensible starting settings per (model family, dataset), shared by the app and the CLI so that the
same choices give the same run from either. Explicit user values always go on top of these."""
from __future__ import annotations

from typing import Any

from genlab.config import TOY2D_DATASETS

# Conv image models sized to feel live on 2 CPU cores (tens of steps per second).
_IMAGE_GAN = {"model.arch": "conv", "model.width": 32, "model.latent_dim": 32, "optim.batch_size": 64,
              "optim.lr_g": 2e-4, "optim.lr_d": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
              "optim.ema_decay": 0.999}
_IMAGE_VAE = {"model.arch": "conv", "model.width": 32, "model.latent_dim": 10, "optim.batch_size": 64,
              "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "optim.beta1": 0.9, "optim.beta2": 0.999,
              "objective.likelihood": "bernoulli"}
_POINTS_GAN = {"model.arch": "mlp", "model.width": 128, "model.depth": 2, "model.latent_dim": 2,
               "optim.batch_size": 256, "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "optim.beta1": 0.0, "optim.beta2": 0.9,
               "optim.ema_decay": 0.99}
_POINTS_VAE = {"model.arch": "mlp", "model.width": 128, "model.depth": 2, "model.latent_dim": 2,
               "optim.batch_size": 256, "optim.lr_g": 1e-3, "optim.lr_d": 1e-3, "optim.beta1": 0.9, "optim.beta2": 0.999,
               "objective.likelihood": "gaussian", "objective.gaussian_std": 0.1}


def preset(family: str, dataset: str) -> dict[str, Any]:
    """Dotted overrides for RunConfig.replace(); unknown names fall back to the image presets and
    are rejected later by validation with a clear ConfigError."""
    points = dataset in TOY2D_DATASETS
    if family == "vae":
        chosen = _POINTS_VAE if points else _IMAGE_VAE
    else:
        chosen = _POINTS_GAN if points else _IMAGE_GAN
    return {"model.family": family, "data.name": dataset, **chosen}
