"""A lesson file (lessons/<id>.toml) and the one schema that checks it.

    title = "Minimax vs non-saturating"          # required
    goal = "See why G's loss matters early on."   # required
    order = 1                                     # optional: place on the Lessons page (then the file name)

    [setup]                # required: the run, in the vocabulary of shareable links (genlab.share)
    family = "gan"
    dataset = "ring"
    loss = "minimax"

    [controls]             # optional: control names (knob keys, or setup / live) students see
    show = ["loss", "lr-d"]   # only these (default: all)
    hide = ["ema-decay"]      # not these
    lock = ["dataset"]        # shown, not changeable

    [[steps]]              # 3 to 6 of them
    text = "Press **Start** ..."                  # required, markdown
    do = { r1 = 1 }        # optional: the settings this step asks for (a Setup one means a fresh run)
    reset = true           # optional: this step starts a fresh run
    when = "range(loss/d over 500 steps) < 0.05"  # optional: ticks when met (genlab.lessons.conditions)
    within = 1500          # required with `when`: the steps it may take (the lesson's test holds it to that)
    page = "latent"        # optional: a page the step sends students to (latent, runs, home)

    [challenge]            # optional: a clear pass / fail
    text = "Cover 8/8 modes with ≥ 90 % high-quality samples in under 3,000 steps."
    when = "quality/modes_covered >= 8 and quality/high_quality_fraction >= 90%"
    within = 3000          # passes if met by this step of a run
    minutes = 5            # optional: ... and within this much training time
    solution = { r1 = 0.1 }  # optional: settings that pass (teachers; the lesson's test uses them)

Everything wrong gives LessonError naming the file, the field and the problem:
"lessons/r1.toml: steps[2].when: 'avg(loss/d over 5 steps) < 1': unknown aggregate 'avg' ...".
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from genlab.config import RunConfig, knob_by_key
from genlab.lessons.conditions import Condition, ConditionError, parse_condition
from genlab.share import DATASET_KEY, FAMILY_KEY, control_names, format_value, params_to_config

LESSON_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,47}$")
STEPS_RANGE = (3, 6)
MAX_WITHIN = 100_000
PAGES = ("latent", "runs", "home")
TOP_LEVEL = {"title": True, "goal": True, "order": False, "setup": True, "controls": False, "steps": True,
             "challenge": False}  # key -> required
STEP_KEYS = {"text", "do", "reset", "when", "within", "page"}
CHALLENGE_KEYS = {"text", "when", "within", "minutes", "solution"}
CONTROL_KEYS = ("show", "hide", "lock")
MAX_FILE_BYTES = 64_000


class LessonError(ValueError):
    """A lesson file is wrong: which file, which field, what is wrong."""

    def __init__(self, file: str, field: str, problem: str):
        self.file, self.field, self.problem = file, field, problem
        super().__init__(f"{file}: {field}: {problem}" if field else f"{file}: {problem}")


@dataclasses.dataclass(frozen=True)
class Step:
    text: str
    do: Mapping[str, str] = dataclasses.field(default_factory=dict)  # link vocabulary, as text
    reset: bool = False
    condition: Condition | None = None
    within: int = 0
    page: str = ""

    def needs_reset(self) -> bool:
        """Whether the step starts a fresh run (asked for, or it changes a setting that is not live)."""
        return self.reset or any(key in (FAMILY_KEY, DATASET_KEY) or not knob_by_key(key).live for key in self.do)


@dataclasses.dataclass(frozen=True)
class Challenge:
    text: str
    condition: Condition
    within: int
    minutes: float | None = None
    solution: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    goal: str
    setup: Mapping[str, str]  # link vocabulary, as text
    controls: Mapping[str, tuple[str, ...]]  # show / hide / lock -> control names
    steps: tuple[Step, ...]
    challenge: Challenge | None = None
    order: int = 1000

    def params(self) -> dict[str, str]:
        """The lesson as link parameters: its setup, its controls, lesson=<id>."""
        controls = {key: ",".join(names) for key, names in self.controls.items() if names}
        return {**self.setup, **controls, "lesson": self.id}

    def config(self, *changes: Mapping[str, str]) -> RunConfig:
        """The lesson's run, with the settings of `changes` (steps' `do`, a solution) on top, in order."""
        merged = dict(self.setup)
        for change in changes:
            merged.update(change)
        return params_to_config(merged)[0]


def load_lesson(path: Path) -> Lesson:
    """Read and check one lesson file (LessonError for anything wrong, never another exception)."""
    name = f"{path.parent.name}/{path.name}"
    lesson_id = path.stem
    if not LESSON_ID.match(lesson_id):
        raise LessonError(name, "", "the file name must be lower-case letters, digits and '-' (it is the lesson's id)")
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_FILE_BYTES:
            raise LessonError(name, "", f"larger than {MAX_FILE_BYTES:,} bytes")
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LessonError(name, "", f"cannot be read as TOML: {exc}") from None
    return parse_lesson(lesson_id, data, name)


def load_lessons(folder: Path) -> tuple[list[Lesson], list[LessonError]]:
    """Every lesson in `folder` (*.toml), in order, and the errors of those that did not load."""
    lessons, errors = [], []
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            lessons.append(load_lesson(path))
        except LessonError as exc:
            errors.append(exc)
    return sorted(lessons, key=lambda lesson: (lesson.order, lesson.id)), errors


def parse_lesson(lesson_id: str, data: Mapping[str, Any], name: str) -> Lesson:
    """A Lesson from a parsed TOML table (LessonError naming `name` and the field)."""
    def fail(field: str, problem: str) -> LessonError:
        return LessonError(name, field, problem)

    for key, required in TOP_LEVEL.items():
        if required and key not in data:
            raise fail(key, "missing (required)")
    _no_unknown(data, set(TOP_LEVEL), "", fail)
    title, goal = _text(data["title"], "title", fail), _text(data["goal"], "goal", fail)
    order = data.get("order", 1000)
    if isinstance(order, bool) or not isinstance(order, int):
        raise fail("order", "must be a whole number")
    setup = _settings(data["setup"], "setup", fail, base=None)
    if FAMILY_KEY not in setup or DATASET_KEY not in setup:
        raise fail("setup", "must name the family and the dataset")
    controls = _controls(data.get("controls", {}), fail)
    steps = data["steps"]
    if not isinstance(steps, list) or not STEPS_RANGE[0] <= len(steps) <= STEPS_RANGE[1]:
        raise fail("steps", f"must be {STEPS_RANGE[0]} to {STEPS_RANGE[1]} [[steps]] tables")
    parsed = tuple(_step(step, f"steps[{i + 1}]", setup, fail) for i, step in enumerate(steps))
    challenge = _challenge(data["challenge"], setup, fail) if "challenge" in data else None
    return Lesson(lesson_id, title, goal, setup, controls, parsed, challenge, order)


def _no_unknown(table: Mapping[str, Any], known: set[str], where: str, fail) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise fail(f"{where}{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(known))})")


def _text(value: Any, field: str, fail) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(field, "must be non-empty text")
    return value.strip()


def _table(value: Any, field: str, fail) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise fail(field, "must be a table (key = value pairs)")
    return value


def _settings(value: Any, field: str, fail, base: Mapping[str, str] | None) -> dict[str, str]:
    """A table of settings in link vocabulary, as link text, each checked (on top of `base`)."""
    settings = {}
    for key, item in _table(value, field, fail).items():
        if isinstance(item, (dict, list)) or item is None:
            raise fail(f"{field}.{key}", "must be a single value (text, number or true/false)")
        settings[key] = format_value(item)
    _, _, problems = params_to_config(settings, base=base)
    if problems:
        raise fail(f"{field}.{problems[0].key}", f"{problems[0].value!r}: {problems[0].message}")
    return settings


def _controls(value: Any, fail) -> dict[str, tuple[str, ...]]:
    table = _table(value, "controls", fail)
    _no_unknown(table, set(CONTROL_KEYS), "controls.", fail)
    known, out = control_names(), {}
    for key in CONTROL_KEYS:
        names = table.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise fail(f"controls.{key}", "must be a list of control names")
        unknown = [n for n in names if n not in known]
        if unknown:
            raise fail(f"controls.{key}", f"{unknown[0]!r} is not a control (knob keys such as r1, lr-d, or setup / live)")
        out[key] = tuple(names)
    return out


def _condition(value: Any, within: Any, field: str, fail) -> tuple[Condition, int]:
    try:
        condition = parse_condition(value)
    except ConditionError as exc:
        raise fail(f"{field}.when", str(exc)) from None
    if isinstance(within, bool) or not isinstance(within, int) or not 1 <= within <= MAX_WITHIN:
        raise fail(f"{field}.within", f"must be a whole number of steps from 1 to {MAX_WITHIN:,} (required with when)")
    return condition, within


def _step(value: Any, field: str, setup: Mapping[str, str], fail) -> Step:
    table = _table(value, field, fail)
    _no_unknown(table, STEP_KEYS, f"{field}.", fail)
    text = _text(table.get("text"), f"{field}.text", fail)
    do = _settings(table.get("do", {}), f"{field}.do", fail, base=setup)
    reset = table.get("reset", False)
    if not isinstance(reset, bool):
        raise fail(f"{field}.reset", "must be true or false")
    page = table.get("page", "")
    if page and page not in PAGES:
        raise fail(f"{field}.page", f"must be one of {', '.join(PAGES)}")
    if "within" in table and "when" not in table:
        raise fail(f"{field}.within", "only means something with a condition (when)")
    condition, within = _condition(table["when"], table.get("within"), field, fail) if "when" in table else (None, 0)
    return Step(text, do, reset, condition, within, page)


def _challenge(value: Any, setup: Mapping[str, str], fail) -> Challenge:
    table = _table(value, "challenge", fail)
    _no_unknown(table, CHALLENGE_KEYS, "challenge.", fail)
    text = _text(table.get("text"), "challenge.text", fail)
    if "when" not in table:
        raise fail("challenge.when", "missing (required)")
    condition, within = _condition(table["when"], table.get("within"), "challenge", fail)
    minutes = table.get("minutes")
    if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes <= 600):
        raise fail("challenge.minutes", "must be a number of minutes in (0, 600]")
    solution = _settings(table.get("solution", {}), "challenge.solution", fail, base=setup)
    return Challenge(text, condition, within, None if minutes is None else float(minutes), solution)
