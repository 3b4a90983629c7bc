"""TrainingRunner: one live training run in a background thread, driven by commands from a UI.

The web page (or a test, or a script) owns a runner and talks to it only through commands
(start / pause / resume / step / stop / reset / load / save), live hyper-parameter changes (`set_live`)
and copied, read-only `snapshot()`s. The training thread is the only thread that calls the trainer
while a run is running; every other access goes through `exclusive()`, which holds the loop between
two steps. Nothing here imports streamlit: the same runner is driven headless by the benchmark.

Why the pieces look the way they do:
- Metric history is kept in growing numpy buffers (not lists of dicts) with a ≤ `DISPLAY_POINTS`
  block-mean view maintained incrementally, so a refresh costs O(display points), not O(steps).
- Preview samples and the 2D scene (D heatmap + G's field) are computed in the training thread at
  most every `PREVIEW_INTERVAL_S` seconds, and the scene only while a viewer asks for it: a
  refresh must cost little training speed (target: ≥ 0.9× headless steps/s).
- A server-wide `CapacityLimiter` caps concurrent trainings (default: CPU cores;
  GENLAB_MAX_TRAININGS overrides); `start()` raises `CapacityError` with a clear message when full.
- The thread is a daemon but is always stopped and joined (close(), atexit): a daemon thread still
  inside torch at interpreter exit can crash the process.
"""
from __future__ import annotations

import atexit
import collections
import copy
import math
import os
import threading
import time
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from genlab.config import LIVE_FIELDS, ConfigError, RunConfig
from genlab.trainers import DivergenceError, make_trainer

IDLE, RUNNING, PAUSED, STOPPED, DIVERGED, ERROR = "idle", "running", "paused", "stopped", "diverged", "error"
STATES = (IDLE, RUNNING, PAUSED, STOPPED, DIVERGED, ERROR)

DISPLAY_POINTS = 1000  # at most this many points per series in a snapshot (one plotly trace, ~ a chart's pixel width)
RECENT_POINTS = 2000  # the latest values of each series at full resolution, for a "last N steps" view
FULL_HISTORY_POINTS = 200_000  # per series; beyond it the kept history is thinned 2:1 (bounded memory)
PREVIEW_INTERVAL_S = 0.4  # preview samples / 2D scene at most this often while running
SCENE_REQUEST_TTL_S = 3.0  # the scene is computed only if a viewer asked within this many seconds
PREVIEW_COUNT = 64
QUALITY_INTERVAL_S = 2.0  # cheap quality metrics (evaluation.cheap_metrics) at most this often ...
QUALITY_INTERVAL_STEPS = 100  # ... and at most every this many steps (whichever is later)
SCENE_POINTS = 512  # real and generated points drawn in the 2D scene
HEATMAP_RESOLUTION = 48  # D evaluated on a HEATMAP_RESOLUTION² grid (smoothed by the browser)
FIELD_RESOLUTION = 15  # G's field drawn on a FIELD_RESOLUTION² grid of arrows
MAX_SLOW_MOTION_DELAY_S = 5.0
ENV_MAX_TRAININGS = "GENLAB_MAX_TRAININGS"
ENV_TORCH_THREADS = "GENLAB_TORCH_THREADS"


# ------------------------------------------------------------------------------------------------
# Server-wide cap on concurrent trainings
# ------------------------------------------------------------------------------------------------
def positive_int_from_env(name: str) -> int | None:
    """The positive integer in environment variable `name`, None when unset; ConfigError otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(name, raw, "must be a positive integer")
    return value


class CapacityError(RuntimeError):
    """The server already runs as many trainings as it allows; the message says what to do."""


class CapacityLimiter:
    """Counts the runs holding a training slot (from start() until stop()/reset()/close()).

    The limit is `limit` when given, else the GENLAB_MAX_TRAININGS environment variable (read at
    each acquire, so a deployment or a test can change it), else the number of CPU cores.
    """

    def __init__(self, limit: int | None = None):
        self._lock = threading.Lock()
        self._holders: set[int] = set()
        self._limit = limit

    @property
    def limit(self) -> int:
        if self._limit is not None:
            return self._limit
        return positive_int_from_env(ENV_MAX_TRAININGS) or os.cpu_count() or 1

    def set_limit(self, limit: int | None) -> None:
        """Fix the limit (None: back to the environment variable / CPU count)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError("max_trainings", limit, "must be a positive integer")
        self._limit = limit

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._holders)

    def acquire(self, holder: object) -> None:
        limit = self.limit
        with self._lock:
            if id(holder) in self._holders:
                return
            if len(self._holders) >= limit:
                raise CapacityError(
                    f"This server is already running {len(self._holders)} training(s), its limit "
                    f"({limit}; set by {ENV_MAX_TRAININGS}, default: the number of CPU cores). "
                    "Stop a run in another tab, or wait for one to finish, then press Start again."
                )
            self._holders.add(id(holder))

    def release(self, holder: object) -> None:
        with self._lock:
            self._holders.discard(id(holder))


