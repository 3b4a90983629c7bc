"""Axes for charts drawn as pictures: data ranges, linear and log scales, tick positions and labels."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TICKS_WANTED = 5  # about this many ticks per axis
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def finite(values: np.ndarray, log: bool) -> np.ndarray:
    """The values an axis can place: finite, and positive on a log axis."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    keep = np.isfinite(values) & (values > 0 if log else True)
    return values[keep]


def data_range(values: np.ndarray, log: bool, pad: float = 0.05, include_zero: bool = False) -> tuple[float, float]:
    """(low, high) in axis units (log10 of the data on a log axis) covering `values`, `pad` of the
    span added on both sides; a flat series gets a span of its own size (or 1 around 0)."""
    values = finite(values, log)
    if include_zero and not log:
        values = np.append(values, 0.0)
    if not values.size:
        return (0.0, 1.0)
    if log:
        values = np.log10(values)
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12 * max(1.0, abs(high)):
        half = 0.5 if log else max(abs(high) * 0.5, 0.5)
        return low - half, high + half
    span = high - low
    return (low - pad * span if not (include_zero and low == 0) else low), high + pad * span


def nice_step(span: float, wanted: int = TICKS_WANTED) -> float:
    """A step of 1, 2, 2.5 or 5 × 10ᵏ giving about `wanted` ticks over `span`."""
    raw = span / max(wanted, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in NICE_STEPS if m * magnitude >= raw * 0.999)


def tick_label(value: float) -> str:
    """Short labels as plotly writes them: 1,500 -> "1.5k", 2e6 -> "2M", 0.0001 -> "1e-4"."""
    if value == 0:
        return "0"
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    if size < 1e-3:
        return f"{value:.0e}".replace("e-0", "e-")
    return f"{value:.3g}"


@dataclass(frozen=True)
class Axis:
    """Maps data to pixels: `low`..`high` (axis units: log10 of the data on a log axis) onto
    `start`..`end` pixels (end < start for a y axis, whose pixels grow downwards)."""

    low: float
    high: float
    log: bool
    start: float
    end: float

    def pixels(self, values) -> np.ndarray:
        """Pixel positions of `values` (NaN where the axis cannot place one)."""
        values = np.asarray(values, dtype=np.float64)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
        return self.start + (values - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self, step: float | None = None) -> list[tuple[float, str]]:
        """(pixel, label) of the ticks inside the range, every `step` (linear axes; default: a nice one)."""
        if self.log:
            first, last = math.ceil(self.low - 1e-9), math.floor(self.high + 1e-9)
            exponents = list(range(first, last + 1))
            if len(exponents) > 2 * TICKS_WANTED:
                exponents = exponents[:: math.ceil(len(exponents) / TICKS_WANTED)]
            values = [10.0 ** e for e in exponents]
            if len(values) < 2:  # less than a decade shown: 1, 2, 5 × 10ᵏ
                values = [m * 10.0 ** e for e in range(first - 1, last + 1) for m in (1, 2, 5)
                          if self.low - 1e-9 <= math.log10(m * 10.0 ** e) <= self.high + 1e-9]
        else:
            step = step or nice_step(self.high - self.low)
            values = [i * step for i in range(math.ceil(self.low / step - 1e-9), math.floor(self.high / step + 1e-9) + 1)]
        return list(zip(self.pixels(values).tolist(), map(tick_label, values)))
