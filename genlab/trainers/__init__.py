"""Trainers: one object per run, `step()` advances it and returns that step's metrics."""
from __future__ import annotations

import os

import torch

from genlab.config import RunConfig
from genlab.data import DataSource
from genlab.trainers.base import DivergenceError, Trainer, available_devices, pick_device
from genlab.trainers.gan import GANTrainer
from genlab.trainers.vae import VAETrainer

__all__ = ["DivergenceError", "GANTrainer", "Trainer", "VAETrainer", "available_devices", "make_trainer",
           "pick_device"]


def make_trainer(
    config: RunConfig, device: str | torch.device | None = None, data: DataSource | None = None,
    runs_root: str | os.PathLike | None = None,
) -> GANTrainer | VAETrainer:
    """The trainer for config.model.family; `data` overrides loading (e.g. uploaded points).

    A new run of a config with transfer.from_run starts from that parent's fitting weights, found under
    `runs_root` (`trainer.transfer` says what was loaded and skipped). Without `runs_root` the parent is
    not read: for a saved run, whose own weights are restored next (genlab.runs.load_run).
    """
    trainer_class = GANTrainer if config.model.family == "gan" else VAETrainer
    trainer = trainer_class(config, device=device, data=data)
    if runs_root is not None and trainer.config.transfer.from_run:
        from genlab.transfer import load_parent_weights

        trainer.transfer = load_parent_weights(trainer, trainer.config.transfer.from_run, runs_root)
        trainer.transfer.frozen = list(getattr(trainer, "frozen_layers", []))
    return trainer
