"""The condition language of lessons and challenges: when a step is done, read off a run's metrics.

    condition := clause { "and" clause }
    clause    := operand OP value
    operand   := METRIC                                 the metric's latest value (at each recorded step)
               | AGG "(" METRIC "over" N "steps" ")"    mean / min / max / range (max − min) of its values
                                                        in the last N steps (N ≤ 2,000)
               | SETTING                                a setting of the run now, by its URL key: r1, loss, sn-d
    OP        := <  <=  >  >=  ==  !=    (also ≤ ≥ ≠)
    value     := a number, optionally with % (90% = 0.9); for a setting, any of its values (minimax, true)
    METRIC    := a recorded metric, always with a "/": loss/d, d/fake, quality/modes_covered, grad_norm/g;
                 "*" matches any characters, and then every matching metric must satisfy the clause:
                 spectral_norm/discriminator.* <= 1.05

    quality/modes_covered >= 8 and quality/high_quality_fraction >= 90%
    range(loss/d over 500 steps) < 0.05
    loss == nonsaturating and grad_norm/g > 5

A condition is met at a recorded step s when every clause holds there. `first_met` scans a history
(metric name -> (steps, values), as MetricHistory.display and the runner's snapshots give it) for the
first such step after the step `since` at which the lesson step began: metrics recorded before `since`
do not count, and a window must lie wholly after it, so a change of setting is judged by what follows.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
from typing import Any, Mapping

import numpy as np

from genlab.config import ConfigError, RunConfig, get_dotted, knob_by_key
from genlab.share import format_value, parse_value

History = Mapping[str, tuple[np.ndarray, np.ndarray]]
AGGREGATES = ("mean", "min", "max", "range")
MAX_WINDOW_STEPS = 2000  # the live history keeps this many latest values at full resolution
OPERATORS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
             "!=": np.not_equal}
ALIASES = {"≤": "<=", "≥": ">=", "≠": "!=", "=": "=="}
_CLAUSE = re.compile(r"^(?P<operand>.+?)\s*(?P<op><=|>=|==|!=|≤|≥|≠|<|>|=)\s*(?P<value>[^\s<>=!≤≥≠]+)$")
_WINDOW = re.compile(r"^(?P<agg>\w+)\s*\(\s*(?P<metric>\S+)\s+over\s+(?P<n>\S+)\s+steps?\s*\)$")
_METRIC = re.compile(r"^[A-Za-z0-9_.*-]+(?:/[A-Za-z0-9_.*-]+)+$")
EXAMPLE = "e.g. loss/d < 0.5, range(loss/d over 500 steps) < 0.05, r1 >= 1"


class ConditionError(ValueError):
    """A condition that does not parse; the message quotes the clause and says what is wrong."""


@dataclasses.dataclass(frozen=True)
class Clause:
    text: str
    op: str
    value: Any
    metric: str = ""  # a metric name (may contain "*"), or "" for a setting
    aggregate: str = ""  # "" for the metric's latest value
    window: int = 0  # steps, with an aggregate
    setting: str = ""  # a knob's dotted path

    def holds_for_setting(self, config: RunConfig) -> bool:
        return bool(OPERATORS[self.op](get_dotted(config, self.setting), self.value))

    def values_at(self, history: History, candidates: np.ndarray, since: int) -> list[np.ndarray]:
        """This operand at each candidate step, for every metric it names (NaN where undefined)."""
        return [_operand(history[name], candidates, since, self.aggregate, self.window)
                for name in sorted(history) if fnmatch.fnmatchcase(name, self.metric)]


@dataclasses.dataclass(frozen=True)
class Condition:
    text: str
    clauses: tuple[Clause, ...]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(c.metric for c in self.clauses if c.metric)

    def first_met(self, history: History, since: int = 0, after: int | None = None,
                  config: RunConfig | None = None) -> int | None:
        """The first recorded step s > max(since, after) at which every clause holds, else None.
        Settings are judged on `config` (the run's settings now)."""
        if any(c.setting and (config is None or not c.holds_for_setting(config)) for c in self.clauses):
            return None
        after = since if after is None else max(after, since)
        names = [n for c in self.clauses if c.metric for n in history if fnmatch.fnmatchcase(n, c.metric)]
        steps = [np.asarray(history[n][0]) for n in names]
        candidates = np.unique(np.concatenate(steps)) if steps else np.empty(0, np.int64)
        candidates = candidates[candidates > after]
        met = np.ones(len(candidates), bool)
        for clause in (c for c in self.clauses if c.metric):
            columns = clause.values_at(history, candidates, since)
            if not columns:
                return None  # not recorded yet
            for column in columns:
                with np.errstate(invalid="ignore"):
                    met &= ~np.isnan(column) & OPERATORS[clause.op](column, clause.value)
        hits = np.flatnonzero(met)
        return int(candidates[hits[0]]) if len(hits) else None

    def readings(self, history: History, step: int, since: int = 0, config: RunConfig | None = None
                 ) -> list[tuple[str, str]]:
        """(clause, its operand's value now) per clause, for showing progress ("–" when not measured yet)."""
        shown = []
        for clause in self.clauses:
            if clause.setting:
                now = format_value(get_dotted(config, clause.setting)) if config is not None else "–"
            else:
                columns = clause.values_at(history, np.array([step]), since)
                values = [float(c[0]) for c in columns if not np.isnan(c[0])]
                worst = (max if clause.op in ("<", "<=") else min)(values) if values else None
                now = "–" if worst is None else f"{worst:.4g}"
            shown.append((clause.text, now))
        return shown


def _operand(series: tuple[np.ndarray, np.ndarray], candidates: np.ndarray, since: int, aggregate: str,
             window: int) -> np.ndarray:
    steps, values = np.asarray(series[0]), np.asarray(series[1], dtype=np.float64)
    keep = steps > since
    steps, values = steps[keep], values[keep]
    out = np.full(len(candidates), np.nan)
    if not len(steps):
        return out
    hi = np.searchsorted(steps, candidates, side="right")  # values at steps <= s: [.., hi)
    if not aggregate:
        ok = hi > 0
        out[ok] = values[hi[ok] - 1]
        return out
    lo = np.searchsorted(steps, candidates - window, side="right")  # steps > s − N
    ok = (hi > lo) & (candidates - window >= since)
    if not ok.any():
        return out
    if aggregate == "mean":
        total = np.concatenate([[0.0], np.cumsum(values)])
        out[ok] = (total[hi[ok]] - total[lo[ok]]) / (hi[ok] - lo[ok])
        return out
    padded = np.append(values, np.nan)  # reduceat needs every index < len
    bounds = np.ravel(np.column_stack([lo[ok], hi[ok]]))
    highest = np.maximum.reduceat(padded, bounds)[::2]
    lowest = np.minimum.reduceat(padded, bounds)[::2]
    out[ok] = {"max": highest, "min": lowest, "range": highest - lowest}[aggregate]
    return out


# --- parsing -------------------------------------------------------------------------------------
def parse_condition(text: Any) -> Condition:
    """A Condition from its text; ConditionError quoting the clause and saying what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError(f"a condition must be non-empty text ({EXAMPLE})")
    parts = re.split(r"\s+and\s+", text.strip())
    return Condition(text.strip(), tuple(_parse_clause(part.strip()) for part in parts))


def _parse_clause(text: str) -> Clause:
    match = _CLAUSE.match(text)
    if not match:
        raise ConditionError(f"'{text}': expected <metric or setting> <comparison> <value> ({EXAMPLE})")
    operand, op, raw = match["operand"].strip(), ALIASES.get(match["op"], match["op"]), match["value"]
    window = _WINDOW.match(operand)
    if window:
        return _window_clause(text, window, op, raw)
    if "(" in operand or ")" in operand:
        raise ConditionError(f"'{text}': write an aggregate as AGG(metric over N steps), AGG one of "
                             f"{', '.join(AGGREGATES)}")
    if "/" in operand:
        return Clause(text, op, _number(text, raw), metric=_metric(text, operand))
    return _setting_clause(text, operand, op, raw)


def _window_clause(text: str, window: re.Match, op: str, raw: str) -> Clause:
    if window["agg"] not in AGGREGATES:
        raise ConditionError(f"'{text}': unknown aggregate '{window['agg']}' (use {', '.join(AGGREGATES)})")
    if not window["n"].isdigit() or not 1 <= int(window["n"]) <= MAX_WINDOW_STEPS:
        raise ConditionError(f"'{text}': the window must be a whole number of steps from 1 to {MAX_WINDOW_STEPS}")
    return Clause(text, op, _number(text, raw), metric=_metric(text, window["metric"]), aggregate=window["agg"],
                  window=int(window["n"]))


def _setting_clause(text: str, key: str, op: str, raw: str) -> Clause:
    try:
        knob = knob_by_key(key)
    except KeyError:
        raise ConditionError(f"'{text}': '{key}' is neither a metric (metric names contain '/', e.g. loss/d) "
                             f"nor a setting (a URL key such as r1, loss, beta)") from None
    try:
        value = parse_value(knob, raw)
    except ConfigError as exc:
        raise ConditionError(f"'{text}': {key} {exc.allowed}") from None
    if op not in ("==", "!=") and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
        raise ConditionError(f"'{text}': {key} can only be compared with == or !=")
    return Clause(text, op, value, setting=knob.path)


def _metric(text: str, name: str) -> str:
    if not _METRIC.match(name):
        raise ConditionError(f"'{text}': '{name}' is not a metric name (letters, digits, _ . - and *, with a '/', "
                             "e.g. loss/d)")
    return name


def _number(text: str, raw: str) -> float:
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConditionError(f"'{text}': '{raw}' is not a number (a metric is compared with a number, "
                             "e.g. 0.05 or 90%)") from None
    if not np.isfinite(value):
        raise ConditionError(f"'{text}': '{raw}' is not a finite number")
    return value
