"""ProcessRunner: a run trained in a worker process of its own, with the TrainingRunner's page-facing interface.

Python's GIL lets threads of one process train only one step at a time: on this 2-core machine
8 runs in threads made 122 steps/s in all, in worker processes 333 (benchmarks/classroom_bench.py).
So the app hosts each tab's run in a worker process (genlab.live.pool: on Linux forked from a fork
server that has loaded torch and never trained, elsewhere spawned), genlab.live.worker, and talks to it
over a pipe, one request at a time. What stays in the server: the training cap (CAPACITY: a slot from
start() to stop/reset/close), the run's settings between requests (config, run id, data kind) and the
latest snapshot, which the page still gets, marked as an error, when the worker died (killed for memory,
a crash in torch): then Reset starts a new worker, and the autosave keeps what the dead one had trained.

A spare worker is started ahead of need (genlab.live.pool), so that a new run does not wait for it. The
thread runner stays for tests and for `GENLAB_RUNNER=thread` (genlab.live.runner_class).
"""
from __future__ import annotations

import atexit
import copy
import dataclasses
import threading
import weakref
from typing import Any, Callable

import torch.multiprocessing  # noqa: F401  (registers its reductions: tensors cross the pipe in shared memory)

from genlab.config import TOY2D_DATASETS, RunConfig
from genlab.live.capacity import CAPACITY, CapacityLimiter, threads_per_training
from genlab.live.runner import OpenedRun
from genlab.live.snapshot import ERROR, Snapshot, placeholder, read_only
from genlab.live.pool import SPARES, WorkerGone, Worker
from genlab.live.worker import Header, WorkerSetup
from genlab.trainers import make_trainer

_OPEN_RUNNERS: "weakref.WeakSet[ProcessRunner]" = weakref.WeakSet()
PREPARING = "Preparing the model: its training process is starting…"


