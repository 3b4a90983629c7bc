"""What a page reads from a live run: one copied, read-only Snapshot."""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np

from genlab.config import RunConfig
from genlab.training.scene import Scene2D

IDLE, RUNNING, PAUSED, STOPPED, DIVERGED, ERROR = "idle", "running", "paused", "stopped", "diverged", "error"
STATES = (IDLE, RUNNING, PAUSED, STOPPED, DIVERGED, ERROR)


@dataclass(frozen=True)
class Snapshot:
    """A copied, read-only view of a run at one moment (safe to use from any thread)."""

    version: int  # grows whenever anything in the snapshot changes
    state: str  # one of STATES
    step: int
    steps_per_s: float
    elapsed_s: float
    message: str  # divergence / error / capacity explanation, "" when none
    diverged_term: str
    family: str
    data_kind: str  # "points" | "images"
    config: RunConfig  # a copy of the trainer's config (live values included)
    history: Mapping[str, tuple[np.ndarray, np.ndarray]]
    last: Mapping[str, float]  # the latest step's metrics
    periodic: Mapping[str, float]  # the latest per-layer norms and KL per dimension (every stats_every steps)
    preview: np.ndarray | None  # images (n, C, H, W) in [0, 1] or points (n, 2)
    preview_step: int
    scene: Scene2D | None
    slow_motion_steps_per_s: float | None
    device: str  # where the run trains, with its precision when not float32: "cpu", "cuda:0 · bf16"
    last_metric_error: str = ""  # the latest quality-metric failure ("" when none); training went on


def portable(snapshot: Snapshot) -> Snapshot:
    """The snapshot with its read-only mappings as plain dicts, so that it can be pickled (to cross from a
    worker process to the server); read_only() makes the received one read-only again."""
    return replace(snapshot, history=dict(snapshot.history), last=dict(snapshot.last),
                   periodic=dict(snapshot.periodic))


def read_only(snapshot: Snapshot) -> Snapshot:
    """An unpickled portable() snapshot, read-only again like the one it was made from."""
    for array in [snapshot.preview, *(a for pair in snapshot.history.values() for a in pair)]:
        if array is not None:
            array.flags.writeable = False
    return replace(snapshot, history=MappingProxyType(snapshot.history), last=MappingProxyType(snapshot.last),
                   periodic=MappingProxyType(snapshot.periodic))


def placeholder(config: RunConfig, data_kind: str, message: str) -> Snapshot:
    """What a page shows of a run whose trainer is not built yet: step 0, no pictures, `message`."""
    return Snapshot(version=0, state=IDLE, step=0, steps_per_s=0.0, elapsed_s=0.0, message=message, diverged_term="",
                    family=config.model.family, data_kind=data_kind, config=config, history=MappingProxyType({}),
                    last=MappingProxyType({}), periodic=MappingProxyType({}), preview=None, preview_step=0,
                    scene=None, slow_motion_steps_per_s=None, device="…")
