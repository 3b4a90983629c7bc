"""The server-wide registry of live runs, keyed by tab token, so that a run outlives its connection.

Streamlit releases a session's resources on every websocket disconnect, even when the same tab
reconnects a second later (a Wi-Fi blip, a laptop waking up). So the app keeps each tab's
TrainingRunner here instead: the page keeps its tab token in its URL, and a reconnect or a reload of
the same tab attaches to the same runner again (pages/shared.py). Sessions `attach` and `detach`;
a runner with no session attached keeps training for a grace period ($GENLAB_RUNNER_GRACE_S,
default 30 minutes), then it is reaped: its unsaved progress is autosaved (genlab.live.autosave) and
it is closed. Bounded: at most $GENLAB_MAX_IDLE_RUNNERS detached runners are kept (the oldest is
reaped first), and a detached runner gives up its training slot as soon as an attached tab needs one
(genlab.live.capacity), so the capacity limit still holds for the tabs that are open.

A tab token is a capability: whoever has it controls that tab's run. pages/shared.py makes it with
`secrets.token_urlsafe` and keeps it in that tab's URL only; it must never be part of a link meant
for sharing.
"""
from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from genlab.config import ConfigError
from genlab.live.capacity import CAPACITY, CapacityLimiter, positive_int_from_env

if TYPE_CHECKING:
    from genlab.live.runner import TrainingRunner

ENV_GRACE_S = "GENLAB_RUNNER_GRACE_S"
ENV_MAX_IDLE = "GENLAB_MAX_IDLE_RUNNERS"
DEFAULT_GRACE_S = 1800.0
DEFAULT_MAX_IDLE = 16
MAX_REAPER_WAIT_S = 60.0
log = logging.getLogger(__name__)


def grace_from_env() -> float:
    """$GENLAB_RUNNER_GRACE_S: seconds a runner no session is attached to is kept (0: reaped at once)."""
    raw = os.environ.get(ENV_GRACE_S, "").strip()
    if not raw:
        return DEFAULT_GRACE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigError(ENV_GRACE_S, raw, "must be a number of seconds, 0 or more")
    return value


@dataclass(frozen=True)
class Attachment:
    """One session's hold on the runner of tab `token` (what it hands back to `detach`)."""

    token: str
    lease: str
    runner: TrainingRunner
    kept: dict[str, Any]  # what the tab's pages keep with its run across reloads (a lesson's progress)


@dataclass
class _Entry:
    runner: TrainingRunner
    kept: dict[str, Any] = field(default_factory=dict)
    leases: set[str] = field(default_factory=set)
    detached_at: float | None = None  # when the last session detached (None: a session is attached)


