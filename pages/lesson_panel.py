"""The lesson panel beside the Train page's live view: the open lesson's steps, each ticked live when its
condition is met (genlab.lessons.progress), and its challenge's pass / fail. Not a page.

    with beside_lesson(refresh_s):   # the live view goes in the wide column
        ...
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import streamlit as st

from genlab.config import knob_by_key
from genlab.lessons import Lesson
from genlab.lessons.progress import FAILED, PASSED, Progress, advance, judge_challenge, next_step
from pages.shared import session_runner, tab_kept
from pages.train_share import PROGRESS_KEY, apply_settings, close_lesson, current_lesson

ss = st.session_state
RERUN_KEY = "lesson.rerun"  # a button changed the run: redraw the whole page, not only the panel
CHALLENGE_KEY = "lesson.challenge"  # the last verdict, for the report
PAGES = {"latent": "pages/latent.py", "runs": "pages/runs.py", "home": "pages/home.py"}
WINDOW_STEPS = 2000  # steps of full-resolution history the panel reads per check


@contextlib.contextmanager
def beside_lesson(refresh_s: float | None) -> Iterator[None]:
    """With a lesson open: its panel in a narrow right column (refreshed every `refresh_s` s, or only
    when something is clicked if None) and the block inside in the wide left one; without, the block as
    it is."""
    if current_lesson() is None:
        yield
        return
    main, side = st.columns([3, 1], gap="medium")
    with side:
        st.fragment(run_every=refresh_s)(lesson_panel)()
    with main:
        yield


def describe(settings: dict[str, str]) -> str:
    """"R1 γ = 1, GAN loss = non-saturating" for a step's settings."""
    parts = []
    for key, value in settings.items():
        knob = knob_by_key(key)
        shown = knob.choice_label(value) if knob.choices and knob.kind is str else value
        parts.append(f"{knob.label} = {shown}")
    return ", ".join(parts)


def lesson_panel() -> None:
    if ss.pop(RERUN_KEY, False):
        st.rerun()
    lesson, runner = current_lesson(), session_runner()
    if lesson is None:
        return
    progress = ss.setdefault(PROGRESS_KEY, Progress.start(lesson))
    tab_kept()[PROGRESS_KEY] = progress  # the same object: a reload of the tab goes on from here
    snap = runner.snapshot(last_steps=WINDOW_STEPS)
    advance(progress, lesson, runner.run_id, snap.step, snap.history, snap.config)
    st.subheader(lesson.title)
    st.caption(lesson.goal)
    for index, step in enumerate(lesson.steps):
        with st.container(border=index == progress.current):
            _step(lesson, progress, index, snap)
    if lesson.challenge is not None:
        verdict = judge_challenge(progress, lesson.challenge, runner.run_id, snap.step, snap.elapsed_s,
                                  snap.history, snap.config)
        ss[CHALLENGE_KEY] = verdict
        _challenge(lesson, verdict, progress, snap.step)
    st.button("Close the lesson", key="lesson.close", on_click=_close, type="tertiary")


def lesson_notes() -> list[str]:
    """The open lesson's progress as lines for the run report."""
    lesson, progress = current_lesson(), ss.get(PROGRESS_KEY)
    if lesson is None or progress is None:
        return []
    lines = [f"Lesson: {lesson.title}"]
    for index, step in enumerate(lesson.steps):
        met = progress.met_at[index]
        if progress.was_skipped(index):
            mark, when = "»", f" (skipped at step {met:,}, not met)"
        else:
            mark = "✓" if met is not None else "·"
            when = f" (done at step {met:,})" if met is not None and step.condition is not None else ""
        lines.append(f"{mark} Step {index + 1}{when}: {step.text.splitlines()[0][:120]}")
    if lesson.challenge is not None:
        lines.append(f"Challenge ({ss.get(CHALLENGE_KEY, 'open')}): {lesson.challenge.text}")
    return lines


def _step(lesson: Lesson, progress: Progress, index: int, snap) -> None:
    step, met, skipped = lesson.steps[index], progress.met_at[index], progress.was_skipped(index)
    mark = "⏭️" if skipped else "✅" if met is not None else ("▶️" if index == progress.current else "○")
    st.markdown(f"{mark} **Step {index + 1}.** {step.text}")
    if skipped:
        st.caption(f"Skipped at step {met:,}, not met: `{step.condition.text}`")
    elif met is not None and step.condition is not None:
        st.caption(f"Done at step {met:,}: `{step.condition.text}`")
    if index != progress.current:
        return
    if step.do:
        fresh = step.needs_reset()
        st.button(f"Do it: {describe(step.do)}" + (" (fresh run)" if fresh else ""), key=f"lesson.do.{index}",
                  on_click=_apply, args=(dict(step.do), fresh))
    if step.page:
        st.page_link(PAGES[step.page], label=f"Open the {step.page.capitalize()} page")
    if step.condition is None:
        st.button("Next step", key=f"lesson.next.{index}", on_click=_next)
        return
    readings = step.condition.readings(snap.history, snap.step, progress.since, snap.config)
    st.caption("Waiting for: " + " and ".join(f"`{clause}` (now {now})" for clause, now in readings)
               + f" — usually within {step.within:,} steps.")
    st.button("Skip this step", key=f"lesson.skip.{index}", on_click=_next, args=(True,), type="tertiary")


def _challenge(lesson: Lesson, verdict: str, progress: Progress, step_now: int) -> None:
    challenge = lesson.challenge
    st.markdown(f"**Challenge.** {challenge.text}")
    budget = f"{challenge.within:,} steps" + (f" and {challenge.minutes:g} min" if challenge.minutes else "")
    if verdict == PASSED:
        st.success(f"Passed: met at step {progress.challenge_met:,} (budget {budget}).", icon=":material/check:")
    elif verdict == FAILED:
        st.error(f"Not passed in this run (budget {budget}). Change something, press Reset and try again.",
                 icon=":material/close:")
    else:
        st.info(f"In progress: step {step_now:,} of {challenge.within:,}. Checking `{challenge.condition.text}`.")
    if challenge.solution:
        with st.popover("For teachers: a setting that passes"):
            st.markdown(describe(dict(challenge.solution)))


def _apply(settings: dict[str, str], fresh: bool) -> None:
    apply_settings(session_runner(), settings, fresh)
    ss[RERUN_KEY] = True


def _next(skipping: bool = False) -> None:
    next_step(ss[PROGRESS_KEY], session_runner().step_count, skipping)


def _close() -> None:
    close_lesson()
    ss[RERUN_KEY] = True
