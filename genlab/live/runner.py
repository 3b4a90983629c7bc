"""TrainingRunner: one live training run in a background thread, driven by commands from a UI.

A page (or a test, or a script) talks to a runner only through commands (start / pause / resume /
step / stop / reset / load / save / set_live) and copied, read-only `snapshot()`s. The thread trains
through genlab.training.run with the CLI's hooks (history, quality) plus the live view's; the loop's
gate holds it while paused, while someone holds `exclusive()` and between slow-motion steps. The
thread is a daemon but is always stopped and joined (close(), atexit): a daemon thread still inside
torch at interpreter exit can crash the process. Nothing here imports streamlit.
"""
from __future__ import annotations

import atexit
import copy
import logging
import math
import os
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

from genlab.config import LIVE_FIELDS, ConfigError, RunConfig
from genlab.live.advice import divergence_message
from genlab.live.autosave import Autosave
from genlab.live.capacity import CAPACITY, CapacityLimiter, threads_per_training
from genlab.live.snapshot import DIVERGED, ERROR, PAUSED, RUNNING, STOPPED, Snapshot
from genlab.live.view import LiveView
from genlab.trainers import DivergenceError, make_trainer
from genlab.training import HistoryHook, MetricHistory, QualityHook, run
from genlab.training.hooks import PREVIEW_INTERVAL_S
from genlab.training.loop import step_function

MAX_SLOW_MOTION_DELAY_S = 5.0
log = logging.getLogger(__name__)
_LIVE_RUNNERS: "weakref.WeakSet[TrainingRunner]" = weakref.WeakSet()


@atexit.register
def _stop_all_runners() -> None:
    for runner in list(_LIVE_RUNNERS):
        try:
            runner.close(timeout=5.0)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


@dataclass(frozen=True)
class OpenedRun:
    """What open_saved found: the run's folder name, its step, its data set and whether it can train here."""

    name: str
    step: int
    dataset: str
    trainable: bool


