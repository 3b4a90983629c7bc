"""The trainer of a new run: fresh, or, for a config with transfer.from_run, from its parent's weights."""
from __future__ import annotations

import os

import torch

from genlab.data import DataSource
from genlab.trainers import make_trainer
from genlab.transfer.weights import load_parent_weights


def new_trainer(config, runs_root: str | os.PathLike, device: str | torch.device | None = None,
                data: DataSource | None = None):
    """make_trainer(config, device, data), then, when config.transfer.from_run names a parent (a run
    under `runs_root`, else a shipped one), its fitting weights; `trainer.transfer` says what was loaded,
    skipped and frozen. A saved run is not built this way: genlab.runs.load_run restores its own weights."""
    trainer = make_trainer(config, device=device, data=data)
    if trainer.config.transfer.from_run:
        trainer.transfer = load_parent_weights(trainer, trainer.config.transfer.from_run, runs_root)
        trainer.transfer.frozen = list(getattr(trainer, "frozen_layers", []))
    return trainer
