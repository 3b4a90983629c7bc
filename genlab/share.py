"""A Train-page setup as URL query parameters, and back: the format of genlab's shareable links.

    params = config_to_params(config, View(refresh=1.0))   # {"family": "gan", "dataset": "ring", "r1": "1", ...}
    link = train_link(config)                              # "train?family=gan&dataset=ring&r1=1"
    config, view, problems = params_to_config(params)      # never raises; problems name each bad field

The format, derived from the knob declarations (genlab.config), so a new knob is shareable unchanged:
- `family` and `dataset` come first and pick the preset (genlab.presets.config_for);
- then every other setting of that family whose value differs from that preset, keyed by its knob's `key` (the same
  name as its CLI flag), in declaration order: numbers in Python's shortest round-trip form (`0.0005`,
  `1e-05`), booleans `true` / `false`, choices by name. `loss=minimax&r1=1&seed=3&lr-d=0.005`;
- view state, each only when not the default: `refresh` (live view, seconds), `lesson` (an open
  lesson's id), `present=true` (projector mode), `show` / `hide` / `lock` (comma-separated control
  names: knob keys, or `setup` / `live` for whole groups; teachers' links for students).
- The run's name and a data file's path are not shared (a link cannot carry an upload). A drawing
  (Draw your data) is data in its own right, not a file: `dataset=points&drawing=<σ>:<points>`, its
  data.path without the "drawn:" prefix (genlab.drawing_codec), checked like any other value.
- `RESERVED_KEYS` (e.g. the app's private per-tab token `tab`) are never written and never read:
  a page keeps its own state there. Any other unknown key is reported as a problem.

Reading is forgiving: a bad value is named in a one-line problem and its field keeps the preset's
value (or `base`'s, e.g. a lesson's setup); nothing raises. No streamlit, no torch.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping
from urllib.parse import urlencode

from genlab.config import KNOBS, ConfigError, Knob, RunConfig, get_dotted, knob_by_key
from genlab.drawing_codec import DRAWN_PREFIX, is_drawing, parse_drawing_path
from genlab.presets import config_for

FAMILY_KEY, DATASET_KEY = "family", "dataset"
DEFAULT_FAMILY, DEFAULT_DATASET = "gan", "ring"  # a new tab's run (pages/shared.py)
NOT_SHARED = ("name", "data.path")  # derived from the others / a file on one machine
RESERVED_KEYS = frozenset({"tab"})  # other features' own URL state: left alone
REFRESH_CHOICES = (0.5, 1.0, 2.0)  # seconds between two draws of the live view
CONTROL_GROUPS = ("setup", "live")  # names of whole groups of controls in show / hide / lock
VIEW_KEYS = ("refresh", "lesson", "present", "show", "hide", "lock")
DRAWING_KEY = "drawing"  # a drawn data set (dataset points), the only data a link carries
SHARED_KNOBS: tuple[Knob, ...] = tuple(k for k in KNOBS if k.path not in NOT_SHARED)
TRUE_WORDS, FALSE_WORDS = ("true", "1", "yes", "on"), ("false", "0", "no", "off")

assert not {k.key for k in KNOBS} & (set(VIEW_KEYS) | RESERVED_KEYS | {DRAWING_KEY}), "a knob key collides with a view key"


@dataclasses.dataclass(frozen=True)
class View:
    """How the Train page shows a run (not part of the run itself)."""

    refresh: float = REFRESH_CHOICES[0]
    lesson: str = ""  # id of the lesson whose panel is open ("" for none)
    present: bool = False  # projector mode: bigger type, fewer panels
    show: tuple[str, ...] = ()  # only these controls are shown (empty: all)
    hide: tuple[str, ...] = ()  # these controls are not shown
    lock: tuple[str, ...] = ()  # these are shown but cannot be changed

    def shows(self, knob: Knob) -> bool:
        names = _names(knob)
        return (not self.show or bool(names & set(self.show))) and not names & set(self.hide)

    def locks(self, knob: Knob) -> bool:
        return bool(_names(knob) & set(self.lock))


@dataclasses.dataclass(frozen=True)
class Problem:
    """One bad parameter: its key, the value given, and what was done instead."""

    key: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}={self.value!r} in the link: {self.message}"


def _names(knob: Knob) -> set[str]:
    return {knob.key, "live" if knob.live else "setup"}


def control_names() -> tuple[str, ...]:
    """Every name show / hide / lock accept."""
    return CONTROL_GROUPS + tuple(k.key for k in SHARED_KNOBS if k.ui)


# --- values <-> text -----------------------------------------------------------------------------
def format_value(value: Any) -> str:
    """A config value as URL text: true/false, shortest round-trip numbers (1 not 1.0), names."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def parse_value(knob: Knob, text: str) -> Any:
    """URL text as a value of `knob` (ConfigError naming the knob's key if it is not one)."""
    text = text.strip()
    try:
        if knob.kind is bool:
            if text.lower() in TRUE_WORDS + FALSE_WORDS:
                value = text.lower() in TRUE_WORDS
            else:
                raise ValueError
        elif knob.kind is int:
            value = int(text)
        elif knob.kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError
        else:
            value = text
    except ValueError:
        raise ConfigError(knob.key, text, f"must be {knob.allowed()}") from None
    knob.check(value, knob.key)
    return value


