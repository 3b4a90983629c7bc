"""Lesson files: the shipped ones load and are reachable; a malformed one is named, field and problem."""
from __future__ import annotations

import textwrap

import pytest

from genlab.lessons import LESSONS_DIR, LessonError, load_lesson, load_lessons
from genlab.lessons.progress import FAILED, OPEN, PASSED, Progress, advance, judge_challenge, next_step
from genlab.lessons.rehearsal import play_challenge, rehearse
from genlab.presets import config_for
from tests.test_lesson_conditions import series

GOOD = """
title = "A lesson"
goal = "Learn something."

[setup]
family = "gan"
dataset = "ring"
r1 = 0.5

[controls]
lock = ["r1"]

[[steps]]
text = "Press Start."
when = "loss/d < 2"
within = 100

[[steps]]
text = "Read this."

[[steps]]
text = "Move R1."
do = { r1 = 1 }
when = "r1 >= 1 and range(loss/d over 10 steps) < 0.5"
within = 100

[challenge]
text = "Be quick."
when = "loss/d < 1"
within = 50
"""


def write(folder, text: str, name: str = "a-lesson.toml"):
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_lesson_loads_with_its_setup_steps_and_challenge(tmp_path):
    lesson = load_lesson(write(tmp_path, GOOD))
    assert (lesson.id, lesson.title, len(lesson.steps)) == ("a-lesson", "A lesson", 3)
    assert lesson.params() == {"family": "gan", "dataset": "ring", "r1": "0.5", "lock": "r1", "lesson": "a-lesson"}
    assert lesson.config(lesson.steps[2].do).objective.r1_gamma == 1.0
    assert lesson.steps[1].condition is None and lesson.steps[2].within == 100
    assert lesson.challenge.within == 50 and not lesson.steps[2].needs_reset()


MALFORMED = [  # (change to GOOD, the field the error names, words in the problem)
    (("title = \"A lesson\"", ""), "title", "missing"),
    (("title = \"A lesson\"", "title = 3"), "title", "non-empty text"),
    (("goal = \"Learn something.\"", "goal = \"Learn.\"\ncolour = \"red\""), "colour", "unknown field"),
    (("dataset = \"ring\"", ""), "setup", "family and the dataset"),
    (("r1 = 0.5", "r1 = -2"), "setup.r1", "[0, 1000]"),
    (("r1 = 0.5", "beta = 2"), "setup.beta", "VAE setting"),
    (("r1 = 0.5", "warp = 9"), "setup.warp", "not a genlab setting"),
    (("lock = [\"r1\"]", "lock = [\"r1\", \"turbo\"]"), "controls.lock", "'turbo' is not a control"),
    (("lock = [\"r1\"]", "lock = \"r1\""), "controls.lock", "list of control names"),
    (("when = \"loss/d < 2\"", "when = \"avg(loss/d over 5 steps) < 2\""), "steps[1].when", "unknown aggregate"),
    (("when = \"loss/d < 2\"", "when = \"loss/d < lots\""), "steps[1].when", "not a number"),
    (("within = 100\n\n[[steps]]\ntext = \"Read this.\"", "within = 0\n\n[[steps]]\ntext = \"Read this.\""),
     "steps[1].within", "from 1 to"),
    (("text = \"Read this.\"", "text = \"Read this.\"\nwithin = 5"), "steps[2].within", "only means something"),
    (("do = { r1 = 1 }", "do = { r1 = \"high\" }"), "steps[3].do.r1", "finite number"),
    (("do = { r1 = 1 }", "do = { r1 = 1 }\npage = \"moon\""), "steps[3].page", "must be one of"),
    (("text = \"Read this.\"", "txt = \"Read this.\""), "steps[2].txt", "unknown field"),
    (("when = \"loss/d < 1\"\nwithin = 50", "within = 50"), "challenge.when", "missing"),
    (("within = 50", "within = 50\nminutes = -1"), "challenge.minutes", "(0, 600]"),
]


@pytest.mark.parametrize("change, field, words", MALFORMED, ids=[m[1] + ":" + m[2] for m in MALFORMED])
def test_a_malformed_lesson_names_its_file_field_and_problem(tmp_path, change, field, words):
    old, new = change
    assert old in GOOD
    with pytest.raises(LessonError) as caught:
        load_lesson(write(tmp_path, GOOD.replace(old, new, 1)))
    assert caught.value.file == f"{tmp_path.name}/a-lesson.toml" and caught.value.field == field
    assert words in caught.value.problem, caught.value.problem


