"""Trainers: one object per run, `step()` advances it and returns that step's metrics."""
from __future__ import annotations

import torch

from genlab.config import RunConfig
from genlab.data import DataSource
from genlab.trainers.base import GRADIENT_NORM_EVERY, DivergenceError, Trainer, available_devices, pick_device
from genlab.trainers.gan import GANTrainer
from genlab.trainers.vae import VAETrainer

__all__ = ["GRADIENT_NORM_EVERY", "DivergenceError", "GANTrainer", "Trainer", "VAETrainer", "available_devices", "make_trainer",
           "pick_device"]


def make_trainer(
    config: RunConfig, device: str | torch.device | None = None, data: DataSource | None = None
) -> GANTrainer | VAETrainer:
    """The trainer for config.model.family; `data` overrides loading (e.g. uploaded points)."""
    trainer_class = GANTrainer if config.model.family == "gan" else VAETrainer
    trainer = trainer_class(config, device=device, data=data)
    trainer.use_channels_last()
    return trainer
