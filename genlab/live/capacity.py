"""How many trainings one server runs at once, and how many torch threads each gets."""
from __future__ import annotations

import os
import threading
from typing import Callable

from genlab.config import ConfigError

ENV_MAX_TRAININGS = "GENLAB_MAX_TRAININGS"
ENV_TORCH_THREADS = "GENLAB_TORCH_THREADS"


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
        self._reclaim: Callable[[], bool] | None = None

    def set_reclaimer(self, reclaim: Callable[[], bool] | None) -> None:
        """`reclaim()` is called when the limit is reached, before refusing: it may end a run nobody
        watches any more (genlab.live.registry) and returns True if it freed a slot."""
        self._reclaim = reclaim

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

    def holds(self, holder: object) -> bool:
        """Whether `holder` has a training slot now."""
        with self._lock:
            return id(holder) in self._holders

    def acquire(self, holder: object) -> None:
        while True:
            limit = self.limit
            with self._lock:
                if id(holder) in self._holders:
                    return
                if len(self._holders) < limit:
                    self._holders.add(id(holder))
                    return
                active = len(self._holders)
            if self._reclaim is None or not self._reclaim():  # outside the lock: reclaiming releases a slot
                raise CapacityError(
                    f"This server is already running {active} training(s), its limit "
                    f"({limit}; set by {ENV_MAX_TRAININGS}, default: the number of CPU cores). "
                    "Stop a run in another tab, or wait for one to finish, then press Start again."
                )

    def release(self, holder: object) -> None:
        with self._lock:
            self._holders.discard(id(holder))


CAPACITY = CapacityLimiter()  # the server-wide one


def threads_per_training(capacity: CapacityLimiter | None = None) -> int:
    """torch intra-op threads for each training: GENLAB_TORCH_THREADS, else CPU cores ÷ the cap.

    With the default cap (one training per core) that is 1 thread each. Oversubscribing cores
    with OpenMP threads is catastrophic, not just slower: on this 2-core machine with other work
    running, a ring GAN made ~200 steps/s with 1 thread and ~3 steps/s with 2 (spinning OpenMP
    barriers). A single-user desktop can set GENLAB_MAX_TRAININGS=1 to give one run every core.
    """
    return positive_int_from_env(ENV_TORCH_THREADS) or max(1, (os.cpu_count() or 1) // (capacity or CAPACITY).limit)
