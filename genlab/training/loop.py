"""The one training loop: the app's runner, the CLI, the MIG experiment and the benchmark all train
through `run()`. What differs between them is which hooks they pass and whether a gate holds steps.

    result = run(trainer, until=3000, hooks=[HistoryHook(history), ProgressHook(3000)])
    if result.reason == DIVERGED:
        print(result.error)

Per step: enter `gate()` (it may block, e.g. while paused, or say stop), take one step (inside
`trainer.autocast()`: bf16 where the run's precision says so), then each
hook's `on_step` in list order, still inside the gate (the live runner holds its trainer lock
there, so no other thread touches the trainer while hooks read it).

A diverging step (NaN/Inf in a loss or gradient norm) is rolled back whole: the loop keeps a
snapshot of the trainer (genlab.training.snapshot) taken when run() starts, every `snapshot_every`
steps and before the first step under changed live settings, and restores it; the error then says
which step the run went back to, and the hooks' on_divergence see the restored trainer. A step that
does not read its gradient norms (genlab.trainers.GRADIENT_NORM_EVERY) leaves a non-finite gradient to
show in the next step's loss; so before the loop keeps a snapshot after such a step, or hands the
trainer back, it checks the weights (`check_weights_after_unread_gradients`) and rolls back on NaN/Inf.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from genlab.trainers import DivergenceError
from genlab.training.snapshot import SNAPSHOT_EVERY, Snapshot

REACHED, STOPPED, DIVERGED = "reached", "stopped", "diverged"  # why run() returned
INTERRUPTED, FAILED = "interrupted", "failed"  # on_end only: run() re-raises the exception
STEP_KINDS = ("both", "d", "g")  # a full step; for GANs also a discriminator-only or generator-only one

Gate = Callable[[], AbstractContextManager[bool]]


@dataclass(frozen=True)
class RunResult:
    reason: str  # REACHED (step `until`), STOPPED (the gate said so), DIVERGED; INTERRUPTED / FAILED in on_end
    steps: int  # good steps taken by this call (those after a rollback's step included)
    metrics: Mapping[str, float] = field(default_factory=dict)  # the last step's metrics ({} if none)
    error: BaseException | None = None  # the DivergenceError, rolled_back_to set (or the exception that ended the run)


class Hook:
    """Something that happens around training steps. Override what you need; all default to nothing.

    on_step and on_divergence run inside the gate, on_start and on_end outside it (where the caller
    called run()). A hook must not draw from the trainer's random generator: that would change
    training, and a run must be the same whichever hooks watched it.
    """

    def on_start(self, trainer) -> None:
        pass

    def on_step(self, trainer, metrics: Mapping[str, float]) -> None:
        pass

    def on_divergence(self, trainer, error: DivergenceError) -> None:
        """After the rollback: the trainer is back at step error.rolled_back_to."""

    def on_end(self, trainer, result: RunResult) -> None:
        pass


def _always_open() -> AbstractContextManager[bool]:
    return nullcontext(True)


def step_function(trainer, kind: str = "both") -> Callable[[], dict[str, float]]:
    """trainer.step, or for GANs step_d / step_g; ValueError for anything else."""
    if kind not in STEP_KINDS:
        raise ValueError(f"step kind must be one of {', '.join(STEP_KINDS)}, got {kind!r}")
    if kind == "both":
        return trainer.step
    if not hasattr(trainer, f"step_{kind}"):
        raise ValueError("D-only and G-only steps exist for GANs only")
    return getattr(trainer, f"step_{kind}")


def run(trainer, *, until: int | None = None, hooks: Sequence[Hook] = (), gate: Gate = _always_open,
        kind: str = "both", snapshot_every: int = SNAPSHOT_EVERY) -> RunResult:
    """Train `trainer` until its step count reaches `until` (None: until the gate says stop) or a
    step diverges (the trainer is restored to its last snapshot, then the DivergenceError goes to the
    hooks and into the result). `gate()` is entered before each step and yields True to take it,
    False to stop. KeyboardInterrupt and other exceptions reach the hooks' on_end, then propagate."""
    take_step = step_function(trainer, kind)
    steps, metrics, result = 0, {}, None
    for hook in hooks:
        hook.on_start(trainer)
    try:
        snapshot = Snapshot(trainer)
        while result is None and (until is None or trainer.step_count < until):
            with gate() as go:
                if not go:
                    break
                try:
                    if trainer.config is not snapshot.config:  # a live setting changed: keep the state before it
                        trainer.check_weights_after_unread_gradients()
                        snapshot = Snapshot(trainer, replacing=snapshot)
                    with trainer.autocast():
                        metrics = take_step()
                    if trainer.step_count % snapshot_every == 0:
                        trainer.check_weights_after_unread_gradients()
                        snapshot = Snapshot(trainer, replacing=snapshot)
                    steps += 1
                except DivergenceError as error:
                    result = _roll_back(trainer, snapshot, error, hooks, steps, metrics)
                    break
                for hook in hooks:
                    hook.on_step(trainer, metrics)
        if result is None:  # the state handed back was checked too
            try:
                trainer.check_weights_after_unread_gradients()
                reached = until is not None and trainer.step_count >= until
                result = RunResult(REACHED if reached else STOPPED, steps, metrics)
            except DivergenceError as error:
                result = _roll_back(trainer, snapshot, error, hooks, steps, metrics)
    except BaseException as error:
        reason = INTERRUPTED if isinstance(error, KeyboardInterrupt) else FAILED
        _end(trainer, hooks, RunResult(reason, steps, metrics, error))
        raise
    return _end(trainer, hooks, result)


def _roll_back(trainer, snapshot: Snapshot, error: DivergenceError, hooks: Sequence[Hook], steps: int,
               metrics: dict) -> RunResult:
    """Restore the trainer to `snapshot` after `error` and tell the hooks."""
    snapshot.restore(trainer)
    error = error.rolled_back(snapshot.step)
    for hook in hooks:
        hook.on_divergence(trainer, error)
    return RunResult(DIVERGED, steps, metrics, error)


def _end(trainer, hooks: Sequence[Hook], result: RunResult) -> RunResult:
    for hook in hooks:
        hook.on_end(trainer, result)
    return result