# --- config + view -> params -------------------------------------------------------------------------
def config_to_params(config: RunConfig, view: View | None = None) -> dict[str, str]:
    """The shortest parameters that `params_to_config` turns back into `config` and `view`."""
    family, dataset = config.model.family, config.data.name
    preset = config_for(family, dataset, dotted={"data.path": config.data.path} if config.data.path else None)
    params = {FAMILY_KEY: family, DATASET_KEY: dataset}
    if is_drawing(config.data.path):
        params[DRAWING_KEY] = config.data.path[len(DRAWN_PREFIX):]
    for knob in SHARED_KNOBS:
        if knob.family not in (None, family):
            continue  # the other family's settings mean nothing to this run
        value = get_dotted(config, knob.path)
        if knob.key not in params and value != get_dotted(preset, knob.path):
            params[knob.key] = format_value(value)
    return params | view_to_params(view or View())


def view_to_params(view: View) -> dict[str, str]:
    params = {}
    for key in VIEW_KEYS:
        value = getattr(view, key)
        if value != getattr(View(), key):
            params[key] = ",".join(value) if isinstance(value, tuple) else format_value(value)
    return params


def train_link(config: RunConfig, view: View | None = None, page: str = "train") -> str:
    """The relative link that opens the Train page with `config`, e.g. "train?family=gan&dataset=ring&r1=1"
    (prefix it with the app's address)."""
    return f"{page}?{urlencode(config_to_params(config, view), safe=',')}"


# --- params -> config + view -------------------------------------------------------------------------
def params_to_config(params: Mapping[str, str], base: Mapping[str, str] | None = None
                     ) -> tuple[RunConfig, View, list[Problem]]:
    """The setup that `params` describe, on top of `base` (trusted parameters in the same format, e.g. a
    lesson's setup; a bad value in `params` keeps base's). Bad, unknown or misplaced parameters are
    reported, one Problem each, and left out; the result is always a valid config."""
    problems: list[Problem] = []
    merged = {**(base or {}), **params}
    family = _choice(merged, FAMILY_KEY, DEFAULT_FAMILY, problems, base)
    dataset = _choice(merged, DATASET_KEY, DEFAULT_DATASET, problems, base)
    dotted: dict[str, Any] = _drawing(merged, dataset, problems)
    for source in (base or {}, params):
        for key, text in source.items():
            if key in (FAMILY_KEY, DATASET_KEY, DRAWING_KEY) or key in VIEW_KEYS or key in RESERVED_KEYS:
                continue
            value = _knob_value(key, text, family, problems if source is params else None)
            if value is not None:
                dotted[value[0]] = value[1]
    config = _valid_config(family, dataset, dotted, params, problems)
    return config, _view(merged, problems), problems


