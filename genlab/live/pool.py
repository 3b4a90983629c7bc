"""Worker processes for ProcessRunner: starting them, one spare kept ready, and a worker's pipe.

On Linux a worker is forked from multiprocessing's fork server, which imports torch and the trainers
once (genlab.live.forkserver_preload) before it forks anything: a worker is ready in a fraction of a
second and shares those ≈ 360 MiB with every other worker instead of holding its own copy (its
interpreter state is the fork server's, which has never trained, touched CUDA or started OpenMP's
threads). Elsewhere (macOS, whose system libraries are not fork-safe; Windows, which cannot fork) each
worker is spawned, a fresh interpreter that imports torch itself, ≈ 2-3 s of CPU. Either way a worker
runs genlab.live.worker.serve, and one spare is kept ready: `SPARES.fill()` as early as the server can
(app.py, while the first visitor reads the Home page), `SPARES.take()` when a run needs one. This
module does not import torch, so that the fork server or the spare starts importing it before the
server's own import of torch is done.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
from pathlib import Path
from typing import Any

from genlab.live.worker import WORKER_NICENESS, serve

POLL_S = 0.25  # how often a waiting request checks that its worker is still alive
PRELOAD = "genlab.live.forkserver_preload"
FORKING = sys.platform.startswith("linux")
# torch.multiprocessing.get_context is this same function
_CONTEXT = multiprocessing.get_context("forkserver" if FORKING else "spawn")
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds the genlab package
_FORKSERVER_START = threading.Lock()


class WorkerGone(RuntimeError):
    """The worker process of a run ended unexpectedly; the message says what is lost and what to do."""


@dataclasses.dataclass
class Worker:
    process: Any
    connection: Any

    def receive(self):
        """The worker's next reply; WorkerGone when the process ended instead."""
        try:
            while not self.connection.poll(POLL_S):
                if not self.process.is_alive():
                    raise EOFError
            return self.connection.recv()
        except (EOFError, OSError):
            raise self.gone() from None

    def gone(self) -> WorkerGone:
        """The error that says this worker ended (to raise once its pipe broke)."""
        self.process.join(timeout=5.0)
        return WorkerGone(
            f"The training process of this run stopped unexpectedly (exit code {self.process.exitcode}; "
            "e.g. the server ran out of memory). The run's last autosave is on the Runs page under "
            "Autosaved runs; press Reset to start a fresh run here.")

    def end(self, timeout: float) -> None:
        """Wait at most `timeout` s for the process to exit, then kill it."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5.0)
        self.connection.close()


def ensure_fork_server() -> None:
    """Start the fork server with genlab's preload unless it runs. Python 3.11's fork server is a
    fresh `python -c` that does not take this process's sys.path, so it finds genlab through
    PYTHONPATH, set for its start only; a preload that fails to import is skipped by multiprocessing
    (each worker then imports what it needs itself)."""
    with _FORKSERVER_START:
        _CONTEXT.set_forkserver_preload([PRELOAD])
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join([_SOURCE_ROOT] + ([before] if before else []))
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if before is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = before


def spawn() -> Worker:
    """A new worker process (forked from the fork server where there is one), waiting for its setup."""
    if FORKING:
        ensure_fork_server()
    ours, theirs = _CONTEXT.Pipe()
    niceness = os.nice(0) + WORKER_NICENESS
    process = _CONTEXT.Process(target=serve, args=(theirs, niceness), name="genlab-training-worker", daemon=True)
    process.start()
    theirs.close()  # the worker holds its end: when it exits, ours reads EOF
    return Worker(process, ours)


class _Spares:
    """Keeps one worker started before a run needs it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spare: Worker | None = None
        self._filling = False

    def take(self) -> Worker:
        with self._lock:
            spare, self._spare = self._spare, None
        self.fill()
        return spare if spare is not None and spare.process.is_alive() else spawn()

    def fill(self) -> None:
        """Start a spare in the background unless there is one (or one is on its way)."""
        with self._lock:
            if self._spare is not None or self._filling:
                return
            self._filling = True
        threading.Thread(target=self._fill, name="genlab-spare-worker", daemon=True).start()

    def _fill(self) -> None:
        worker = spawn()
        with self._lock:
            self._filling = False
            if self._spare is None:
                self._spare, worker = worker, None
        if worker is not None:
            self._dismiss(worker)

    def close(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            self._dismiss(spare)

    @staticmethod
    def _dismiss(worker: Worker) -> None:
        try:
            worker.connection.send(None)
        except OSError:
            pass
        worker.end(5.0)


SPARES = _Spares()
