"""Where the app trains each tab's run: in a worker process (ProcessRunner) or a thread of the server."""
from __future__ import annotations

import os

from genlab.config import ConfigError

ENV_RUNNER = "GENLAB_RUNNER"
RUNNER_KINDS = ("process", "thread")


def runner_kind() -> str:
    """$GENLAB_RUNNER: "process" (the default with more than one core: runs train in parallel, the GIL
    makes threads share one core) or "thread" (one process; the tests' default, and a 1-core machine's)."""
    raw = os.environ.get(ENV_RUNNER, "").strip().lower()
    if not raw:
        return "process" if (os.cpu_count() or 1) > 1 else "thread"
    if raw not in RUNNER_KINDS:
        raise ConfigError(ENV_RUNNER, raw, "must be 'process' or 'thread'")
    return raw


def runner_class():
    """The runner class for runner_kind() (both take the same arguments and answer the same commands)."""
    if runner_kind() == "process":
        from genlab.live.process_runner import ProcessRunner

        return ProcessRunner
    from genlab.live.runner import TrainingRunner

    return TrainingRunner
