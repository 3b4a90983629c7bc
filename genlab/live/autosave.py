"""Autosave: a live run's unsaved progress, written every few minutes of training and when the run is
closed for good, to a recoverable folder that listings keep apart from saved runs.

The folder is `<checkpoint root>/_autosave/<name>` (the root's listing skips names that start with '_'),
a normal run folder written by genlab.runs.save_run (atomically), so it loads like any run. A tab's
autosave is named after a digest of its tab token (`autosave_name`), so that the name, which pages
show, does not give away the token. Nothing is written for a run at step 0 or for a step that is
already saved; a run saved by hand drops its autosave, which it supersedes.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from genlab.training import CheckpointHook, MetricHistory

AUTOSAVE_DIR = "_autosave"
AUTOSAVE_INTERVAL_S = 180.0
log = logging.getLogger(__name__)


def autosave_root(checkpoint_root: str | os.PathLike) -> Path:
    """Where the autosaves of the runs saved under `checkpoint_root` go."""
    return Path(checkpoint_root) / AUTOSAVE_DIR


def autosave_name(token: str) -> str:
    """The autosave folder name of the tab with this token (a digest: the token itself stays secret)."""
    return "tab-" + hashlib.sha256(token.encode()).hexdigest()[:20]


class Autosave:
    """Where one live run autosaves (`root`/`name`), and which (run, step) is already on disk."""

    def __init__(self, root: str | os.PathLike, name: str, every_s: float = AUTOSAVE_INTERVAL_S):
        self.root, self.name, self.every_s = Path(root), name, every_s
        self._saved: tuple[int, int] | None = None  # (run id, step) last written, here or by hand

    @property
    def path(self) -> Path:
        return self.root / self.name

    def hook(self, history: MetricHistory, run_id: int) -> CheckpointHook:
        """The loop hook that autosaves run `run_id` every `every_s` seconds while it trains."""
        return CheckpointHook(lambda trainer: self.write(trainer, history, run_id), every_s=self.every_s, at_end=False)

    def unsaved(self, trainer, run_id: int) -> bool:
        return trainer.step_count > 0 and self._saved != (run_id, trainer.step_count)

    def write(self, trainer, history: MetricHistory, run_id: int) -> Path | None:
        """Save the run's progress if it is not on disk yet; a failure is logged, never raised (training
        and closing go on)."""
        from genlab.runs import CheckpointError, save_run

        if not self.unsaved(trainer, run_id):
            return None
        try:
            path = save_run(trainer, history.to_lists(), root=self.root, name=self.name)
        except (CheckpointError, OSError) as exc:
            log.warning("autosave to %s failed: %s", self.path, exc)
            return None
        self._saved = (run_id, trainer.step_count)
        return path

    def saved_by_hand(self, trainer, run_id: int) -> None:
        """The run was saved as a run of its own at this step: its autosave is superseded."""
        from genlab.runs import CheckpointError, delete_run

        self._saved = (run_id, trainer.step_count)
        if self.path.is_dir():
            try:
                delete_run(self.name, self.root)
            except (CheckpointError, OSError) as exc:
                log.warning("could not remove the superseded autosave %s: %s", self.path, exc)