@pytest.mark.parametrize("text, name, words", [
    ("title = ", "broken.toml", "cannot be read as TOML"),
    ("\xff\xfe", "binary.toml", "cannot be read as TOML"),
    (GOOD, "Bad Name.toml", "lower-case letters"),
    ("x = '" + "a" * 70_000 + "'", "huge.toml", "larger than"),
], ids=["syntax", "binary", "file name", "size"])
def test_an_unreadable_file_is_named(tmp_path, text, name, words):
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    with pytest.raises(LessonError, match=words):
        load_lesson(path)


def test_steps_are_three_to_six(tmp_path):
    two = GOOD.split("[[steps]]\ntext = \"Move R1.\"")[0].split("[challenge]")[0]
    with pytest.raises(LessonError, match="3 to 6"):
        load_lesson(write(tmp_path, two))


def test_a_folder_loads_the_good_lessons_and_reports_the_bad(tmp_path):
    write(tmp_path, GOOD, "good.toml")
    write(tmp_path, GOOD.replace("r1 = 0.5", "r1 = 'x'"), "bad.toml")
    lessons, errors = load_lessons(tmp_path)
    assert [lesson.id for lesson in lessons] == ["good"] and [e.file for e in errors] == [f"{tmp_path.name}/bad.toml"]


def test_the_shipped_lessons_load_and_cover_the_write_up():
    lessons, errors = load_lessons(LESSONS_DIR)
    assert errors == []
    assert len(lessons) >= 6
    topics = " ".join(lesson.title.lower() + lesson.goal.lower() for lesson in lessons)
    for needed in ("non-saturating", "mode collapse", "r1", "spectral normalization", "β", "slerp"):
        assert needed in topics, needed


def test_progress_ticks_steps_in_order_and_judges_the_challenge(tmp_path):
    lesson = load_lesson(write(tmp_path, GOOD))
    config = config_for("gan", "ring", dotted={"objective.r1_gamma": 0.5})
    history = {"loss/d": series(range(1, 41), [1.5] * 20 + [1.2, 1.0] * 10)}
    progress = advance(Progress.start(lesson), lesson, 1, 40, history, config)
    assert progress.met_at == [1, None, None] and progress.current == 1  # step 2 waits for the student
    next_step(progress, 40)
    assert progress.met_at[1] == 40 and not progress.was_skipped(1)  # a step without a condition: gone on
    advance(progress, lesson, 1, 40, history, config)
    assert progress.current == 2  # r1 is still 0.5: step 3 not met
    moved = config.replace(**{"objective.r1_gamma": 1.0})
    advance(progress, lesson, 1, 40, history, moved)  # the student moves R1 at step 40: judged from there
    assert progress.current == 2
    history["loss/d"] = series(range(1, 61), [1.5] * 20 + [1.2, 1.0] * 20)
    advance(progress, lesson, 1, 60, history, moved)
    assert progress.finished and progress.met_at[2] == 50  # the first 10-step window wholly after step 40
    assert judge_challenge(progress, lesson.challenge, 1, 30, 0.0, {"loss/d": series([30], [1.2])}, config) == OPEN
    assert judge_challenge(progress, lesson.challenge, 1, 60, 0.0, history, config) == FAILED  # < 1 never reached
    fast = {"loss/d": series([10, 20], [1.1, 0.9])}
    skipping = Progress.start(lesson)
    next_step(skipping, 3, skipping=True)
    assert skipping.met_at[0] == 3 and skipping.was_skipped(0) and not skipping.was_skipped(1)
    assert judge_challenge(progress, lesson.challenge, 2, 20, 0.0, fast, config) == PASSED  # a fresh run
    assert progress.challenge_met == 20


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(LESSONS_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_lesson_is_reachable_within_its_budgets(path):
    """A diligent student's run, headless through the training loop: each condition met within its budget."""
    outcomes = rehearse(load_lesson(path))
    assert outcomes and all(outcome.met for outcome in outcomes), [str(o) for o in outcomes]


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in sorted(LESSONS_DIR.glob("*.toml")) if load_lesson(p).challenge],
                         ids=lambda p: p.stem)
def test_no_shipped_challenge_is_passed_by_the_lessons_setup_alone(path):
    """The mode-collapse challenge was passed at step 1,200 by the setup it asks the student to fix."""
    outcome = play_challenge(load_lesson(path), {})
    assert not outcome.met, str(outcome)
