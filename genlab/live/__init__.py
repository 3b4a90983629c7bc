"""The live side of the app: one runner per browser tab (its run in a worker process, ProcessRunner, or
a thread, TrainingRunner), what it shows, how many may run, the registry that keeps a tab's runner
across reconnects, and its autosave."""
from genlab.live.advice import divergence_advice
from genlab.live.autosave import AUTOSAVE_DIR, Autosave, autosave_name, autosave_root
from genlab.live.capacity import CAPACITY, CapacityError, CapacityLimiter, threads_per_training
from genlab.live.hosting import ENV_RUNNER, runner_class, runner_kind
from genlab.live.registry import REGISTRY, Attachment, RunnerRegistry
from genlab.live.runner import OpenedRun, TrainingRunner
from genlab.live.snapshot import DIVERGED, ERROR, IDLE, PAUSED, RUNNING, STATES, STOPPED, Snapshot

__all__ = [
    "AUTOSAVE_DIR", "CAPACITY", "DIVERGED", "ENV_RUNNER", "ERROR", "IDLE", "PAUSED", "REGISTRY", "RUNNING", "STATES",
    "STOPPED", "Attachment", "Autosave", "CapacityError", "CapacityLimiter", "OpenedRun", "RunnerRegistry", "Snapshot",
    "TrainingRunner", "autosave_name", "autosave_root", "divergence_advice", "runner_class", "runner_kind",
    "threads_per_training",
]
