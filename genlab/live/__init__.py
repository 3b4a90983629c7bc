"""The live side of the app: one runner per browser tab (its run in a worker process, ProcessRunner, or
a thread, TrainingRunner), what it shows, how many may run, the registry that keeps a tab's runner
across reconnects, and its autosave.

Names are loaded on first use: `genlab.live.pool` and `genlab.live.hosting` must be importable without
torch (the server starts the workers' fork server or a spare worker before its own import of torch
is done).
"""
from __future__ import annotations

import importlib

_MODULE_OF = {
    "divergence_advice": "advice",
    "AUTOSAVE_DIR": "autosave", "Autosave": "autosave", "autosave_name": "autosave", "autosave_root": "autosave",
    "CAPACITY": "capacity", "CapacityError": "capacity", "CapacityLimiter": "capacity",
    "threads_per_training": "capacity",
    "ENV_RUNNER": "hosting", "runner_class": "hosting", "runner_kind": "hosting",
    "REGISTRY": "registry", "Attachment": "registry", "RunnerRegistry": "registry",
    "OpenedRun": "runner", "TrainingRunner": "runner",
    "DIVERGED": "snapshot", "ERROR": "snapshot", "IDLE": "snapshot", "PAUSED": "snapshot", "RUNNING": "snapshot",
    "STATES": "snapshot", "STOPPED": "snapshot", "Snapshot": "snapshot",
}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'genlab.live' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"genlab.live.{module}"), name)
    globals()[name] = value
    return value
