"""A lesson played headless, as a diligent student would: its setup, each step's settings in order, the
challenge with its solution; every condition checked on the run's metrics as the Train page checks it.

    outcomes = rehearse(lesson)              # one Outcome per condition
    assert all(o.met for o in outcomes), [str(o) for o in outcomes]
    assert not play_challenge(lesson, {}).met  # the setup alone does not pass the challenge

Training goes through genlab.training.run with the app's metric hooks (history, quality), and the
conditions through genlab.lessons.progress, so a lesson that passes here ticks on the page too
(same seed, same steps; only a different thread count can change the last digits).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from genlab.config import get_dotted, knob_by_key
from genlab.lessons.progress import OPEN, PASSED, Progress, advance, judge_challenge, next_step
from genlab.lessons.schema import Lesson
from genlab.training import HistoryHook, MetricHistory, QualityHook, run
from genlab.training.history import RECENT_POINTS

CHECK_EVERY = 25  # steps between two checks (the page checks about twice a second)


@dataclasses.dataclass(frozen=True)
class Outcome:
    what: str  # "steps[2]" or "challenge"
    condition: str
    within: int
    met_after: int | None  # training steps the condition took (None: not met within its budget)

    @property
    def met(self) -> bool:
        return self.met_after is not None

    def __str__(self) -> str:
        result = f"met after {self.met_after} steps" if self.met else "NOT met"
        return f"{self.what}: {self.condition!r} {result} (budget {self.within})"


class _Run:
    """The trainer a student has on the page now, with its metric history."""

    def __init__(self, lesson: Lesson, settings: Mapping[str, str], make_trainer: Callable, run_id: int):
        from genlab.trainers import make_trainer as default_make  # torch: only when rehearsing

        self.trainer = (make_trainer or default_make)(lesson.config(settings))
        self.history = MetricHistory()
        self.hooks = [HistoryHook(self.history), QualityHook(self.history)]
        self.run_id = run_id

    def train(self, steps: int) -> bool:
        """Train `steps` more steps; False when it diverged."""
        return run(self.trainer, until=self.trainer.step_count + steps, hooks=self.hooks).error is None

    def recent(self):
        return self.history.display(RECENT_POINTS, self.trainer.step_count)


def rehearse(lesson: Lesson, make_trainer: Callable | None = None, check_every: int = CHECK_EVERY) -> list[Outcome]:
    """Play every step of `lesson` in order, then its challenge; one Outcome per condition."""
    settings: dict[str, str] = {}
    current = _Run(lesson, settings, make_trainer, run_id=0)
    progress = Progress.start(lesson)
    outcomes = []
    for index, step in enumerate(lesson.steps):
        settings.update(step.do)
        if step.needs_reset():
            current = _Run(lesson, settings, make_trainer, current.run_id + 1)
        elif step.do:
            config = lesson.config(settings)
            current.trainer.update(**{knob_by_key(k).path: get_dotted(config, knob_by_key(k).path) for k in step.do})
        if step.condition is None:
            next_step(progress, current.trainer.step_count)
            continue
        began = current.trainer.step_count
        while progress.current == index and current.trainer.step_count - began < step.within:
            advance(progress, lesson, current.run_id, current.trainer.step_count, current.recent(), current.trainer.config)
            if progress.current == index and not current.train(min(check_every, began + step.within - current.trainer.step_count)):
                break
        advance(progress, lesson, current.run_id, current.trainer.step_count, current.recent(), current.trainer.config)
        met = progress.met_at[index]
        outcomes.append(Outcome(f"steps[{index + 1}]", step.condition.text, step.within,
                                None if met is None else met - (0 if step.needs_reset() else began)))
        if met is None:
            next_step(progress, current.trainer.step_count, skipping=True)  # the student skips it and goes on
    if lesson.challenge is not None:
        outcomes.append(play_challenge(lesson, lesson.challenge.solution, make_trainer, check_every))
    return outcomes


def play_challenge(lesson: Lesson, settings: Mapping[str, str], make_trainer: Callable | None = None,
                   check_every: int = CHECK_EVERY) -> Outcome:
    """The lesson's challenge tried on a fresh run of its setup with `settings` on top (its solution, or
    nothing: the setup alone should not pass)."""
    challenge = lesson.challenge
    current = _Run(lesson, settings, make_trainer, run_id=0)
    progress = Progress.start(lesson)
    while True:
        status = judge_challenge(progress, challenge, 0, current.trainer.step_count, 0.0, current.recent(),
                                 current.trainer.config)
        if status != OPEN or not current.train(check_every):
            break
    met = progress.challenge_met if status == PASSED else None
    return Outcome("challenge", challenge.condition.text, challenge.within, met)
