"""The live side of the app: one TrainingRunner per browser tab, what it shows, how many may run,
the registry that keeps a tab's runner across reconnects, and its autosave."""
from genlab.live.advice import divergence_advice
from genlab.live.autosave import AUTOSAVE_DIR, Autosave, autosave_name, autosave_root
from genlab.live.capacity import CAPACITY, CapacityError, CapacityLimiter, threads_per_training
from genlab.live.registry import REGISTRY, Attachment, RunnerRegistry
from genlab.live.runner import TrainingRunner
from genlab.live.snapshot import DIVERGED, ERROR, IDLE, PAUSED, RUNNING, STATES, STOPPED, Snapshot

__all__ = [
    "AUTOSAVE_DIR", "CAPACITY", "DIVERGED", "ERROR", "IDLE", "PAUSED", "REGISTRY", "RUNNING", "STATES", "STOPPED",
    "Attachment", "Autosave", "CapacityError", "CapacityLimiter", "RunnerRegistry", "Snapshot", "TrainingRunner",
    "autosave_name", "autosave_root", "divergence_advice", "threads_per_training",
]
