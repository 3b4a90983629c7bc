"""Load the weights of a saved run (the parent) that fit a new trainer; report the ones that do not.

A tensor fits when the new model has a tensor of the same name and shape. A layer with spectral norm
stores its weight as "<layer>.parametrizations.weight.original"; the same layer without it as
"<layer>.weight": the two names stand for each other, so switching spectral norm keeps the weights.
Everything else that differs (another image size, channel count, width, latent size) is skipped and
named, and the new run keeps its fresh initialisation there.

Weights are read through genlab.runs' checked readers (safetensors with checksums, never a pickle).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genlab.runs.format import WEIGHTS_FILE, flatten_networks
from genlab.runs.load import read_run
from genlab.runs.tensors import load_checked
from genlab.transfer.shipped import parent_folder

SN_SUFFIX = ".parametrizations.weight.original"
PLAIN_SUFFIX = ".weight"


@dataclass
class TransferReport:
    parent: str  # the parent run's name
    parent_step: int
    loaded: list[str] = field(default_factory=list)  # "<network>.<tensor>" taken from the parent
    skipped: dict[str, str] = field(default_factory=dict)  # "<network>.<tensor>" -> why it kept its fresh value
    frozen: list[str] = field(default_factory=list)  # D's layers frozen (FreezeD)

    def summary(self) -> str:
        """One line for a person, e.g. "loaded 24 of 26 tensors from fashion-gan (step 6,000); skipped: ..."."""
        total = len(self.loaded) + len(self.skipped)
        text = f"loaded {len(self.loaded)} of {total} tensors from {self.parent} (step {self.parent_step:,})"
        if self.skipped:
            shown = [f"{name} ({why})" for name, why in list(self.skipped.items())[:4]]
            more = f" and {len(self.skipped) - 4} more" if len(self.skipped) > 4 else ""
            text += "; skipped: " + ", ".join(shown) + more
        if self.frozen:
            text += f"; frozen in D: {', '.join(self.frozen)}"
        return text

    def as_meta(self) -> dict[str, Any]:
        """What meta.json records about the parent."""
        return {"run": self.parent, "step": self.parent_step, "loaded": len(self.loaded),
                "skipped": dict(self.skipped), "frozen": list(self.frozen)}


def _twin(name: str) -> str | None:
    """The name the same weight has with spectral norm switched the other way."""
    if name.endswith(SN_SUFFIX):
        return name[: -len(SN_SUFFIX)] + PLAIN_SUFFIX
    if name.endswith(PLAIN_SUFFIX):
        return name[: -len(PLAIN_SUFFIX)] + SN_SUFFIX
    return None


def fitting_tensors(wanted: dict[str, torch.Tensor], offered: dict[str, torch.Tensor]
                    ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(the offered tensors that fit, by wanted name; the wanted names that got none, with the reason)."""
    fits: dict[str, torch.Tensor] = {}
    skipped: dict[str, str] = {}
    for name, tensor in wanted.items():
        source = name if name in offered else _twin(name)
        if source not in offered:
            skipped[name] = "not in the parent"
        elif tuple(offered[source].shape) != tuple(tensor.shape):
            skipped[name] = f"parent {tuple(offered[source].shape)}, here {tuple(tensor.shape)}"
        else:
            fits[name] = offered[source].to(dtype=tensor.dtype)
    return fits, skipped


def load_parent_weights(trainer, parent: str, root: str | os.PathLike) -> TransferReport:
    """Copy the fitting weights of the parent run (under `root`, else shipped with genlab) into `trainer` (its networks, e.g. a GAN's generator,
    discriminator and the generator's moving average); its optimizers, step and noise stay fresh.
    CheckpointError when the parent cannot be read; ConfigError when it is of another model family."""
    from genlab.config import ConfigError

    files = read_run(parent_folder(str(parent), root))  # checked for size and form, as load_run does
    path, meta, parent_config = files.path, files.meta, files.config
    if parent_config.model.family != trainer.config.model.family:
        raise ConfigError("transfer.from_run", str(parent), f"is a {parent_config.model.family.upper()}; this run is a "
                          f"{trainer.config.model.family.upper()}")
    offered = load_checked(files.weights, path / WEIGHTS_FILE, meta["files"].get(WEIGHTS_FILE))
    state = trainer.state_dict()
    fits, skipped = fitting_tensors(flatten_networks(state["networks"]), offered)
    for network, tensors in state["networks"].items():
        prefix = f"networks.{network}."
        tensors.update({name[len(prefix):]: value for name, value in fits.items() if name.startswith(prefix)})
    trainer.load_state_dict(state)
    strip = len("networks.")
    return TransferReport(parent=Path(path).name, parent_step=int(meta.get("step", 0)),
                          loaded=[name[strip:] for name in fits],
                          skipped={name[strip:]: why for name, why in skipped.items()})
