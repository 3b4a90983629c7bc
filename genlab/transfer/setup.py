"""The config of a transfer run: the new run's own settings with the parent's model."""
from __future__ import annotations

import os

from genlab.config import ConfigError, RunConfig


def transfer_config(config: RunConfig, parent: RunConfig, parent_name: str, freeze_d: int | None = None,
                    lr_scale: float | None = None) -> RunConfig:
    """`config` (the new data, objective, optimizer, ...) with the model of `parent` (architecture,
    width, depth, latent size, spectral norm), so that the parent's weights fit wherever the data's
    shape allows, and transfer.from_run = parent_name; freeze_d and lr_scale when given."""
    if parent.model.family != config.model.family:
        raise ConfigError("transfer.from_run", parent_name,
                          f"is a {parent.model.family.upper()}; this run is a {config.model.family.upper()}")
    changes = {f"model.{key}": value for key, value in parent.to_dict()["model"].items()}
    changes["transfer.from_run"] = parent_name
    if freeze_d is not None:
        changes["transfer.freeze_d"] = freeze_d
    if lr_scale is not None:
        changes["transfer.lr_scale"] = lr_scale
    return config.replace(**changes)


def parent_config(name: str, root: str | os.PathLike) -> RunConfig:
    """The saved config of the run `name` under `root`, or of the shipped run of that name (CheckpointError
    if it cannot be read)."""
    from genlab.runs.format import read_config
    from genlab.transfer.shipped import parent_folder

    return read_config(parent_folder(name, root))
