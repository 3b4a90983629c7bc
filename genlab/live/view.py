"""LiveView: what a page sees of one run, kept current by the runner and the loop's hooks."""
from __future__ import annotations

import collections
import threading
import time
from types import MappingProxyType
from typing import Any, Mapping

from genlab.config import RunConfig
from genlab.live.snapshot import IDLE, RUNNING, Snapshot
from genlab.training import Hook, MetricHistory, PreviewHook, SceneHook
from genlab.training.hooks import PREVIEW_INTERVAL_S
from genlab.training.scene import scene_setup

# what the trainer records every stats_every steps only: its latest values stay shown between readings
PERIODIC_STATS = ("weight_norm/", "spectral_norm/", "operator_norm/", "power_iteration_unconverged/", "kl/dim_")
RATE_SAMPLE_S = 0.2  # steps/s from (time, step) samples at least this far apart
SCENE_REQUEST_TTL_S = 3.0  # the scene is drawn only if a viewer asked within this many seconds


def device_label(trainer) -> str:
    """Where a run trains, as the Train page shows it: "cpu", or "cpu · bf16" when its steps run in
    bf16 autocast (genlab.trainers.base.Trainer.precision)."""
    return f"{trainer.device} · bf16" if trainer.precision == "bf16" else str(trainer.device)


class LiveView(Hook):
    """A run's state and message, time trained, speed, latest metrics and layer norms, pictures.

    A hook on the loop itself (on_step), and the owner of the picture hooks (`hooks`: itself, the
    preview, and the 2D scene for points, drawn only while a viewer asks for it); thread-safe.
    `version` grows with every change, so a page can skip redrawing an unchanged run.
    """

    def __init__(self, trainer, history: MetricHistory, picture_every_s: float = PREVIEW_INTERVAL_S):
        self._lock = threading.Lock()
        self.history = history
        self.version = 0
        self.state, self._message, self._diverged_term = IDLE, "", ""
        self._elapsed, self._run_started = 0.0, None
        self._last = history.last_row()
        self._periodic = {k: v for k, v in self._last.items() if k.startswith(PERIODIC_STATS)}
        self._preview: tuple[int, Any] = (-1, None)
        self._scene = None
        self._metric_error = ""
        self._rate: collections.deque[tuple[float, int]] = collections.deque(maxlen=16)
        self._scene_wanted_until = 0.0
        self.preview = PreviewHook(self.show_preview, picture_every_s)
        setup = scene_setup(trainer)
        self.scene_hook = None if setup is None else SceneHook(setup, self.show_scene, self.scene_wanted, picture_every_s)
        self.hooks: list[Hook] = [self, self.preview, *filter(None, [self.scene_hook])]

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        now = time.perf_counter()
        with self._lock:
            self._last = dict(metrics)
            if any(key.startswith(PERIODIC_STATS) for key in metrics):
                self._periodic = {k: v for k, v in metrics.items() if k.startswith(PERIODIC_STATS)}
            if not self._rate or now - self._rate[-1][0] >= RATE_SAMPLE_S:
                self._rate.append((now, trainer.step_count))
            self.version += 1

    def set_state(self, state: str, step: int, message: str | None = None, diverged_term: str = "") -> None:
        """The runner's state changed (at `step`). Time trained and speed count while RUNNING. The
        message (and diverged term) stays until replaced or training runs again."""
        now = time.perf_counter()
        if message is None and state == RUNNING:
            message = ""
        with self._lock:
            if self._run_started is not None and state != RUNNING:
                self._elapsed += now - self._run_started
                self._run_started = None
            elif self._run_started is None and state == RUNNING:
                self._run_started = now
                self._rate.clear()
                self._rate.append((now, step))
            self.state = state
            if message is not None:
                self._message, self._diverged_term = message, diverged_term
            self.version += 1

    def add_elapsed(self, seconds: float) -> None:
        with self._lock:
            self._elapsed += seconds
            self.version += 1

    def show_preview(self, preview: tuple[int, Any]) -> None:
        self._set("_preview", preview)

    def show_scene(self, scene) -> None:
        self._set("_scene", scene)

    def note_metric_error(self, message: str) -> None:
        self._set("_metric_error", message)

    def changed(self) -> None:
        with self._lock:
            self.version += 1

    def set_picture_interval(self, every_s: float) -> None:
        for hook in filter(None, (self.preview, self.scene_hook)):
            hook.every_s = every_s

    def want_scene(self) -> None:
        """A viewer draws the scene: keep it fresh for a while."""
        self._scene_wanted_until = time.monotonic() + SCENE_REQUEST_TTL_S

    def scene_wanted(self) -> bool:
        return time.monotonic() < self._scene_wanted_until

    def preview_stale(self, step: int) -> bool:
        """Whether the sample preview was taken before `step`."""
        with self._lock:
            return self._preview[0] != step

    def scene_stale(self, step: int) -> bool:
        """A 2D run whose scene is missing or older than `step`."""
        with self._lock:
            return self.scene_hook is not None and (self._scene is None or self._scene.step != step)

    def _set(self, attribute: str, value: Any) -> None:
        with self._lock:
            setattr(self, attribute, value)
            self.version += 1

    def snapshot(self, trainer, config: RunConfig, slow_motion_steps_per_s: float | None,
                 last_steps: int | None = None) -> Snapshot:
        """A copied, read-only Snapshot of this view, `trainer` and its live `config`."""
        step, now = trainer.step_count, time.perf_counter()
        history = MappingProxyType(self.history.display(last_steps, step))
        with self._lock:
            running = self._run_started is not None
            rate = 0.0
            if running and len(self._rate) >= 2:
                (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
                rate = (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
            return Snapshot(
                version=self.version, state=self.state, step=step, steps_per_s=rate,
                elapsed_s=self._elapsed + (now - self._run_started if running else 0.0),
                message=self._message, diverged_term=self._diverged_term, family=config.model.family,
                data_kind=trainer.data.kind, config=config, history=history,
                last=MappingProxyType(dict(self._last)), periodic=MappingProxyType(dict(self._periodic)),
                preview=self._preview[1], preview_step=self._preview[0], scene=self._scene,
                slow_motion_steps_per_s=slow_motion_steps_per_s, device=device_label(trainer),
                last_metric_error=self._metric_error,
            )