class ProcessRunner:
    """One tab's run in a worker process: start, pause, resume, step, stop, reset, open_saved, save,
    set_live, set_slow_motion, evaluate_now, autosave, snapshot... as TrainingRunner, whose docstrings
    say what each does. Thread-safe; one request at a time goes to the worker."""

    def __init__(self, config: RunConfig | None = None, *, data=None, capacity: CapacityLimiter | None = None,
                 trainer_factory: Callable[..., Any] = make_trainer):
        self._capacity = capacity or CAPACITY
        self._factory = trainer_factory
        self._lock = threading.Lock()  # one request at a time on the pipe
        self._worker: Worker | None = None
        self._header: Header | None = None
        self._run_base = 0  # run ids used by this runner's earlier workers
        self._data = data
        self._autosave = None
        self._gone = ""  # why the worker is gone ("" while it serves)
        self._closed = False
        self._pending = threading.Lock()  # enable_autosave vs. the first worker's setup
        self._worker_up = False  # a worker has been set up (enable_autosave then goes to it directly)
        self._ready = threading.Event()  # the first worker answers (or its setup failed)
        config = copy.deepcopy(config or RunConfig()).validate()
        kind = data.kind if data is not None else ("points" if config.data.name in TOY2D_DATASETS else "images")
        self._header = Header(0, config, kind, start_config=config)
        self._last_snapshot = placeholder(config, kind, PREPARING)
        _OPEN_RUNNERS.add(self)
        # Importing torch and building the run take a fresh worker seconds: the page draws meanwhile
        # (snapshot() shows the placeholder), and a command waits for the worker (wait_ready).
        threading.Thread(target=self._set_up_first_worker, args=(config, data), name="genlab-worker-setup",
                         daemon=True).start()

    # --- what the page reads ----------------------------------------------------------------------
    @property
    def run_id(self) -> int:
        return self._run_base + self._header.run_id

    @property
    def config(self) -> RunConfig:
        return copy.deepcopy(self._header.config)

    @property
    def start_config(self) -> RunConfig | None:
        return copy.deepcopy(self._header.start_config)

    @property
    def data_kind(self) -> str:
        return self._header.data_kind

    @property
    def slow_motion_steps_per_s(self) -> float | None:
        return self._header.slow_motion_steps_per_s

    @property
    def ready(self) -> bool:
        """Whether the first worker has answered (or failed to set up); until then snapshot() is a placeholder."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until `ready`; False if `timeout` s passed first."""
        return self._ready.wait(timeout)

    @property
    def state(self) -> str:
        return self._status()[0]

    @property
    def step_count(self) -> int:
        return self._status()[1]

    @property
    def thread_alive(self) -> bool:
        return self._status()[2]

    def snapshot(self, *, want_scene: bool = False, last_steps: int | None = None) -> Snapshot:
        if not self._ready.is_set():
            return self._last_snapshot
        try:
            snapshot = read_only(self._call("snapshot", want_scene=want_scene, last_steps=last_steps))
        except WorkerGone:
            return dataclasses.replace(self._last_snapshot, state=ERROR, message=self._gone, steps_per_s=0.0,
                                       version=self._last_snapshot.version + 1)
        if snapshot.state == ERROR:  # the worker's training thread ended: its slot is free
            self._capacity.release(self)
        if last_steps is None:
            self._last_snapshot = snapshot
        return snapshot

    def history_lists(self) -> dict[str, list[float]]:
        return self._call("history_lists")

    def live_values(self) -> dict[str, Any]:
        return self._call("live_values")

    def transfer_summary(self) -> str | None:
        return self._call("transfer_summary")

    # --- commands ---------------------------------------------------------------------------------
    def start(self, until: int | None = None) -> None:
        if self._closed:
            raise RuntimeError("this runner is closed")
        self._capacity.acquire(self)  # the cap is the server's: CapacityError before the worker hears of it
        try:
            self._call("start", until)
        except BaseException:
            self._capacity.release(self)
            raise

    def resume(self) -> None:
        self.start()

    def pause(self) -> None:
        self._call("pause")

    def stop(self, timeout: float | None = 30.0) -> None:
        try:
            if self._worker is not None:
                self._call("stop", timeout)
        finally:
            self._capacity.release(self)

    def step(self, kind: str = "both") -> dict[str, float] | None:
        return self._call("step", kind)

    def reset(self, config: RunConfig | None = None, *, data=None) -> None:
        self._ready.wait()
        if data is None and config is None:
            data = self._data
        if self._worker is None:  # the worker died: this run starts in a new one
            self._start_worker(config or self._header.config, data, first_run_id=self.run_id + 1)
        else:
            self._call("reset", config, data=_on_cpu(data))
        self._data = data
        self._capacity.release(self)

    def open_saved(self, name_or_path, root=None) -> OpenedRun:
        self._ready.wait()
        if self._worker is None:
            self._start_worker(self._header.config, None, first_run_id=self.run_id + 1)
        opened = self._call("open_saved", name_or_path, root)
        if opened.trainable:
            self._data = None
            self._capacity.release(self)
        return opened

    def set_live(self, **dotted: Any) -> None:
        self._call("set_live", **dotted)

    def set_slow_motion(self, steps_per_s: float | None) -> None:
        self._call("set_slow_motion", steps_per_s)

    def save(self, name: str | None = None, root: str = "checkpoints"):
        return self._call("save", name, root)

    def evaluate_now(self, n_samples: int = 2500, ks: tuple[int, ...] = (1, 10, 100)):
        return self._call("evaluate_now", n_samples, ks)

    def enable_autosave(self, autosave) -> None:
        with self._pending:
            self._autosave = autosave
            sent_by_setup = not self._worker_up
        if not sent_by_setup:
            self._call("enable_autosave", autosave)

    def autosave_now(self):
        # before the first worker answers there is no step to keep
        return None if not self._ready.is_set() or self._worker is None else self._call("autosave_now")

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop for good and end the worker; timeout=0 returns at once (the worker ends in the background)."""
        self._closed = True
        if timeout == 0:
            threading.Thread(target=self._shut_down, args=(30.0,), name="genlab-close-worker", daemon=True).start()
        else:
            self._shut_down(timeout)

    # --- internals --------------------------------------------------------------------------------
    def _set_up_first_worker(self, config: RunConfig, data) -> None:
        try:
            self._start_worker(config, data)
        except BaseException as exc:  # noqa: BLE001 - the page shows it; Reset tries again
            self._gone = f"The run could not be set up: {type(exc).__name__}: {exc}. Change the Setup and press Reset."
            self._last_snapshot = dataclasses.replace(self._last_snapshot, state=ERROR, message=self._gone)
        finally:
            self._ready.set()
        if self._closed:  # closed while its worker was starting: close() may have stopped waiting for it
            self._shut_down(30.0)

    def _start_worker(self, config: RunConfig, data, first_run_id: int = 0) -> None:
        """Hand the run to a (spare) worker; its errors (ConfigError, DataUnavailableError...) are raised here."""
        worker = SPARES.take()
        worker.connection.send(WorkerSetup(config, _on_cpu(data), self._factory, threads_per_training(self._capacity)))
        status, payload = worker.receive()
        if status == "error":
            worker.end(5.0)
            raise payload
        with self._lock:
            self._worker, self._header, self._run_base, self._gone = worker, payload[1], first_run_id, ""
        with self._pending:
            autosave, self._worker_up = self._autosave, True
        if autosave is not None:
            self._request("enable_autosave", autosave)
        self._last_snapshot = read_only(self._request("snapshot"))

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """One request to the worker, once the first one is set up (WorkerGone when there is none)."""
        self._ready.wait()
        return self._request(name, *args, **kwargs)

    def _request(self, name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            worker = self._worker
            if worker is None:
                raise WorkerGone(self._gone or "this runner is closed")
            try:
                worker.connection.send((name, args, kwargs))
                status, payload = worker.receive()
            except (WorkerGone, OSError) as exc:
                self._worker, self._gone = None, str(exc if isinstance(exc, WorkerGone) else worker.gone())
                worker.end(5.0)
                self._capacity.release(self)
                raise WorkerGone(self._gone) from None
        if status == "error":
            raise payload
        result, self._header = payload
        return result

    def _status(self) -> tuple[str, int, bool]:
        if not self._ready.is_set():
            return self._last_snapshot.state, 0, False
        try:
            return self._call("status")
        except WorkerGone:
            return ERROR, self._last_snapshot.step, False

    def _shut_down(self, timeout: float | None) -> None:
        self._ready.wait(timeout)  # a worker still being set up is ended with the others at exit
        try:
            if self._worker is not None:
                self._call("close", timeout)
        except WorkerGone:
            pass
        finally:
            with self._lock:
                worker, self._worker = self._worker, None
                self._gone = self._gone or "this runner is closed"
            if worker is not None:
                worker.end(timeout if timeout is not None else 30.0)
            self._capacity.release(self)
            _OPEN_RUNNERS.discard(self)


def _on_cpu(data):
    # the worker moves it to the run's device: the server never holds device memory for a run
    return None if data is None else data.to("cpu")


@atexit.register
def _end_workers() -> None:
    """The server is stopping: every run's unsaved progress to its autosave, then its worker ends (this runs
    before multiprocessing's own exit handler, which would kill the workers first)."""
    SPARES.close()
    for runner in list(_OPEN_RUNNERS):
        try:
            runner.autosave_now()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
        try:
            runner.close(timeout=10.0)
        except Exception:  # noqa: BLE001
            pass