class RunnerRegistry:
    """Runners by tab token; thread-safe. `attach` and `detach` are quick (detach runs on Streamlit's
    event loop); autosaving and closing happen in a reaper thread or in the caller of `reclaim_slot`."""

    def __init__(self, capacity: CapacityLimiter | None = None, clock: Callable[[], float] = time.monotonic):
        self._capacity = capacity or CAPACITY
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._entries: dict[str, _Entry] = {}
        self._grace_s, self._max_idle = DEFAULT_GRACE_S, DEFAULT_MAX_IDLE
        self._reaper: threading.Thread | None = None

    def attach(self, token: str, make_runner: Callable[[], TrainingRunner]) -> Attachment:
        """Attach a session to the runner of `token`, made with `make_runner()` if there is none (or it
        was reaped). Reads the grace period and idle bound from the environment (ConfigError if invalid)."""
        grace_s, max_idle = grace_from_env(), positive_int_from_env(ENV_MAX_IDLE) or DEFAULT_MAX_IDLE
        lease = secrets.token_hex(8)
        with self._lock:
            self._grace_s, self._max_idle = grace_s, max_idle
            entry = self._entries.get(token)
            if entry is not None:
                entry.leases.add(lease)
                entry.detached_at = None
                return Attachment(token, lease, entry.runner, entry.kept)
        runner = make_runner()  # builds a trainer: not under the lock
        with self._lock:
            entry = self._entries.setdefault(token, _Entry(runner))
            entry.leases.add(lease)
            entry.detached_at = None
        if entry.runner is not runner:  # another session of this tab made one meanwhile
            runner.close(timeout=0)
        return Attachment(token, lease, entry.runner, entry.kept)

    def detach(self, attachment: Attachment) -> None:
        """The session of `attachment` went away; with no session left, the grace period starts."""
        with self._lock:
            entry = self._entries.get(attachment.token)
            if entry is None or attachment.lease not in entry.leases:
                return
            entry.leases.discard(attachment.lease)
            if not entry.leases:
                entry.detached_at = self._clock()
                if self._reaper is None:
                    self._reaper = threading.Thread(target=self._reap_loop, name="genlab-runner-reaper", daemon=True)
                    self._reaper.start()
                self._wake.notify_all()

    def runner_of(self, token: str) -> TrainingRunner | None:
        with self._lock:
            entry = self._entries.get(token)
            return None if entry is None else entry.runner

    def detached_count(self) -> int:
        with self._lock:
            return sum(1 for entry in self._entries.values() if entry.detached_at is not None)

    def reclaim_slot(self) -> bool:
        """Reap the detached runner that has held a training slot the longest; True if there was one."""
        with self._lock:
            holders = [(token, entry) for token, entry in self._entries.items()
                       if entry.detached_at is not None and self._capacity.holds(entry.runner)]
            if not holders:
                return False
            token, entry = min(holders, key=lambda item: item[1].detached_at)
            del self._entries[token]
        self._close(entry)
        return True

    def reap_due(self) -> int:
        """Reap the runners whose grace period is over, and the oldest detached beyond the bound; how many."""
        with self._lock:
            due = self._take_due_locked()
        for entry in due:
            self._close(entry)
        return len(due)

    def close_all(self, timeout: float = 5.0) -> None:
        """Autosave and close every runner (the server is stopping); the reaper thread ends (a later
        detach starts another)."""
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
            reaper, self._reaper = self._reaper, None  # the reaper thread ends when it sees it is not the one
            self._wake.notify_all()
        if reaper is not None:
            reaper.join(timeout)
        for entry in entries:
            self._close(entry, timeout)

    # --- internals --------------------------------------------------------------------------------
    def _take_due_locked(self) -> list[_Entry]:
        now = self._clock()
        detached = sorted(((entry.detached_at, token) for token, entry in self._entries.items()
                           if entry.detached_at is not None))
        over_bound = {token for _, token in detached[: max(0, len(detached) - self._max_idle)]}
        due = [token for since, token in detached if now - since >= self._grace_s or token in over_bound]
        return [self._entries.pop(token) for token in due]

    def _next_wait_locked(self) -> float:
        deadlines = [entry.detached_at + self._grace_s for entry in self._entries.values()
                     if entry.detached_at is not None]
        return min([MAX_REAPER_WAIT_S] + [max(0.0, d - self._clock()) for d in deadlines])

    def _reap_loop(self) -> None:
        while True:
            with self._lock:
                if self._reaper is not threading.current_thread():
                    return
                due = self._take_due_locked()
                if not due:
                    self._wake.wait(self._next_wait_locked())
                    continue
            for entry in due:
                self._close(entry)

    @staticmethod
    def _close(entry: _Entry, timeout: float = 30.0) -> None:
        """Autosave the runner's unsaved progress, then close it; failures are logged, never raised."""
        try:
            entry.runner.autosave_now()
        except Exception:  # noqa: BLE001 - closing must go on
            log.exception("autosave before closing a runner failed")
        try:
            entry.runner.close(timeout=timeout)
        except Exception:  # noqa: BLE001
            log.exception("closing a runner failed")


REGISTRY = RunnerRegistry()  # the server-wide one
CAPACITY.set_reclaimer(REGISTRY.reclaim_slot)
atexit.register(REGISTRY.close_all)
