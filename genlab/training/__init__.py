"""Training: the one loop (`run`) with its hooks, and the metric history every run records.

Used by the live runner (genlab.live), the CLI, the MIG experiment and the benchmark alike.
"""
from genlab.training.history import MetricHistory, Series
from genlab.training.hooks import CheckpointHook, HistoryHook, PreviewHook, ProgressHook, QualityHook
from genlab.training.loop import DIVERGED, REACHED, STOPPED, Hook, RunResult, run
from genlab.training.scene import Scene2D, SceneHook

__all__ = [
    "DIVERGED", "REACHED", "STOPPED", "CheckpointHook", "HistoryHook", "Hook", "MetricHistory",
    "PreviewHook", "ProgressHook", "QualityHook", "RunResult", "Scene2D", "SceneHook", "Series", "run",
]
