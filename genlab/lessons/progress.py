"""A student's way through one lesson, judged live on the run the Train page shows.

Steps go in order. The current step's condition is checked on the metrics recorded since it began (or
since the run's settings last changed, or since a Reset started a fresh run), so a step is judged by
what its change did; once met it stays ticked and the next step begins at that training step. A step
without a condition waits for the student to go on (`next_step`). The lesson's challenge is judged
on the current run from its first step: passed when its condition is met within its step (and time)
budget, failed once the budget is spent.
"""
from __future__ import annotations

import dataclasses

from genlab.config import RunConfig
from genlab.lessons.conditions import History
from genlab.lessons.schema import Challenge, Lesson

PASSED, FAILED, OPEN = "passed", "failed", "open"


@dataclasses.dataclass
class Progress:
    lesson_id: str
    met_at: list[int | None]  # per step: the run's step at which it was done (None: not yet)
    skipped: set[int] = dataclasses.field(default_factory=set)  # steps left with their condition unmet
    current: int = 0  # the first step not done (len(steps) when all are)
    run_id: int = -1  # the run the current step is judged on
    since: int = 0  # judged on metrics recorded after this step of that run
    checked: int = 0  # steps up to here were checked already
    config: RunConfig | None = None  # the run's settings at the last check
    challenge_run: int = -1
    challenge_checked: int = 0
    challenge_met: int | None = None
    challenge_in_time: bool = True

    @classmethod
    def start(cls, lesson: Lesson) -> Progress:
        return cls(lesson.id, [None] * len(lesson.steps))

    def was_skipped(self, index: int) -> bool:
        return index in self.skipped

    @property
    def finished(self) -> bool:
        return self.current >= len(self.met_at)


def advance(progress: Progress, lesson: Lesson, run_id: int, step: int, history: History,
            config: RunConfig) -> Progress:
    """Tick every step whose condition the run has met since the last call; returns `progress`."""
    if run_id != progress.run_id or step < progress.checked:  # a fresh run: judge it from its start
        progress.run_id, progress.since, progress.checked = run_id, 0, 0
    elif progress.config is not None and config != progress.config:  # a setting moved: judge what follows
        progress.since = progress.checked = max(progress.since, step)
    progress.config = config
    while not progress.finished:
        condition = lesson.steps[progress.current].condition
        if condition is None:
            break  # the student says when to go on
        met = condition.first_met(history, progress.since, progress.checked, config)
        if met is None:
            progress.checked = max(progress.checked, step)
            break
        progress.met_at[progress.current] = met
        progress.current += 1
        progress.since = progress.checked = met
    return progress


def next_step(progress: Progress, step: int, skipping: bool = False) -> Progress:
    """The student goes on from the current step at `step`: one without a condition, or (`skipping`)
    one whose condition is not met, which is then marked skipped, not done."""
    if not progress.finished:
        progress.met_at[progress.current] = step
        if skipping:
            progress.skipped.add(progress.current)
        progress.current += 1
        progress.since = progress.checked = max(progress.since, step)
    return progress


def judge_challenge(progress: Progress, challenge: Challenge, run_id: int, step: int, elapsed_s: float,
                    history: History, config: RunConfig) -> str:
    """PASSED, FAILED or OPEN for the current run (a fresh run is a fresh attempt)."""
    if run_id != progress.challenge_run or step < progress.challenge_checked:
        progress.challenge_run, progress.challenge_checked, progress.challenge_met = run_id, 0, None
        progress.challenge_in_time = True
    if progress.challenge_met is None:
        met = challenge.condition.first_met(history, 0, progress.challenge_checked, config)
        progress.challenge_checked = max(progress.challenge_checked, step)
        if met is not None:
            progress.challenge_met = met
            progress.challenge_in_time = challenge.minutes is None or elapsed_s <= challenge.minutes * 60
    return challenge_status(challenge, progress.challenge_met, progress.challenge_in_time, step, elapsed_s)


def challenge_status(challenge: Challenge, met_at: int | None, in_time: bool, step: int, elapsed_s: float) -> str:
    if met_at is not None:
        return PASSED if met_at <= challenge.within and in_time else FAILED
    over_time = challenge.minutes is not None and elapsed_s > challenge.minutes * 60
    return FAILED if step > challenge.within or over_time else OPEN