class TrainingRunner:
    """One run: a trainer built from a RunConfig and the thread that trains it.

    Commands: start, pause, resume, step(kind), stop, reset, open_saved, load, save, set_live, set_slow_motion.
    Read: snapshot(). All methods are thread-safe; none is called from the training thread.
    """

    def __init__(self, config: RunConfig | None = None, *, data=None, capacity: CapacityLimiter | None = None,
                 trainer_factory: Callable[..., Any] = make_trainer):
        self._capacity = capacity or CAPACITY
        self._factory = trainer_factory
        self._trainer_lock = threading.Lock()  # held while anyone calls the trainer
        self._cond = threading.Condition(threading.Lock())  # guards the state machine below
        self._holds = 0  # >0: a caller waits for exclusive(); the loop must not start another step
        self._thread: threading.Thread | None = None
        self._stop_requested = self._closed = False
        self._slow_delay_s = self._last_step_end = 0.0
        self._pause_at: int | None = None
        self._autosave: Autosave | None = None
        self.run_id = -1
        torch.set_num_threads(threads_per_training(self._capacity))  # manual steps run in this thread
        self._install(self._make(config or RunConfig(), data), data)
        _LIVE_RUNNERS.add(self)

    # --- construction / reset ---------------------------------------------------------------------
    def _make(self, config: RunConfig, data):
        config = copy.deepcopy(config).validate()
        return self._factory(config, data=data) if data is not None else self._factory(config)

    def _install(self, trainer, data, history: MetricHistory | None = None) -> None:
        """Make `trainer` this runner's run with `history` (default: empty); no thread may be running."""
        history = history if history is not None else MetricHistory()
        view = LiveView(trainer, history, self._picture_interval())
        view.preview.refresh(trainer)
        with self._cond:
            self.trainer, self.run_id, self._data_override = trainer, self.run_id + 1, data
            self._config = copy.deepcopy(trainer.config)
            # what its first step runs with; unknown for a run that has trained elsewhere (a saved run)
            self._start_config = copy.deepcopy(trainer.config) if trainer.step_count == 0 else None
            self._history, self._view = history, view
            self._quality = QualityHook(history, on_error=view.note_metric_error)
            self._hooks = [HistoryHook(history), self._quality, *view.hooks]
            if self._autosave is not None:
                self._hooks.append(self._autosave.hook(history, self.run_id))

    def reset(self, config: RunConfig | None = None, *, data=None) -> None:
        """Stop, then build a fresh trainer (from `config`, default the current one). A config or
        data error is raised before anything changes, so a bad Setup keeps the old run."""
        if data is None and config is None:
            data = self._data_override
        trainer = self._make(config or self._config, data)  # first: if it fails, the current run stays
        self.stop()
        with self._trainer_lock:
            self._install(trainer, data)

    def open_saved(self, name_or_path: str | os.PathLike, root: str | os.PathLike | None = None) -> OpenedRun:
        """Open the saved run `name_or_path` (a folder, or a name under `root`) to continue training it:
        when its data set is here it becomes this runner's run, idle until Start; otherwise nothing
        changes. Returns what a page tells the user; CheckpointError / ValueError for a bad folder."""
        from genlab.runs import load_run  # imported lazily: the runner works without it

        loaded = load_run(name_or_path, root=root) if root is not None else load_run(Path(name_or_path))
        if loaded.data_available:
            self.load(loaded.trainer, loaded.history)
        return OpenedRun(loaded.path.name, loaded.trainer.step_count, loaded.config.data.name, loaded.data_available)

    def load(self, trainer, history: Mapping[str, Sequence[float]] | None = None, *, data=None) -> None:
        """Stop, then continue a saved run: `trainer` (e.g. genlab.runs.load_run(...).trainer)
        becomes this runner's run, idle until Start; `history` (its saved metrics table) seeds the
        curves, rows after the trainer's step dropped. A malformed one raises ValueError first."""
        seeded = MetricHistory.from_lists(history or {}, until_step=trainer.step_count)
        self.stop()
        with self._trainer_lock:
            self._install(trainer, data, history=seeded)

    # --- properties -------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._view.state

    @property
    def config(self) -> RunConfig:
        with self._cond:
            return copy.deepcopy(self._config)

    @property
    def start_config(self) -> RunConfig | None:
        """The settings the run's first step ran (or will run) with: `config` before any live change
        after step 0. None for a run opened from a save, whose first step is not on record."""
        with self._cond:
            return copy.deepcopy(self._start_config)

    @property
    def step_count(self) -> int:
        return self.trainer.step_count

    @property
    def data_kind(self) -> str:
        """"points" or "images": what the current run trains on."""
        return self.trainer.data.kind

    def transfer_summary(self) -> str | None:
        """One line on what the current run took from its parent run (None: it did not start from one)."""
        report = getattr(self.trainer, "transfer", None)
        return None if report is None else report.summary()

    @property
    def thread_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    # --- commands ---------------------------------------------------------------------------------
    def start(self, until: int | None = None) -> None:
        """Train in the background (resumes a paused or diverged run); with `until`, pause on reaching
        that step. Raises CapacityError when the server-wide cap is reached (nothing changes then)."""
        with self._cond:
            if self._closed:
                raise RuntimeError("this runner is closed")
            self._pause_at = until
            if self.thread_alive and not self._stop_requested:
                return self._set_state_locked(RUNNING)
        self._join()  # a thread that is still finishing a stop
        self._capacity.acquire(self)
        with self._cond:
            self._stop_requested = False
            self._set_state_locked(RUNNING)
            self._thread = threading.Thread(target=self._train, name=f"genlab-train-{id(self):x}", daemon=True)
            self._thread.start()

    def resume(self) -> None:
        self.start()

    def pause(self) -> None:
        with self._cond:
            if self._view.state == RUNNING:
                self._set_state_locked(PAUSED)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the thread and wait for it (at most `timeout` s; 0: do not wait, the thread ends
        after its current step). The trainer and its history stay (Save still works)."""
        with self._cond:
            self._stop_requested = True
            if self._view.state in (RUNNING, PAUSED, DIVERGED):
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
        """One step now, through the thread's hooks ("both"; for GANs also "d" = discriminator only,
        "g" = generator only). Pauses a running run first. Returns the step's metrics (None: diverged)."""
        step_function(self.trainer, kind)  # a bad kind fails before anything changes
        self.pause()
        with self.exclusive() as trainer:
            started = time.perf_counter()
            result = run(trainer, until=trainer.step_count + 1, hooks=self._hooks, kind=kind)
            with self._cond:
                if result.error is not None:
                    self._diverged_locked(result.error)
                    return None
                self._view.add_elapsed(time.perf_counter() - started)
                self._set_state_locked(PAUSED, message="")  # Resume/Start continues from here
        return dict(result.metrics)

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
                if trainer.step_count == 0:
                    self._start_config = copy.deepcopy(trainer.config)
        self._view.changed()

    def live_values(self) -> dict[str, Any]:
        """Current value of every live field, keyed by dotted name."""
        config = self.config
        return {key: getattr(getattr(config, key.split(".")[0]), key.split(".")[1]) for key in LIVE_FIELDS}

    def set_slow_motion(self, steps_per_s: float | None) -> None:
        """None: full speed; else wait between steps so the run makes about `steps_per_s` steps/s
        (the pictures are then redrawn at every step)."""
        slow = steps_per_s is not None and steps_per_s > 0
        if slow and not math.isfinite(steps_per_s):
            raise ConfigError("slow_motion", steps_per_s, "must be a positive number of steps per second")
        with self._cond:
            self._slow_delay_s = min(MAX_SLOW_MOTION_DELAY_S, 1.0 / steps_per_s) if slow else 0.0
            self._view.set_picture_interval(self._picture_interval())
            self._cond.notify_all()

    @property
    def slow_motion_steps_per_s(self) -> float | None:
        """The rate set_slow_motion asked for (as the sleep between steps allows); None at full speed."""
        delay = self._slow_delay_s
        return 1.0 / delay if delay else None

    @property
    def ready(self) -> bool:
        """Always True: this runner builds its run before its constructor returns (ProcessRunner does not)."""
        return True

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def _catch_up_pictures(self, want_scene: bool) -> None:
        """While no training thread draws them (paused, stopped, diverged), bring the sample preview and,
        if a viewer draws it, the 2D scene to the trainer's step: a page drawn once after Pause must show
        the step the run stopped at, not the last picture taken on the way (up to PREVIEW_INTERVAL_S
        older). While training, the thread draws them (the scene only while a viewer asked recently)."""
        view = self._view
        if want_scene:
            view.want_scene()
        if view.state == RUNNING:
            return
        step = self.trainer.step_count
        stale = [hook for hook, behind in ((view.preview, view.preview_stale(step)),
                                           (view.scene_hook, want_scene and view.scene_stale(step))) if behind]
        if stale:
            with self.exclusive() as trainer:
                for hook in stale:
                    hook.refresh(trainer)

    def save(self, name: str | None = None, root: str = "checkpoints"):
        """Write a checkpoint with genlab.runs.save_run; returns its path (the autosave is dropped)."""
        from genlab.runs import save_run  # imported lazily: the runner works without it

        with self.exclusive() as trainer:
            path = save_run(trainer, self._history.to_lists(), root=root, name=name)
            if self._autosave is not None:
                self._autosave.saved_by_hand(trainer, self.run_id)
            return path

    def enable_autosave(self, autosave: Autosave) -> None:
        """Autosave this run's progress (genlab.live.autosave) while it trains, from now on."""
        with self._cond:
            self._autosave = autosave
            self._hooks.append(autosave.hook(self._history, self.run_id))

    def autosave_now(self):
        """Write the unsaved progress to the autosave folder now (e.g. before closing); its path or None."""
        if self._autosave is None:
            return None
        with self.exclusive() as trainer:
            return self._autosave.write(trainer, self._history, self.run_id)

    def evaluate_now(self, n_samples: int = 2500, ks: tuple[int, ...] = (1, 10, 100)):
        """Every evaluator of genlab.evaluation that applies (FID/KID, ELBO/NLL, MIG, modes), measured now,
        between two steps, as `python -m genlab eval` measures a saved run; their "eval/..." numbers are
        recorded in the history at the current step, with the cheap "quality/..." metrics. Returns the
        Evaluation (its `history_row`, and the reasons in `skipped`). Errors go to the caller."""
        from genlab.evaluation import evaluate

        with self.exclusive() as trainer:
            evaluation = evaluate(trainer, n_samples=n_samples, ks=ks)
            self._quality.measure(trainer)
            self._record_at_current_step(evaluation.history_row)
        return evaluation

    def history_lists(self) -> dict[str, list[float]]:
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

    def snapshot(self, *, want_scene: bool = False, last_steps: int | None = None) -> Snapshot:
        """A copied, read-only view of the run. `want_scene`: a viewer draws the 2D scene (keep it
        fresh). `last_steps`: history of only the latest steps (full resolution while they are in
        the recent buffer) instead of the whole run."""
        if last_steps is not None and (isinstance(last_steps, bool) or not isinstance(last_steps, int) or last_steps < 1):
            raise ValueError(f"last_steps must be a positive integer or None, got {last_steps!r}")
        self._catch_up_pictures(want_scene)
        with self._cond:
            view, trainer, config = self._view, self.trainer, self._config
        return view.snapshot(trainer, config, self.slow_motion_steps_per_s, last_steps)

    # --- internals --------------------------------------------------------------------------------
    def _set_state_locked(self, state: str, **message: str) -> None:
        self._view.set_state(state, self.trainer.step_count, **message)
        self._cond.notify_all()

    def _diverged_locked(self, error: DivergenceError) -> None:
        message = divergence_message(error.step, error.term, error.value, self._config.model.family,
                                     error.rolled_back_to)
        self._set_state_locked(DIVERGED, message=message, diverged_term=error.term)

    def _picture_interval(self) -> float:
        return 0.0 if self._slow_delay_s else PREVIEW_INTERVAL_S

    def _record_at_current_step(self, values: Mapping[str, float]) -> None:
        """Add `values` (quality / eval numbers) to the history at the trainer's current step."""
        if values:
            self._history.append({"step": self.trainer.step_count, **{k: float(v) for k, v in values.items()}})
            self._view.changed()

    @contextmanager
    def _gate(self) -> Iterator[bool]:
        """The loop's gate: wait while paused, held by exclusive() or between slow-motion steps;
        yield False once stop was requested, else True with the trainer lock held for the step."""
        while True:
            with self._cond:
                while not self._stop_requested and not self._may_step_locked():
                    wait = self._last_step_end + self._slow_delay_s - time.monotonic()
                    self._cond.wait(min(0.5, wait) if wait > 0 else 0.5)
                stop = self._stop_requested
            if stop:
                yield False
                return
            with self._trainer_lock:
                with self._cond:
                    go = self._view.state == RUNNING and not self._stop_requested
                if go:  # not paused or stopped while we waited for the lock
                    yield True
                    self._last_step_end = time.monotonic()
                    return

    def _may_step_locked(self) -> bool:
        if self._view.state != RUNNING or self._holds > 0:
            return False
        if self._pause_at is not None and self.trainer.step_count >= self._pause_at:
            self._pause_at = None
            self._set_state_locked(PAUSED)
            return False
        return time.monotonic() >= self._last_step_end + self._slow_delay_s

    def _join(self, timeout: float | None = 30.0) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("the training thread did not stop in time")
            self._thread = None

    def _train(self) -> None:
        try:
            # per calling thread for OpenMP, so set here (and not only in the thread that built the runner)
            torch.set_num_threads(threads_per_training(self._capacity))
            while (error := run(self.trainer, hooks=self._hooks, gate=self._gate).error) is not None:
                with self._cond:  # paused until Resume or Stop, which the gate waits for
                    self._diverged_locked(error)
        except Exception as exc:  # noqa: BLE001 - anything unexpected: show it, do not kill the server
            log.exception("training thread of run %s failed", self.run_id)
            with self._cond:
                self._set_state_locked(ERROR, message=f"Training stopped by an error: {type(exc).__name__}: {exc}")
        finally:
            self._capacity.release(self)
