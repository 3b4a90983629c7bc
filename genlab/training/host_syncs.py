"""Where training makes the host wait for a CUDA device. A GPU stays busy only while the host queues
work ahead of it, so every wait (a device-to-host copy, `.item()`, a data-dependent shape) in the
step is time the GPU may idle. torch.cuda's sync debug mode warns at each such call; `HostSyncs`
records them step by step. Used by benchmarks/gpu_bench.py and the CUDA tests.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Mapping

import torch

from genlab.training.loop import Hook, RunResult

SYNC_WARNING = "synchronizing"  # in the sync debug mode's warning ("called a synchronizing CUDA operation")


class HostSyncs(Hook):
    """`per_step[n]`: where ("file.py:line") the host waited for the device on the way to step n
    (the loop's own work after step n-1's hooks included). CUDA only; not thread-safe (warnings'
    filters are process-wide), so for benchmarks and tests, not the app."""

    def __init__(self):
        self.per_step: dict[int, list[str]] = {}
        self._catcher: warnings.catch_warnings | None = None
        self._caught: list[warnings.WarningMessage] = []
        self._read = 0
        self._mode_before = 0

    def on_start(self, trainer) -> None:
        self._catcher = warnings.catch_warnings(record=True)
        self._caught = self._catcher.__enter__()
        warnings.simplefilter("always")
        self._read = 0
        self._mode_before = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("warn")

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        new, self._read = self._caught[self._read:], len(self._caught)
        self.per_step[trainer.step_count] = [f"{Path(w.filename).name}:{w.lineno}" for w in new
                                             if SYNC_WARNING in str(w.message).lower()]

    def on_end(self, trainer, result: RunResult) -> None:
        torch.cuda.set_sync_debug_mode(self._mode_before)
        if self._catcher is not None:
            self._catcher.__exit__(None, None, None)
            self._catcher = None
