"""A knob: everything genlab knows about one config field, declared once on the field itself.

    r1_gamma: float = knob(0.0, key="r1", label="R1 γ", formula="½γ·E‖∇D(x)‖²", bounds=(0, 1000),
                           family="gan", acts_on="discriminator", live=True, off=0.0, short="R1 γ",
                           ui_values=(0.0, 0.01, 0.1, 1.0, 10.0), help="Zero-centred gradient penalty on real data.")

From the declaration come: validation (bounds, choices, type: `Knob.check`), the CLI flag `--<key>` with
its help (genlab.cli.flags), the Train page's widget (pages/knob_widgets.py: choices → selectbox or, for
two, a radio; bool → checkbox; a value ladder → select_slider; other numbers → number_input), whether
it may change while a run trains (`live`), and its Runs-table label (`short`, genlab.runs.labels).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import typing
from typing import Any, Callable, Mapping

from genlab.config.errors import ConfigError

FAMILY_FIELD = "model.family"


@dataclasses.dataclass(frozen=True)
class Knob:
    key: str  # short stable name: the CLI flag is --<key>; also the URL query key and widget key
    label: str  # what the Train page and the CLI help call it
    help: str = ""
    formula: str = ""  # the maths it sets, shown beside the label
    choices: tuple = ()  # the allowed values, when a fixed set
    choice_labels: Mapping[Any, str] = dataclasses.field(default_factory=dict)
    bounds: tuple[float, float] | None = None  # inclusive [low, high] for numbers
    low_open: bool = False  # the low bound itself is not allowed (learning rates > 0)
    family: str | None = None  # "gan" or "vae" when only that model family uses it
    acts_on: str | None = None  # the network it changes: generator, discriminator, encoder, decoder
    live: bool = False  # may change between two training steps (else it needs a fresh run)
    off: Any = None  # the value that switches it off (not shown in the Runs table; "0 (off)" on sliders)
    ui_values: tuple = ()  # the value ladder of its slider on the Train page
    ui_step: int | float | None = None  # the +/- step of a number input
    ui: bool = True  # shown on the Train page
    only_if: tuple[str, tuple] | None = None  # (dotted field, values): it matters only then
    short: str = ""  # label in the Runs table; empty: not a setting that tells runs apart
    column: bool = False  # in the Runs table's settings column (else only when comparing runs)
    check_with: Callable[[Any], Any] | None = None  # a special rule instead of the generic ones
    # filled in from the dataclass field (see declared_knobs): dotted path, Python type, default
    path: str = ""
    kind: type = object
    default: Any = None

    def check(self, value: Any, where: str | None = None) -> None:
        """ConfigError naming the field unless `value` is allowed."""
        if self.check_with is not None:
            self.check_with(value)
        elif not self._allows(value):
            raise ConfigError(where or self.path, value, f"must be {self.allowed()}")

    def _allows(self, value: Any) -> bool:
        if self.kind is bool:
            return isinstance(value, bool)
        if self.choices:
            return not isinstance(value, bool) and isinstance(value, self.kind) and value in self.choices
        if self.kind is int:
            return not isinstance(value, bool) and isinstance(value, int) and self.bounds[0] <= value <= self.bounds[1]
        if self.kind is float:
            return _number_in(value, self.bounds, self.low_open)
        return isinstance(value, str)

    def allowed(self) -> str:
        """What values are allowed, e.g. "a finite number in (0, 10]"."""
        if self.kind is bool:
            return "true or false"
        if self.choices:
            return f"one of {', '.join(str(c) for c in self.choices)}"
        if self.kind is int:
            return f"an integer in [{self.bounds[0]}, {self.bounds[1]}]"
        if self.kind is float:
            return f"a finite number in {'(' if self.low_open else '['}{self.bounds[0]:g}, {self.bounds[1]:g}]"
        return "a string"

    def applies(self, value_of: Callable[[str], Any]) -> bool:
        """Whether this knob matters for a run whose dotted fields read `value_of(path)`: its family's
        and its only_if condition's (the Train page shows it, the Runs table lists it)."""
        if self.family is not None and value_of(FAMILY_FIELD) != self.family:
            return False
        return self.only_if is None or value_of(self.only_if[0]) in self.only_if[1]

    def choice_label(self, value: Any) -> str:
        return self.choice_labels.get(value, str(value))

    @property
    def title(self) -> str:
        """The label with its formula, e.g. "R1 γ: ½γ·E‖∇D(x)‖²"."""
        return f"{self.label}: {self.formula}" if self.formula else self.label


def _number_in(value: Any, bounds: tuple[float, float], low_open: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    low, high = bounds
    return (low < value if low_open else low <= value) and value <= high


def knob(default: Any, **declaration: Any) -> Any:
    """A dataclass field with default `default` declared as a knob (keyword arguments: Knob's fields)."""
    return dataclasses.field(default=default, metadata={"knob": Knob(**declaration)})


def section(factory: type) -> Any:
    """A dataclass field holding a nested section (e.g. RunConfig.optim)."""
    return dataclasses.field(default_factory=factory)


@functools.cache
def declared_knobs(cls: type) -> tuple[Knob, ...]:
    """The knobs of a section's own fields, in declaration order, with path (the field's name here),
    kind (from its annotation) and default filled in."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        if "knob" in f.metadata:
            found.append(dataclasses.replace(f.metadata["knob"], path=f.name, kind=hints[f.name], default=f.default))
    return tuple(found)


def check_fields(section_value: Any, prefix: str = "") -> None:
    """Check every declared field of a section (not those of sections nested in it)."""
    for declared in declared_knobs(type(section_value)):
        declared.check(getattr(section_value, declared.path), f"{prefix}{declared.path}")
