"""Sensible starting settings per (model family, dataset), shared by the app and the CLI so that the
same choices give the same run from either. Explicit user values always go on top of these
(`config_for`)."""
from __future__ import annotations

from typing import Any

from genlab.config import TOY2D_DATASETS, RunConfig, set_dotted, upgrade_legacy_keys

# Conv image models sized to feel live on 2 CPU cores (tens of steps per second).
_IMAGE_GAN = {"model.arch": "conv", "model.width": 32, "model.latent_dim": 32, "optim.batch_size": 64,
              "optim.lr_generator": 2e-4, "optim.lr_discriminator": 2e-4, "optim.beta1": 0.5, "optim.beta2": 0.999,
              "optim.ema_decay": 0.999}
# MNIST-like sets (28 px, one channel): lighter and quicker, so that a run from scratch shows
# recognisable samples within 2 minutes on 2 CPU cores (benchmarks/image_presets.py, README "Speed").
# Samples come from G's EMA: with decay 0.999 they still carried much of the random start after 2,000
# steps (blobs); 0.99 forgets it within a few hundred. Width 16 takes twice the steps per second of 32,
# and lr 1e-3 with Adam β2 0.99 learns faster in those steps without diverging there.
_MNIST_LIKE_GAN = {**_IMAGE_GAN, "model.width": 16, "optim.lr_generator": 1e-3, "optim.lr_discriminator": 1e-3,
                   "optim.beta2": 0.99, "optim.ema_decay": 0.99}
_MNIST_LIKE = ("mnist", "fashion_mnist")
_IMAGE_VAE = {"model.arch": "conv", "model.width": 32, "model.latent_dim": 10, "optim.batch_size": 64,
              "optim.lr_encoder": 1e-3, "optim.lr_decoder": 1e-3, "optim.beta1": 0.9, "optim.beta2": 0.999,
              "objective.likelihood": "bernoulli"}
# 2D GANs (benchmarks/toy2d_presets.py, README "2D presets"): three narrow hidden layers learn the sharp
# switches between modes sooner than two wide ones, and G at a higher rate than D (6e-3 vs 4e-3) sharpens
# those switches in fewer steps; the cool-down over the last 70 % of the budget settles G onto the modes,
# and an EMA of 0.98 shows the settled G a little sooner. Without R1 that recipe reached the ring's target
# (8/8 modes, >= 95 % within 3σ) by step 1,800 on seeds 0-4, which it was tuned on, but on 4 of 10 seeds
# it had not seen, and seed 13 covered only 5 of 8 modes. A light R1 (γ = 0.1: D smooth around the real
# points) and a 3,000-step budget reach it on all of seeds 0-14, at steps 1,400-2,500, and every one
# covers 8/8. On the ring a 2,400-step budget cools the rates sooner and reaches the target in fewer steps
# (all of seeds 0-29; the budget picked on 0-14, 15-29 seen after). R1 on every 2nd D update only, at
# twice the weight (StyleGAN2's lazy regularization), makes a step about a fifth cheaper for a little
# later arrival: 29 of seeds 0-29 within 5 CPU s of one thread (26 with R1 on every update; seed 11
# ends at 94.0 %, all at 8/8). The other point sets keep 3,000 steps and R1 on every update.
# The grid's 25 modes spread over [-4, 4]² need a wider, deeper net and a large batch (each batch then
# holds ~40 samples of every mode, so D sees the gaps between them): three layers, batch 1,024, G at
# 4e-3 and D at 2e-3, no R1 (two layers of 128 at batch 256 covered 25/25 on one seed of five at 67-80 %).
# Layers of 96 cost about two thirds of a step of 128 and reach all 25 with >= 90 % within 3σ on all of
# seeds 0-11 (picked on 0-4 and 7 as 128 was; 5, 6, 8-11 seen after), median 17.6 CPU s, every one
# ending its 6,000 steps at 25/25 and >= 94 %; at 128, seed 4 stayed at 24/25 modes (2026-12-05).
_POINTS_GAN = {"model.arch": "mlp", "model.width": 64, "model.depth": 3, "model.latent_dim": 2,
               "optim.batch_size": 256, "optim.lr_generator": 6e-3, "optim.lr_discriminator": 4e-3, "optim.beta1": 0.0,
               "optim.beta2": 0.9, "optim.ema_decay": 0.98, "optim.lr_cooldown": 0.7, "objective.r1_gamma": 0.1,
               "steps": 3000}
_RING_GAN = {**_POINTS_GAN, "objective.lazy_interval": 2, "steps": 2400}
_GRID_GAN = {**_POINTS_GAN, "model.width": 96, "model.depth": 3, "optim.batch_size": 1024,
             "optim.lr_generator": 4e-3, "optim.lr_discriminator": 2e-3, "optim.ema_decay": 0.99,
             "optim.lr_cooldown": 0.5, "objective.r1_gamma": 0.0, "steps": 6000}
_POINTS_VAE = {"model.arch": "mlp", "model.width": 128, "model.depth": 2, "model.latent_dim": 2,
               "optim.batch_size": 256, "optim.lr_encoder": 1e-3, "optim.lr_decoder": 1e-3, "optim.beta1": 0.9,
               "optim.beta2": 0.999, "objective.likelihood": "gaussian", "objective.gaussian_std": 0.1}


def preset(family: str, dataset: str) -> dict[str, Any]:
    """Dotted overrides for RunConfig.replace(); unknown names fall back to the image presets and
    are rejected later by validation with a clear ConfigError."""
    points = dataset in TOY2D_DATASETS
    if family == "vae":
        chosen = _POINTS_VAE if points else _IMAGE_VAE
    elif points:
        chosen = {"grid": _GRID_GAN, "ring": _RING_GAN}.get(dataset, _POINTS_GAN)
    else:
        chosen = _MNIST_LIKE_GAN if dataset in _MNIST_LIKE else _IMAGE_GAN
    return {"model.family": family, "data.name": dataset, **chosen}


def default_run_name(family: Any, dataset: Any) -> str:
    return f"{dataset}-{family}".replace("_", "-")


def config_for(family: Any, dataset: Any, raw: dict | None = None, dotted: dict[str, Any] | None = None) -> RunConfig:
    """The validated RunConfig of a (family, dataset) run, from, lowest priority first: its preset,
    `raw` (a nested JSON-like dict such as a --config file; old field names are upgraded), then
    `dotted` fields (CLI flags, Train page widgets). Named "<dataset>-<family>" unless given a name.
    ConfigError for any invalid value (a family or dataset that is not a string gets no preset)."""
    layered: dict = {}
    if isinstance(family, str) and isinstance(dataset, str):
        for path, value in preset(family, dataset).items():
            set_dotted(layered, path, value)
    _merge(layered, upgrade_legacy_keys(raw or {}, family if isinstance(family, str) else None))
    for path, value in (dotted or {}).items():
        set_dotted(layered, path, value)
    layered.setdefault("name", default_run_name(family, dataset))
    return RunConfig.from_dict(layered)


def _merge(base: dict, top: dict) -> dict:
    """`top` over `base`, recursively for nested sections."""
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base