CAPACITY = CapacityLimiter()


def threads_per_training(capacity: CapacityLimiter | None = None) -> int:
    """torch intra-op threads for each training: GENLAB_TORCH_THREADS, else CPU cores ÷ the cap.

    With the default cap (one training per core) that is 1 thread each. Oversubscribing cores
    with OpenMP threads is catastrophic, not just slower: on this 2-core machine with other work
    running, a ring GAN made ~200 steps/s with 1 thread and ~3 steps/s with 2 (spinning OpenMP
    barriers). A single-user desktop can set GENLAB_MAX_TRAININGS=1 to give one run every core.
    """
    return positive_int_from_env(ENV_TORCH_THREADS) or max(1, (os.cpu_count() or 1) // (capacity or CAPACITY).limit)
_LIVE_RUNNERS: "weakref.WeakSet[TrainingRunner]" = weakref.WeakSet()


@atexit.register
def _stop_all_runners() -> None:
    for runner in list(_LIVE_RUNNERS):
        try:
            runner.close(timeout=5.0)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


# ------------------------------------------------------------------------------------------------
# Metric history
# ------------------------------------------------------------------------------------------------
class Series:
    """One metric over steps: a bounded full history plus an incremental ≤ display_points view.

    Full history: every value while it fits in `full_points`; beyond that only steps that are
    multiples of a power-of-two stride are kept (the stride doubles at each compaction), so all
    series of a run stay aligned on the same steps and memory stays bounded.
    Display view: block means; each point averages `block` consecutive values; when it fills up,
    neighbouring points are merged pairwise and `block` doubles. Appending is O(1) amortized and
    reading the view is O(display_points), whatever the run length.
    """

    __slots__ = ("_steps", "_values", "_n", "_stride", "_max_full",
                 "_d_steps", "_d_values", "_dn", "_block", "_acc_sum", "_acc_n", "_acc_step", "_cap",
                 "_r_steps", "_r_values", "_rn")

    def __init__(self, display_points: int = DISPLAY_POINTS, full_points: int = FULL_HISTORY_POINTS):
        self._max_full = max(4, full_points)
        self._steps = np.empty(min(256, self._max_full), np.int64)
        self._values = np.empty(len(self._steps), np.float32)
        self._n = 0
        self._stride = 1
        self._cap = max(2, display_points - 1) // 2 * 2  # even, and one slot left for the partial block
        # int32 / float32: what the charts send (plotly encodes the arrays as they are)
        self._d_steps = np.empty(self._cap, np.int32)
        self._d_values = np.empty(self._cap, np.float32)
        self._dn = 0
        self._block = 1
        self._acc_sum = 0.0
        self._acc_n = 0
        self._acc_step = 0
        self._r_steps = np.empty(RECENT_POINTS, np.int32)  # ring buffer of the latest values
        self._r_values = np.empty(RECENT_POINTS, np.float32)
        self._rn = 0  # values ever appended

    def __len__(self) -> int:
        return self._n

    def append(self, step: int, value: float) -> None:
        self._append_full(step, value)
        slot = self._rn % RECENT_POINTS
        self._r_steps[slot] = step
        self._r_values[slot] = value
        self._rn += 1
        self._acc_sum += value
        self._acc_n += 1
        self._acc_step = step
        if self._acc_n == self._block:
            if self._dn == self._cap:
                half = self._cap // 2
                self._d_values[:half] = 0.5 * (self._d_values[0::2] + self._d_values[1::2])
                self._d_steps[:half] = self._d_steps[1::2]
                self._dn = half
                self._block *= 2
            else:
                self._d_steps[self._dn] = step
                self._d_values[self._dn] = self._acc_sum / self._acc_n
                self._dn += 1
                self._acc_sum, self._acc_n = 0.0, 0

    def _append_full(self, step: int, value: float) -> None:
        if step % self._stride:
            return
        if self._n == len(self._steps):
            if self._n < self._max_full:
                size = min(self._max_full, 2 * len(self._steps))
                self._steps = np.resize(self._steps, size)
                self._values = np.resize(self._values, size)
            else:
                while self._n == len(self._steps) or step % self._stride:
                    self._stride *= 2
                    keep = self._steps[: self._n] % self._stride == 0
                    kept = int(keep.sum())
                    self._steps[:kept] = self._steps[: self._n][keep]
                    self._values[:kept] = self._values[: self._n][keep]
                    self._n = kept
                    if step % self._stride:
                        return
        self._steps[self._n] = step
        self._values[self._n] = value
        self._n += 1

    def display(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) copies with at most `display_points` points (block means, latest partial block last)."""
        steps = self._d_steps[: self._dn]
        values = self._d_values[: self._dn]
        if self._acc_n:
            steps = np.append(steps, np.int32(self._acc_step))
            values = np.append(values, np.float32(self._acc_sum / self._acc_n))
        else:
            steps, values = steps.copy(), values.copy()
        steps.flags.writeable = False
        values.flags.writeable = False
        return steps, values

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        return self._steps[: self._n].copy(), self._values[: self._n].copy()

    def window(self, after_step: int) -> tuple[np.ndarray, np.ndarray]:
        """The points with step > after_step: at full resolution while the ring buffer of recent
        values reaches back that far, else the display view's block means (then at most
        display_points; the caller may downsample the full-resolution case)."""
        kept = min(self._rn, RECENT_POINTS)
        start = self._rn - kept
        order = np.arange(start, self._rn) % RECENT_POINTS
        steps, values = self._r_steps[order], self._r_values[order]
        if self._rn > RECENT_POINTS and steps[0] > after_step + 1:  # older values are gone
            steps, values = self.display()
        keep = steps > after_step
        steps, values = np.array(steps[keep]), np.array(values[keep])
        steps.flags.writeable = False
        values.flags.writeable = False
        return steps, values


class MetricHistory:
    """Every metric a trainer reports, as `Series` keyed by metric name (not thread-safe itself)."""

    def __init__(self, display_points: int = DISPLAY_POINTS, full_points: int = FULL_HISTORY_POINTS):
        self._series: dict[str, Series] = {}
        self._display_points = display_points
        self._full_points = full_points

    def append(self, metrics: Mapping[str, float]) -> None:
        step = int(metrics.get("step", 0))
        for name, value in metrics.items():
            if name == "step":
                continue
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = Series(self._display_points, self._full_points)
            series.append(step, value)

    @classmethod
    def from_lists(cls, table: Mapping[str, Sequence[float]], *, until_step: int | None = None,
                   display_points: int = DISPLAY_POINTS, full_points: int = FULL_HISTORY_POINTS) -> MetricHistory:
        """A history holding a `to_lists()` table (e.g. a saved run's metrics): NaN cells are skipped,
        rows after `until_step` are dropped. ValueError if the columns do not line up with "step"."""
        history = cls(display_points, full_points)
        if not table:
            return history
        if "step" not in table:
            raise ValueError("a metrics table needs a 'step' column")
        steps = np.asarray(table["step"], dtype=np.float64)
        if steps.ndim != 1 or not np.isfinite(steps).all():
            raise ValueError("the 'step' column must be a list of finite numbers")
        for name, column in table.items():
            if len(column) != len(steps):
                raise ValueError(f"metric {name!r} has {len(column)} values for {len(steps)} steps")
        order = np.argsort(steps, kind="stable")  # appends must go in step order
        keep = order if until_step is None else order[steps[order] <= until_step]
        int_steps = steps.astype(np.int64)
        for name, column in table.items():
            if name == "step":
                continue
            values = np.asarray(column, dtype=np.float64)[keep]
            at = int_steps[keep]
            present = ~np.isnan(values)
            if not present.any():
                continue
            series = history._series[name] = Series(display_points, full_points)
            for step, value in zip(at[present].tolist(), values[present].tolist()):
                series.append(step, value)
        return history

    def last_row(self) -> dict[str, float]:
        """Each metric's latest value, plus "step" (the latest step of any metric); {} when empty."""
        last: dict[str, float] = {}
        latest = None
        for name, series in self._series.items():
            if series._rn:
                slot = (series._rn - 1) % RECENT_POINTS
                last[name] = float(series._r_values[slot])
                step = int(series._r_steps[slot])
                latest = step if latest is None else max(latest, step)
        if latest is not None:
            last["step"] = float(latest)
        return last

    def display(self, last_steps: int | None = None, current_step: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every series' display view, or only its last `last_steps` steps (see Series.window)."""
        if last_steps is None:
            return {name: series.display() for name, series in self._series.items()}
        return {name: series.window(current_step - last_steps) for name, series in self._series.items()}

    def to_lists(self, max_rows: int = 20_000) -> dict[str, list[float]]:
        """A table for a checkpoint: "step" and one equally long column per metric, NaN where a metric
        was not recorded at that step (penalties switched off, per-layer stats between measurements).
        Longer histories keep only steps that are multiples of a power of two (≤ max_rows rows)."""
        fulls = {name: series.full() for name, series in self._series.items()}
        if not fulls:
            return {}
        steps = np.unique(np.concatenate([s for s, _ in fulls.values()]))
        stride = 1
        while len(steps) > max_rows:
            stride *= 2
            steps = steps[steps % stride == 0]
        out: dict[str, list[float]] = {"step": steps.astype(float).tolist()}
        for name, (s, v) in fulls.items():
            column = np.full(len(steps), np.nan)
            where = np.searchsorted(steps, s)
            hit = (where < len(steps)) & (steps[np.minimum(where, len(steps) - 1)] == s)
            column[where[hit]] = v[hit]
            out[name] = column.tolist()
        return out

    def __len__(self) -> int:
        return len(self._series)


# ------------------------------------------------------------------------------------------------
# Snapshots
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scene2D:
    """What the 2D view draws: D over a grid, real and generated points, G's field as arrows."""

    step: int
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1
    real: np.ndarray  # (n, 2)
    fake: np.ndarray  # (m, 2)
    grid_x: np.ndarray | None = None  # (R,)
    grid_y: np.ndarray | None = None  # (R,)
    heat: np.ndarray | None = None  # (R, R): D(x) in [0, 1] for a probability D, else the raw critic
    heat_label: str = ""
    field_xy: np.ndarray | None = None  # (F, 2) arrow tails
    field_uv: np.ndarray | None = None  # (F, 2) arrow directions (−∇_x loss_G), unscaled


@dataclass(frozen=True)
class Snapshot:
    """A copied, read-only view of a run at one moment (safe to use from any thread)."""

    version: int  # grows whenever anything in the snapshot changes
    state: str
    step: int
    steps_per_s: float
    elapsed_s: float
    message: str  # divergence / error / capacity explanation, "" when none
    diverged_term: str
    family: str
    data_kind: str  # "points" | "images"
    config: RunConfig  # a copy of the trainer's config (live values included)
    history: Mapping[str, tuple[np.ndarray, np.ndarray]]
    last: Mapping[str, float]
    layer_stats: Mapping[str, float]
    preview: np.ndarray | None  # images (n, C, H, W) in [0, 1] or points (n, 2)
    preview_step: int
    scene: Scene2D | None
    slow_motion_steps_per_s: float | None
    device: str
    last_metric_error: str = ""  # the latest quality-metric failure ("" when none); training went on


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    if array is None:
        return None
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


# ------------------------------------------------------------------------------------------------
# Divergence hints
# ------------------------------------------------------------------------------------------------
def divergence_advice(term: str, family: str) -> str:
    """What usually helps when `term` became NaN/Inf."""
    if term.startswith("penalty/l1") or term.startswith("penalty/l2"):
        return "lower that weight penalty's strength, or lower the learning rate"
    if term in ("penalty/gp", "penalty/r1", "penalty/r2"):
        return "lower the gradient-penalty strength or the discriminator's learning rate, or add gradient clipping"
    if family == "vae":
        if term == "loss/kl":
            return ("lower the learning rates, add gradient clipping, or use a KL warm-up; a very small β with "
                    "a tiny Gaussian σ can let the encoder's variances collapse")
        if term == "loss/recon":
            return ("lower the learning rates or add gradient clipping; with a Gaussian likelihood use a larger σ "
                    "(Reset)")
        return "lower the learning rates, add gradient clipping, or lower β"
    if term.endswith("/d") or term in ("loss/d_adv", "d/real", "d/fake"):
        return ("lower the discriminator's learning rate, add gradient clipping or R1 (γ≈1–10), "
                "or enable spectral norm on D (needs Reset)")
    if term.endswith("/g") or term == "loss/g_adv":
        return ("lower the generator's learning rate, add gradient clipping, or regularize D (R1, WGAN-GP, "
                "spectral norm) so its gradients stay bounded")
    return "lower the learning rates and add gradient clipping"


# ------------------------------------------------------------------------------------------------
# The runner
# ------------------------------------------------------------------------------------------------
class TrainingRunner:
    """One run: a trainer built from a RunConfig and the thread that trains it.

    Commands: start, pause, resume, step(kind), stop, reset, load, save, set_live, set_slow_motion.
    Read: snapshot(). All methods are thread-safe; none is called from the training thread.
    """

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        data=None,
        capacity: CapacityLimiter | None = None,
        trainer_factory: Callable[..., Any] = make_trainer,
    ):
        self._capacity = capacity or CAPACITY
        self._factory = trainer_factory
        self._trainer_lock = threading.Lock()  # held while anyone calls the trainer
        self._cond = threading.Condition(threading.Lock())  # guards everything below
        self._holds = 0  # >0: a caller waits for exclusive(); the loop must not start another step
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._slow_delay_s = 0.0
        self._scene_wanted_until = 0.0
        self._closed = False
        torch.set_num_threads(threads_per_training(self._capacity))  # manual steps run in this thread
        self._build(config or RunConfig(), data)
        _LIVE_RUNNERS.add(self)

    # --- construction / reset ---------------------------------------------------------------------
    def _make(self, config: RunConfig, data):
        config = copy.deepcopy(config).validate()
        return self._factory(config, data=data) if data is not None else self._factory(config)

    def _build(self, config: RunConfig, data) -> None:
        self._install(self._make(config, data), data)

    def _install(self, trainer, data, history: MetricHistory | None = None) -> None:
        """Make `trainer` this runner's run, with `history` (default: empty) as its metric history
        (no thread may be running)."""
        scene_setup = self._make_scene_setup(trainer)
        history = history if history is not None else MetricHistory()
        with self._cond:
            self.trainer = trainer
            self.run_id = getattr(self, "run_id", -1) + 1  # changes whenever the trainer is replaced
            self._data_override = data
            self._family = trainer.config.model.family
            self._data_kind = trainer.data.kind
            self._config = copy.deepcopy(trainer.config)
            self._history = history
            self._last: dict[str, float] = history.last_row()
            self._layer_stats: dict[str, float] = {k: v for k, v in self._last.items()
                                                   if k.startswith(("weight_norm/", "spectral_norm/"))}
            self._preview: np.ndarray | None = None
            self._preview_step = -1
            self._scene: Scene2D | None = None
            self._state = IDLE
            self._message = ""
            self._diverged_term = ""
            self._error_traceback = ""
            self._elapsed = 0.0
            self._run_started: float | None = None
            self._rate_window: collections.deque[tuple[float, int]] = collections.deque(maxlen=16)
            self._version = getattr(self, "_version", 0) + 1
            self._last_preview_time = 0.0
            self._last_scene_time = 0.0
            self._last_quality_time = time.monotonic()  # first measurement QUALITY_INTERVAL_S after start
            self._last_quality_step = trainer.step_count
            self._last_metric_error = ""
            self._scene_setup = scene_setup
        self._refresh_preview()

    def reset(self, config: RunConfig | None = None, *, data=None) -> None:
        """Stop, then build a fresh trainer (from `config`, default the current one). A config or
        data error is raised before anything changes, so a bad Setup keeps the old run."""
        if data is None and config is None:
            data = self._data_override
        # build first: if it fails (bad path, data unavailable) the current run is left alone
        trainer = self._make(config or self._config, data)
        self.stop()
        with self._trainer_lock:
            self._install(trainer, data)

    def load(self, trainer, history: Mapping[str, Sequence[float]] | None = None, *, data=None) -> None:
        """Stop, then continue a saved run: `trainer` (e.g. genlab.runs.load_run(...).trainer,
        with weights, optimizer state and step restored) becomes this runner's run, idle until Start,
        and its config the runner's config. `history` (a checkpoint's table: a "step" column plus one
        column per metric, NaN where absent) seeds the metric history, so the curves go on from the
        saved step instead of starting over. Rows after the trainer's step are dropped. A malformed
        history raises ValueError before anything changes."""
        seeded = MetricHistory.from_lists(history or {}, until_step=trainer.step_count)
        self.stop()
        with self._trainer_lock:
            self._install(trainer, data, history=seeded)

    # --- properties -------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        with self._cond:
            return self._state

    @property
    def config(self) -> RunConfig:
        with self._cond:
            return copy.deepcopy(self._config)

    @property
    def step_count(self) -> int:
        return self.trainer.step_count

    @property
    def thread_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # --- commands ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Train in the background. Resumes a paused or diverged run. Raises CapacityError when the
        server-wide cap is reached (nothing changes then)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("this runner is closed")
            if self.thread_alive and not self._stop_requested:
                self._set_running_locked()
                return
        self._join()  # a thread that is still finishing a stop
        self._capacity.acquire(self)
        with self._cond:
            self._stop_requested = False
            self._set_running_locked()
            self._thread = threading.Thread(target=self._loop, name=f"genlab-train-{id(self):x}", daemon=True)
            self._thread.start()

    def resume(self) -> None:
        self.start()

    def pause(self) -> None:
        with self._cond:
            if self._state == RUNNING:
                self._set_state_locked(PAUSED)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the thread and wait for it (at most `timeout` s; 0: do not wait, the thread ends
        after its current step). The trainer and its history stay (Save still works)."""
        with self._cond:
            self._stop_requested = True
            if self._state in (RUNNING, PAUSED, DIVERGED):
                self._set_state_locked(STOPPED)
            self._cond.notify_all()
        if timeout != 0:
            self._join(timeout)
        self._capacity.release(self)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop for good (the browser tab went away). With timeout=0 this returns at once (for
        Streamlit's session-end hook, which runs on the server's event loop); the thread still
        ends after its current step, and interpreter exit joins it (atexit)."""
        with self._cond:
            self._closed = True
        self.stop(timeout)
        if timeout != 0 or not self.thread_alive:
            _LIVE_RUNNERS.discard(self)

    def step(self, kind: str = "both") -> dict[str, float] | None:
        """One step now ("both"; for GANs also "d" = discriminator only, "g" = generator only).
        A running run is paused first. Returns that step's metrics (None if it diverged)."""
        if kind not in ("both", "d", "g"):
            raise ValueError(f"step kind must be 'both', 'd' or 'g', got {kind!r}")
        if kind != "both" and self._family != "gan":
            raise ValueError("D-only and G-only steps exist for GANs only")
        self.pause()
        with self.exclusive() as trainer:
            step_fn = {"both": trainer.step, "d": getattr(trainer, "step_d", None),
                       "g": getattr(trainer, "step_g", None)}[kind]
            started = time.perf_counter()
            try:
                metrics = step_fn()
            except DivergenceError as exc:
                self._on_divergence(exc)
                return None
            with self._cond:
                self._elapsed += time.perf_counter() - started
                self._message, self._diverged_term = "", ""
                if self._state != PAUSED:
                    self._set_state_locked(PAUSED)  # Resume/Start continues from here
            self._record(metrics)
            self._refresh_preview()
            if self._scene_wanted():
                self._refresh_scene()
        return metrics

    def set_live(self, **dotted: Any) -> None:
        """Change live hyper-parameters (config.LIVE_FIELDS), e.g. set_live(**{"objective.beta": 4.0}).
        Validated now (ConfigError to the caller, nothing changed); applied before the next step."""
        for key, value in dotted.items():
            if key not in LIVE_FIELDS:
                raise ConfigError(key, value, "cannot change during a run (needs Reset); live fields: "
                                  + ", ".join(LIVE_FIELDS))
        if not dotted:
            return
        self._config.replace(**dotted)  # validate before touching the trainer
        with self.exclusive() as trainer:
            trainer.update(**dotted)
            with self._cond:
                self._config = copy.deepcopy(trainer.config)
                self._version += 1

    def live_values(self) -> dict[str, Any]:
        """Current value of every live field, keyed by dotted name."""
        config = self.config
        return {key: getattr(getattr(config, key.split(".")[0]), key.split(".")[1]) for key in LIVE_FIELDS}

    def set_slow_motion(self, steps_per_s: float | None) -> None:
        """None: full speed; else sleep between steps so the run makes about `steps_per_s` steps/s."""
        if steps_per_s is None or steps_per_s <= 0:
            delay = 0.0
        else:
            if not math.isfinite(steps_per_s):
                raise ConfigError("slow_motion", steps_per_s, "must be a positive number of steps per second")
            delay = min(MAX_SLOW_MOTION_DELAY_S, 1.0 / steps_per_s)
        with self._cond:
            self._slow_delay_s = delay
            self._cond.notify_all()

    def request_scene(self) -> None:
        """A viewer wants the 2D scene: keep computing it (at most every PREVIEW_INTERVAL_S) for a while."""
        with self._cond:
            self._scene_wanted_until = time.monotonic() + SCENE_REQUEST_TTL_S
            running = self._state == RUNNING
        if not running and self._scene_setup is not None:
            # Nobody else will compute it: do it here if the weights changed since the last one.
            with self._cond:
                stale = self._scene is None or self._scene.step != self.trainer.step_count
            if stale:
                with self.exclusive():
                    self._refresh_scene()

    def save(self, name: str | None = None, root: str = "checkpoints"):
        """Write a checkpoint with genlab.runs.save_run; returns its path."""
        from genlab.runs import save_run  # imported lazily: the runner works without it

        with self.exclusive() as trainer:
            with self._cond:
                history = self._history.to_lists()
            return save_run(trainer, history, root=root, name=name)

    def evaluate_now(self, n_samples: int = 2500, ks: tuple[int, ...] = (1, 10, 100)):
        """Every evaluator of genlab.evaluation that applies (FID/KID, ELBO/NLL, MIG, modes), measured now,
        between two steps, as `python -m genlab eval` measures a saved run; their "eval/..." numbers are
        recorded in the history at the current step, with the cheap "quality/..." metrics. Returns the
        Evaluation (its `history_row`, and the reasons in `skipped`). Errors go to the caller."""
        from genlab.evaluation import cheap_metrics, evaluate

        with self.exclusive() as trainer:
            evaluation = evaluate(trainer, n_samples=n_samples, ks=ks)
            try:
                quality = cheap_metrics(trainer)
            except Exception as exc:  # noqa: BLE001 - the eval numbers are still worth returning
                quality = {}
                with self._cond:
                    self._last_metric_error = f"{type(exc).__name__}: {exc}"
            self._record_at_current_step({**quality, **evaluation.history_row})
        return evaluation

    def history_lists(self) -> dict[str, list[float]]:
        with self._cond:
            return self._history.to_lists()

    @contextmanager
    def exclusive(self) -> Iterator[Any]:
        """Hold the training loop between two steps and yield the trainer (e.g. for Save, a
        latent-space view, a manual step). Waits at most one step."""
        with self._cond:
            self._holds += 1
        try:
            with self._trainer_lock:
                yield self.trainer
        finally:
            with self._cond:
                self._holds -= 1
                self._cond.notify_all()

    # --- snapshot ---------------------------------------------------------------------------------
    def snapshot(self, *, want_scene: bool = False, last_steps: int | None = None) -> Snapshot:
        """A copied, read-only view of the run. `want_scene`: a viewer draws the 2D scene (keep it
        fresh). `last_steps`: history of only the latest steps (full resolution while they are in
        the recent buffer) instead of the whole run."""
        bad = isinstance(last_steps, bool) or not isinstance(last_steps, int) or last_steps < 1
        if last_steps is not None and bad:
            raise ValueError(f"last_steps must be a positive integer or None, got {last_steps!r}")
        if want_scene:
            self.request_scene()
        now = time.perf_counter()
        with self._cond:
            elapsed = self._elapsed + (now - self._run_started if self._run_started is not None else 0.0)
            return Snapshot(
                version=self._version,
                state=self._state,
                step=self.trainer.step_count,
                steps_per_s=self._rate_locked(now),
                elapsed_s=elapsed,
                message=self._message,
                diverged_term=self._diverged_term,
                family=self._family,
                data_kind=self._data_kind,
                config=self._config,  # replaced, never mutated, so sharing it is safe
                history=MappingProxyType(self._history.display(last_steps, self.trainer.step_count)),
                last=MappingProxyType(dict(self._last)),
                layer_stats=MappingProxyType(dict(self._layer_stats)),
                preview=self._preview,  # already a read-only copy
                preview_step=self._preview_step,
                scene=self._scene,
                slow_motion_steps_per_s=(1.0 / self._slow_delay_s) if self._slow_delay_s else None,
                device=str(self.trainer.device),
                last_metric_error=self._last_metric_error,
            )

    # --- internals --------------------------------------------------------------------------------
    def _set_state_locked(self, state: str) -> None:
        now = time.perf_counter()
        if self._state == RUNNING and state != RUNNING and self._run_started is not None:
            self._elapsed += now - self._run_started
            self._run_started = None
            self._rate_window.clear()
        if state == RUNNING and self._state != RUNNING:
            self._run_started = now
            self._rate_window.clear()
            self._rate_window.append((now, self.trainer.step_count))
        self._state = state
        self._version += 1
        self._cond.notify_all()

    def _set_running_locked(self) -> None:
        if self._state != RUNNING:
            self._message, self._diverged_term = "", ""
            self._set_state_locked(RUNNING)

    def _rate_locked(self, now: float) -> float:
        if self._state != RUNNING or len(self._rate_window) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self._rate_window[0], self._rate_window[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def _scene_wanted(self) -> bool:
        return self._scene_setup is not None and time.monotonic() < self._scene_wanted_until

    def _join(self, timeout: float | None = 30.0) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("the training thread did not stop in time")
            self._thread = None

    def _loop(self) -> None:
        try:
            # per calling thread for OpenMP, so set here (and not only in the thread that built the runner)
            torch.set_num_threads(threads_per_training(self._capacity))
            while True:
                with self._cond:
                    while not self._stop_requested and (self._state != RUNNING or self._holds > 0):
                        self._cond.wait(0.5)
                    if self._stop_requested:
                        return
                    delay = self._slow_delay_s
                with self._trainer_lock:
                    if self._state != RUNNING:  # paused/stopped while we waited for the lock
                        continue
                    try:
                        metrics = self.trainer.step()
                    except DivergenceError as exc:
                        self._on_divergence(exc)
                        continue
                    self._record(metrics)
                    now = time.monotonic()
                    if delay or now - self._last_preview_time >= PREVIEW_INTERVAL_S:
                        self._refresh_preview()
                        if self._scene_wanted():
                            self._refresh_scene()
                    if (now - self._last_quality_time >= QUALITY_INTERVAL_S
                            and self.trainer.step_count - self._last_quality_step >= QUALITY_INTERVAL_STEPS):
                        self._measure_quality()
                if delay:
                    with self._cond:
                        self._cond.wait_for(lambda: self._stop_requested or self._state != RUNNING, timeout=delay)
        except Exception as exc:  # noqa: BLE001 - anything unexpected: show it, do not kill the server
            with self._cond:
                self._message = f"Training stopped by an error: {type(exc).__name__}: {exc}"
                self._diverged_term = ""
                self._set_state_locked(ERROR)
                self._error_traceback = traceback.format_exc()
        finally:
            self._capacity.release(self)

    def _record(self, metrics: Mapping[str, float]) -> None:
        now = time.perf_counter()
        with self._cond:
            self._history.append(metrics)
            self._last = dict(metrics)
            if any(key.startswith(("weight_norm/", "spectral_norm/")) for key in metrics):
                self._layer_stats = {k: v for k, v in metrics.items()
                                     if k.startswith(("weight_norm/", "spectral_norm/"))}
            step = int(metrics.get("step", self.trainer.step_count))
            if not self._rate_window or now - self._rate_window[-1][0] >= 0.2:
                self._rate_window.append((now, step))
            self._version += 1

    def _record_at_current_step(self, values: Mapping[str, float]) -> None:
        """Add `values` (quality / eval numbers) to the history at the trainer's current step."""
        if not values:
            return
        with self._cond:
            self._history.append({"step": self.trainer.step_count, **{k: float(v) for k, v in values.items()}})
            self._version += 1

    def _measure_quality(self) -> None:
        """cheap_metrics into the history; the caller holds the trainer lock. A failure never stops
        training: it is kept as `last_metric_error` (shown in snapshots) and retried next interval."""
        # imported lazily: the runner works without genlab.metrics
        from genlab.evaluation import cheap_metrics

        self._last_quality_time = time.monotonic()
        self._last_quality_step = self.trainer.step_count
        try:
            values = cheap_metrics(self.trainer)
        except Exception as exc:  # noqa: BLE001 - a metric must never kill training
            with self._cond:
                self._last_metric_error = f"{type(exc).__name__}: {exc}"
                self._version += 1
            return
        self._record_at_current_step(values)

    def _on_divergence(self, exc: DivergenceError) -> None:
        advice = divergence_advice(exc.term, self._family)
        message = (
            f"Training diverged at step {exc.step}: {exc.term} became {exc.value}. The run is paused and the "
            f"weights are those from before that step. What usually helps: {advice}. Change a setting, then "
            "Resume (or Reset)."
        )
        with self._cond:
            self._message = message
            self._diverged_term = exc.term
            self._set_state_locked(DIVERGED)

    def _refresh_preview(self) -> None:
        """New preview samples from the fixed noise; the caller holds the trainer lock (or no thread runs)."""
        preview = self.trainer.preview(PREVIEW_COUNT)
        array = _frozen(preview.detach().float().cpu().numpy())
        with self._cond:
            self._preview = array
            self._preview_step = self.trainer.step_count
            self._last_preview_time = time.monotonic()
            self._version += 1

    # --- 2D scene ---------------------------------------------------------------------------------
    def _make_scene_setup(self, trainer) -> dict | None:
        if trainer.data.kind != "points":
            return None
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(trainer.config.seed) + 1)
        x = trainer.data.x.detach().float().cpu()
        idx = torch.randint(len(x), (SCENE_POINTS,), generator=gen)
        real = x[idx].numpy()
        probe = x if len(x) <= 20_000 else x[torch.randint(len(x), (20_000,), generator=gen)]
        lo = torch.quantile(probe, 0.005, dim=0)
        hi = torch.quantile(probe, 0.995, dim=0)
        centre, half = (lo + hi) / 2, ((hi - lo) / 2).max().clamp_min(1e-3) * 1.3
        x0, x1 = float(centre[0] - half), float(centre[0] + half)
        y0, y1 = float(centre[1] - half), float(centre[1] + half)
        noise = torch.randn(SCENE_POINTS, trainer.latent_dim, generator=gen).to(trainer.device)
        gx = np.linspace(x0, x1, HEATMAP_RESOLUTION, dtype=np.float32)
        gy = np.linspace(y0, y1, HEATMAP_RESOLUTION, dtype=np.float32)
        mesh = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
        fx = np.linspace(x0, x1, FIELD_RESOLUTION + 2, dtype=np.float32)[1:-1]
        fy = np.linspace(y0, y1, FIELD_RESOLUTION + 2, dtype=np.float32)[1:-1]
        field_xy = np.stack(np.meshgrid(fx, fy), -1).reshape(-1, 2)
        return {
            "real": _frozen(real),
            "extent": (x0, x1, y0, y1),
            "noise": noise,
            "gx": _frozen(gx),
            "gy": _frozen(gy),
            "mesh": torch.from_numpy(mesh),
            "field_xy": _frozen(field_xy),
            "field_t": torch.from_numpy(field_xy),
        }

    def _refresh_scene(self) -> None:
        """Compute the 2D scene; the caller holds the trainer lock."""
        setup = self._scene_setup
        if setup is None:
            return
        trainer = self.trainer
        fake = trainer.generate(setup["noise"]).detach().float().cpu().numpy()
        heat = field_uv = None
        label = ""
        if hasattr(trainer, "critic"):
            logits = trainer.critic(setup["mesh"]).float()
            loss = trainer.config.objective.gan_loss
            if loss in ("nonsaturating", "minimax"):
                heat, label = torch.sigmoid(logits), "D(x)"
            else:
                heat, label = logits, "critic D(x)"
            heat = heat.reshape(HEATMAP_RESOLUTION, HEATMAP_RESOLUTION).numpy()
            field_uv = trainer.generator_field(setup["field_t"]).float().numpy()
        scene = Scene2D(
            step=trainer.step_count,
            extent=setup["extent"],
            real=setup["real"],
            fake=_frozen(fake),
            grid_x=setup["gx"] if heat is not None else None,
            grid_y=setup["gy"] if heat is not None else None,
            heat=_frozen(heat),
            heat_label=label,
            field_xy=setup["field_xy"] if field_uv is not None else None,
            field_uv=_frozen(field_uv),
        )
        with self._cond:
            self._scene = scene
            self._last_scene_time = time.monotonic()
            self._version += 1
