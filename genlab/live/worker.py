"""The worker process of a ProcessRunner: one TrainingRunner in an interpreter of its own.

A worker is started ahead of need (genlab.live.process_runner keeps one spare), forked from a fork
server that has imported torch and the trainers (genlab.live.forkserver_preload) or, where there is
none, spawned and importing them itself; it then waits for its run's WorkerSetup, builds the run and
answers requests — (name, args, kwargs) with a name from REQUESTS — one at a time on its pipe, while
the runner's own thread trains. A reply is ("ok", (result, Header)) or ("error", exception). When the
server's end of the pipe closes (the server stopped or died), the worker autosaves the run's unsaved
progress and exits, so a crashed server loses at most what its last autosave interval had not written.
"""
from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass, field
from typing import Any, Callable

from genlab.live.capacity import ENV_TORCH_THREADS

log = logging.getLogger(__name__)

SETTINGS_PREFIX = "GENLAB_"  # the environment variables genlab reads
WORKER_NICENESS = 10  # added to the server's: the kernel gives a busy server ≈ 9× a worker's CPU share

# What the server may ask of a worker's runner ("status": its state, step and whether it trains).
REQUESTS = frozenset({
    "start", "pause", "stop", "step", "reset", "open_saved", "set_live", "live_values", "set_slow_motion",
    "save", "enable_autosave", "autosave_now", "evaluate_now", "history_lists", "transfer_summary", "snapshot",
    "status", "close",
})


def server_settings() -> dict[str, str]:
    """genlab's environment variables (GENLAB_DATA_ROOTS ...) in this process now."""
    return {name: value for name, value in os.environ.items() if name.startswith(SETTINGS_PREFIX)}


def use_settings(settings: dict[str, str]) -> None:
    """Make `settings` this worker's GENLAB_* variables: a forked worker's environment is otherwise the
    fork server's from when that started, and a spare's from when it was started."""
    for name in [name for name in os.environ if name.startswith(SETTINGS_PREFIX)]:
        del os.environ[name]
    os.environ.update(settings)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker builds its run from (the TrainingRunner's arguments, and its share of the cores)."""

    config: Any  # RunConfig
    data: Any  # a DataSource on the CPU, or None
    trainer_factory: Callable[..., Any]
    torch_threads: int
    settings: dict[str, str] = field(default_factory=server_settings)  # the server's GENLAB_* variables


@dataclass(frozen=True)
class Header:
    """What the server keeps of the worker's run between requests (changed only by its requests)."""

    run_id: int
    config: Any  # RunConfig, live values included
    data_kind: str
    slow_motion_steps_per_s: float | None = None
    start_config: Any = None  # RunConfig of the run's first step, None when not on record


def header(runner) -> Header:
    return Header(runner.run_id, runner.config, runner.data_kind, runner.slow_motion_steps_per_s,
                  runner.start_config)


def portable_error(exc: BaseException) -> BaseException:
    """`exc` itself when its type is one the pages catch and that pickles with its message (ConfigError,
    CheckpointError, DataUnavailableError, plain ValueError / RuntimeError ...), else a RuntimeError with
    its type and message, so that the server always gets an exception it can raise."""
    from genlab.config import ConfigError
    from genlab.data import DataUnavailableError
    from genlab.runs import CheckpointError

    crossing = (ConfigError, CheckpointError, DataUnavailableError, ValueError, RuntimeError, TypeError, KeyError)
    if type(exc) in crossing:
        return exc
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def answer(runner, name: str, args: tuple, kwargs: dict) -> Any:
    """Carry out one request on `runner`; its result, ready to pickle."""
    from genlab.live.snapshot import portable

    if name not in REQUESTS:
        raise ValueError(f"a training worker does not answer {name!r}")
    if name == "status":
        return runner.state, runner.step_count, runner.thread_alive
    result = getattr(runner, name)(*args, **kwargs)
    return portable(result) if name == "snapshot" else result


def warm_up() -> None:
    """The slow imports, done before a run needs the worker (while it is a spare, or in the fork server)."""
    import torch

    import genlab.live.runner  # noqa: F401 - the trainers, models and data sets

    # the first optimizer imports torch._dynamo (≈ 1.3 s of CPU)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def serve(connection, niceness: int) -> None:
    """The worker's main function: build the run from the WorkerSetup it receives, then answer requests.
    `niceness` is the priority to run at (the server's plus WORKER_NICENESS)."""
    # Ctrl-C in the server's terminal reaches the whole process group: the server shuts down and
    # closes the pipe, and this worker then autosaves and exits (instead of dying mid-step).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Pages before training: a worker importing torch or training yields the cores to the server
    # (and the visitor's browser, when they share a machine) whenever those have work to do. A worker
    # forked from the fork server has its priority already.
    os.nice(max(0, niceness - os.nice(0)))
    warm_up()
    from genlab.live.capacity import CapacityLimiter
    from genlab.live.runner import TrainingRunner

    try:
        setup = connection.recv()
    except (EOFError, OSError):
        return
    if setup is None:  # a spare that is not needed any more
        return
    use_settings(setup.settings)
    os.environ[ENV_TORCH_THREADS] = str(setup.torch_threads)  # the server's cap decides each run's cores
    try:
        runner = TrainingRunner(setup.config, data=_on_device(setup.data, setup.config),
                                capacity=CapacityLimiter(1), trainer_factory=setup.trainer_factory)
    except Exception as exc:  # noqa: BLE001 - a bad setup goes back to the server, which raises it
        connection.send(("error", portable_error(exc)))
        return
    connection.send(("ok", (None, header(runner))))
    while True:
        try:
            name, args, kwargs = connection.recv()
        except (EOFError, OSError):
            return _autosave_and_close(runner)
        try:
            if name == "reset" and kwargs.get("data") is not None:
                kwargs = {**kwargs, "data": _on_device(kwargs["data"], args[0] if args else runner.config)}
            reply = ("ok", (answer(runner, name, args, kwargs), header(runner)))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the server
            reply = ("error", portable_error(exc))
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return _autosave_and_close(runner)
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle: say so instead
            connection.send(("error", RuntimeError(f"the answer to {name} could not be sent: {exc}")))
        if name == "close":
            return


def _on_device(data, config):
    """Uploaded data crosses the pipe on the CPU; the run trains on the device its config picks."""
    if data is None:
        return None
    from genlab.trainers.base import pick_device

    return data.to(pick_device(config.device))


def _autosave_and_close(runner) -> None:
    try:
        runner.autosave_now()
    except Exception:  # noqa: BLE001 - closing must go on
        log.exception("autosave of a training worker whose server went away failed")
    runner.close(timeout=30.0)
