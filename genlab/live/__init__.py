"""The live side of the app: one TrainingRunner per browser tab, what it shows, how many may run."""
from genlab.live.advice import divergence_advice
from genlab.live.capacity import CAPACITY, CapacityError, CapacityLimiter, threads_per_training
from genlab.live.runner import TrainingRunner
from genlab.live.snapshot import DIVERGED, ERROR, IDLE, PAUSED, RUNNING, STATES, STOPPED, Snapshot

__all__ = [
    "CAPACITY", "DIVERGED", "ERROR", "IDLE", "PAUSED", "RUNNING", "STATES", "STOPPED", "CapacityError",
    "CapacityLimiter", "Snapshot", "TrainingRunner", "divergence_advice", "threads_per_training",
]
