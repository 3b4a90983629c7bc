"""The hooks that the app and the CLI hang on the training loop.

Metric hooks (history, quality) are scheduled by steps, so a run records the same rows whoever
trains it; the picture hooks (preview here, the 2D scene in scene.py) by wall-clock time, since they
only feed the live view.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from genlab.training.history import MetricHistory
from genlab.training.loop import DIVERGED, FAILED, REACHED, Hook, RunResult

QUALITY_EVERY_STEPS = 100  # cheap quality metrics (evaluation.cheap_metrics) at every multiple of this step
PREVIEW_INTERVAL_S = 0.4  # live pictures at most this often while training
HEADLINE = ("loss/d", "loss/g", "loss/total", "loss/recon", "loss/kl")  # shown next to the progress bar


def read_only(array: np.ndarray | None) -> np.ndarray | None:
    """A read-only copy (safe to hand to another thread)."""
    if array is None:
        return None
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


class HistoryHook(Hook):
    """Each step's metrics into a MetricHistory: every step, or with `every` > 1 only the steps that
    are multiples of it, plus the last step of the run."""

    def __init__(self, history: MetricHistory, every: int = 1):
        self.history = history
        self.every = every

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        if trainer.step_count % self.every == 0:
            self.history.append(metrics)

    def on_divergence(self, trainer, error) -> None:
        self.history.rewind(trainer.step_count)  # the steps after the snapshot no longer happened

    def on_end(self, trainer, result: RunResult) -> None:
        if result.reason != DIVERGED and result.metrics and int(result.metrics["step"]) % self.every:
            self.history.append(result.metrics)


class QualityHook(Hook):
    """Cheap quality metrics ("quality/...": modes covered, diversity, active units, ...) into the
    history at every multiple of `every` steps. A failure never stops training: it is kept in
    `last_error` (and passed to `on_error`), and the next scheduled step tries again."""

    def __init__(self, history: MetricHistory, every: int = QUALITY_EVERY_STEPS,
                 on_error: Callable[[str], None] | None = None):
        self.history = history
        self.every = every
        self.on_error = on_error
        self.last_error = ""

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        if trainer.step_count % self.every == 0:
            self.measure(trainer)

    def measure(self, trainer) -> dict[str, float]:
        """Measure now and record at the trainer's step; {} after a failure."""
        from genlab import evaluation  # looked up per call, so a test can replace cheap_metrics

        try:
            values = evaluation.cheap_metrics(trainer)
        except Exception as exc:  # noqa: BLE001 - a metric must never kill training
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self.on_error is not None:
                self.on_error(self.last_error)
            return {}
        if values:
            self.history.append({"step": trainer.step_count, **values})
        return values


class TimedRefresh(Hook):
    """Calls `publish(draw(trainer))` at most every `every_s` seconds while training (0: every step),
    and at the end of a run that reached its last step, so a manual step always shows its result.
    Subclasses define draw(); wanted() may skip the work while nobody looks."""

    def __init__(self, publish: Callable[[Any], None], every_s: float = PREVIEW_INTERVAL_S):
        self.publish = publish
        self.every_s = every_s  # may be changed while training (slow motion: 0)
        self._last_time = -float("inf")
        self.last_step = -1

    def draw(self, trainer) -> Any:
        raise NotImplementedError

    def wanted(self) -> bool:
        return True

    def refresh(self, trainer) -> None:
        self._last_time = time.monotonic()
        self.last_step = trainer.step_count
        self.publish(self.draw(trainer))

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        if time.monotonic() - self._last_time >= self.every_s and self.wanted():
            self.refresh(trainer)

    def on_end(self, trainer, result: RunResult) -> None:
        if result.reason == REACHED and self.last_step != trainer.step_count and self.wanted():
            self.refresh(trainer)


class PreviewHook(TimedRefresh):
    """Samples from the trainer's fixed noise: `publish((step, read-only array))`, images
    (n, C, H, W) in [0, 1] or points (n, 2)."""

    def draw(self, trainer) -> tuple[int, np.ndarray]:
        return trainer.step_count, read_only(trainer.preview().detach().float().cpu().numpy())


class CheckpointHook(Hook):
    """`save(trainer)` at every multiple of `every` steps and after every `every_s` seconds of wall
    time since the last save (None: never on the way), and once more at the end when `at_end`, unless
    the run diverged or failed (the last good checkpoint stays) or that step is saved. The live
    runner's autosave is one: every few minutes, not at the end (a manual step ends a run too)."""

    def __init__(self, save: Callable[[Any], Path], every: int | None = None, every_s: float | None = None,
                 at_end: bool = True):
        self.save = save
        self.every = every
        self.every_s = every_s
        self.at_end = at_end
        self.saved_at: int | None = None
        self.path: Path | None = None
        self._saved_time = time.monotonic()

    def _save(self, trainer) -> None:
        self.path = self.save(trainer)
        self.saved_at = trainer.step_count
        self._saved_time = time.monotonic()

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        due_step = self.every and trainer.step_count % self.every == 0
        due_time = self.every_s is not None and time.monotonic() - self._saved_time >= self.every_s
        if due_step or due_time:
            self._save(trainer)

    def on_end(self, trainer, result: RunResult) -> None:
        if self.at_end and result.reason not in (DIVERGED, FAILED) and self.saved_at != trainer.step_count:
            self._save(trainer)


class ProgressHook(Hook):
    """A tqdm progress bar on stderr up to step `total`, the main losses beside it."""

    def __init__(self, total: int, desc: str = "", quiet: bool = False):
        self.total, self.desc, self.quiet = total, desc, quiet
        self.bar = None

    def on_start(self, trainer) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=trainer.step_count, unit="step", desc=self.desc,
                        disable=True if self.quiet else None, dynamic_ncols=True, file=sys.stderr)

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        self.bar.update(1)
        if trainer.step_count % 50 == 0 or trainer.step_count == self.total:
            self.bar.set_postfix({k.split("/")[-1]: f"{metrics[k]:.4g}" for k in HEADLINE if k in metrics},
                                 refresh=False)

    def on_end(self, trainer, result: RunResult) -> None:
        self.bar.close()