def _choice(merged: Mapping[str, str], key: str, default: str, problems: list[Problem],
            base: Mapping[str, str] | None) -> str:
    fallback = (base or {}).get(key, default)
    text = merged.get(key, fallback)
    try:
        return parse_value(knob_by_key(key), text)
    except ConfigError as exc:
        problems.append(Problem(key, text, f"{exc.allowed}; using {fallback}"))
        return fallback


def _drawing(merged: Mapping[str, str], dataset: str, problems: list[Problem]) -> dict[str, Any]:
    """{"data.path": "drawn:…"} for a link's valid drawing on dataset points, else {} (a Problem says why)."""
    text = merged.get(DRAWING_KEY)
    if text is None:
        return {}
    if dataset != "points":
        problems.append(Problem(DRAWING_KEY, text[:40], "is for dataset=points (a drawn data set); ignored"))
        return {}
    path = DRAWN_PREFIX + text
    try:
        parse_drawing_path(path)
    except ConfigError as exc:
        problems.append(Problem(DRAWING_KEY, text[:40], f"{exc.allowed}; ignored"))
        return {}
    return {"data.path": path}


def _knob_value(key: str, text: str, family: str, problems: list[Problem] | None) -> tuple[str, Any] | None:
    """(dotted path, value) of one parameter, or None (with a Problem when `problems` is given)."""
    def bad(message: str) -> None:
        if problems is not None:
            problems.append(Problem(key, text, message))

    try:
        knob = knob_by_key(key)
    except KeyError:
        return bad("not a genlab setting; ignored")
    if knob.path in NOT_SHARED:
        return bad("cannot be set by a link; ignored")
    if knob.family is not None and knob.family != family:
        return bad(f"is a {knob.family.upper()} setting, and this link is for a {family.upper()}; ignored")
    try:
        return knob.path, parse_value(knob, text)
    except ConfigError as exc:
        return bad(f"{exc.allowed}; using the default")


def _valid_config(family: str, dataset: str, dotted: dict[str, Any], params: Mapping[str, str],
                  problems: list[Problem]) -> RunConfig:
    """config_for(family, dataset, dotted), dropping each value that two fields' rules reject together."""
    while True:
        try:
            return config_for(family, dataset, dotted=dotted)
        except ConfigError as exc:
            if exc.field == "data.path":  # an uploaded file: a link cannot carry it
                problems.append(Problem(DATASET_KEY, dataset, f"needs a file uploaded on this machine; using "
                                                              f"{DEFAULT_DATASET}"))
                dataset = DEFAULT_DATASET
                continue
            if exc.field not in dotted:  # cannot happen for values parse_value accepted
                return config_for(DEFAULT_FAMILY, DEFAULT_DATASET)
            key = next(k.key for k in KNOBS if k.path == exc.field)
            problems.append(Problem(key, params.get(key, format_value(dotted[exc.field])),
                                    f"{exc.allowed}; using the default"))
            del dotted[exc.field]


def _view(merged: Mapping[str, str], problems: list[Problem]) -> View:
    fields: dict[str, Any] = {}
    text = merged.get("refresh")
    if text is not None:
        try:
            fields["refresh"] = REFRESH_CHOICES[[format_value(c) for c in REFRESH_CHOICES].index(format_value(float(text)))]
        except ValueError:
            problems.append(Problem("refresh", text, f"must be one of {', '.join(map(format_value, REFRESH_CHOICES))} "
                                                     "(seconds); using 0.5"))
    if "lesson" in merged:
        fields["lesson"] = merged["lesson"].strip()
    text = merged.get("present")
    if text is not None:
        if text.strip().lower() in TRUE_WORDS + FALSE_WORDS:
            fields["present"] = text.strip().lower() in TRUE_WORDS
        else:
            problems.append(Problem("present", text, "must be true or false; using false"))
    known = control_names()
    for key in ("show", "hide", "lock"):
        if key in merged:
            names = tuple(n.strip() for n in merged[key].split(",") if n.strip())
            unknown = [n for n in names if n not in known]
            if unknown:
                problems.append(Problem(key, merged[key], f"{', '.join(unknown)}: not a control (controls: knob "
                                                          f"keys such as r1, lr-d, or setup / live); ignored"))
            fields[key] = tuple(n for n in names if n in known)
    return View(**fields)
