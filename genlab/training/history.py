"""The metric history of a run, and the one table format of a saved run's metrics.json.

In memory: one `Series` per metric (numpy buffers, not lists of dicts), each with a bounded full
history, a ≤ `DISPLAY_POINTS` block-mean view kept up to date incrementally (a chart refresh costs
O(display points), not O(steps)) and a ring buffer of its latest values.

On disk (`MetricHistory.to_lists()`, written by the checkpoint code as strict JSON), the same for a
run trained in the app or by the CLI:
- a "step" column and one column per metric, all equally long, rows in step order;
- a cell is the value recorded at that row's step, or NaN (null in JSON) where the metric was not
  measured at that step (a penalty switched off, per-layer norms between measurements, quality
  metrics between their scheduled steps): nothing is carried forward;
- values are the float32 numbers the trainer produced, as the shortest decimal that reads back to
  the same float32 (no rounding to fewer digits);
- at most `TABLE_ROWS` rows: a longer run keeps only the steps that are multiples of a power of two.
"""
from __future__ import annotations

import threading
from typing import Mapping, Sequence

import numpy as np

DISPLAY_POINTS = 1000  # at most this many points per series in a view (one plotly trace, ~ a chart's pixel width)
RECENT_POINTS = 2000  # the latest values of each series at full resolution, for a "last N steps" view
FULL_HISTORY_POINTS = 200_000  # per series; beyond it the kept history is thinned 2:1 (bounded memory)
TABLE_ROWS = 20_000  # rows of a saved table at most


class Series:
    """One metric over steps: a bounded full history plus an incremental ≤ display_points view.

    Full history: every value while it fits in `full_points`; beyond that only steps that are
    multiples of a power-of-two stride are kept (the stride doubles at each compaction), so all
    series of a run stay aligned on the same steps and memory stays bounded.
    Display view: block means; each point averages `block` consecutive values; when it fills up,
    neighbouring points are merged pairwise and `block` doubles. Appending is O(1) amortized and
    reading the view is O(display_points), whatever the run length.
    """

    __slots__ = ("_steps", "_values", "_n", "_stride", "_max_full",
                 "_d_steps", "_d_values", "_dn", "_block", "_acc_sum", "_acc_n", "_acc_step", "_cap",
                 "_r_steps", "_r_values", "_rn")

    def __init__(self, display_points: int = DISPLAY_POINTS, full_points: int = FULL_HISTORY_POINTS):
        self._max_full = max(4, full_points)
        self._steps = np.empty(min(256, self._max_full), np.int64)
        self._values = np.empty(len(self._steps), np.float32)
        self._n = 0
        self._stride = 1
        self._cap = max(2, display_points - 1) // 2 * 2  # even, and one slot left for the partial block
        # int32 / float32: what the charts send (plotly encodes the arrays as they are)
        self._d_steps = np.empty(self._cap, np.int32)
        self._d_values = np.empty(self._cap, np.float32)
        self._dn = 0
        self._block = 1
        self._acc_sum = 0.0
        self._acc_n = 0
        self._acc_step = 0
        self._r_steps = np.empty(RECENT_POINTS, np.int32)  # ring buffer of the latest values
        self._r_values = np.empty(RECENT_POINTS, np.float32)
        self._rn = 0  # values ever appended

    def __len__(self) -> int:
        return self._n

    def append(self, step: int, value: float) -> None:
        self._append_full(step, value)
        slot = self._rn % RECENT_POINTS
        self._r_steps[slot] = step
        self._r_values[slot] = value
        self._rn += 1
        self._acc_sum += value
        self._acc_n += 1
        self._acc_step = step
        if self._acc_n == self._block:
            if self._dn == self._cap:
                half = self._cap // 2
                self._d_values[:half] = 0.5 * (self._d_values[0::2] + self._d_values[1::2])
                self._d_steps[:half] = self._d_steps[1::2]
                self._dn = half
                self._block *= 2
            else:
                self._d_steps[self._dn] = step
                self._d_values[self._dn] = self._acc_sum / self._acc_n
                self._dn += 1
                self._acc_sum, self._acc_n = 0.0, 0

    def _append_full(self, step: int, value: float) -> None:
        if step % self._stride:
            return
        if self._n == len(self._steps):
            if self._n < self._max_full:
                size = min(self._max_full, 2 * len(self._steps))
                self._steps = np.resize(self._steps, size)
                self._values = np.resize(self._values, size)
            else:
                while self._n == len(self._steps) or step % self._stride:
                    self._stride *= 2
                    keep = self._steps[: self._n] % self._stride == 0
                    kept = int(keep.sum())
                    self._steps[:kept] = self._steps[: self._n][keep]
                    self._values[:kept] = self._values[: self._n][keep]
                    self._n = kept
                    if step % self._stride:
                        return
        self._steps[self._n] = step
        self._values[self._n] = value
        self._n += 1

    def rewind(self, step: int) -> None:
        """Drop the values after `step` (steps only grow, so they are the latest ones). The full
        history and the recent values lose exactly those; the display view also loses a block mean
        that reaches past `step`."""
        self._n = int(np.searchsorted(self._steps[: self._n], step, side="right"))
        self._dn = int(np.searchsorted(self._d_steps[: self._dn], step, side="right"))
        if self._acc_n and self._acc_step > step:
            self._acc_sum, self._acc_n = 0.0, 0
        kept = min(self._rn, RECENT_POINTS)
        order = np.arange(self._rn - kept, self._rn) % RECENT_POINTS
        steps, values = self._r_steps[order], self._r_values[order]
        keep = steps <= step
        self._rn = int(keep.sum())
        self._r_steps[: self._rn] = steps[keep]
        self._r_values[: self._rn] = values[keep]

    def display(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) copies with at most `display_points` points (block means, latest partial block last)."""
        steps = self._d_steps[: self._dn]
        values = self._d_values[: self._dn]
        if self._acc_n:
            steps = np.append(steps, np.int32(self._acc_step))
            values = np.append(values, np.float32(self._acc_sum / self._acc_n))
        else:
            steps, values = steps.copy(), values.copy()
        steps.flags.writeable = False
        values.flags.writeable = False
        return steps, values

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        return self._steps[: self._n].copy(), self._values[: self._n].copy()

    def window(self, after_step: int) -> tuple[np.ndarray, np.ndarray]:
        """The points with step > after_step: at full resolution while the ring buffer of recent
        values reaches back that far, else the display view's block means (then at most
        display_points; the caller may downsample the full-resolution case)."""
        kept = min(self._rn, RECENT_POINTS)
        start = self._rn - kept
        order = np.arange(start, self._rn) % RECENT_POINTS
        steps, values = self._r_steps[order], self._r_values[order]
        if self._rn > RECENT_POINTS and steps[0] > after_step + 1:  # older values are gone
            steps, values = self.display()
        keep = steps > after_step
        steps, values = np.array(steps[keep]), np.array(values[keep])
        steps.flags.writeable = False
        values.flags.writeable = False
        return steps, values

    def latest(self) -> tuple[int, float] | None:
        """(step, value) of the last append, None before the first."""
        if not self._rn:
            return None
        slot = (self._rn - 1) % RECENT_POINTS
        return int(self._r_steps[slot]), float(self._r_values[slot])


class MetricHistory:
    """Every metric a run reports, as `Series` keyed by metric name. Thread-safe: the training thread
    appends while a page reads views and Save writes the table."""

    def __init__(self, display_points: int = DISPLAY_POINTS, full_points: int = FULL_HISTORY_POINTS):
        self._series: dict[str, Series] = {}
        self._display_points = display_points
        self._full_points = full_points
        self._lock = threading.Lock()

    def append(self, metrics: Mapping[str, float]) -> None:
        """Record one row: every value in `metrics` at step `metrics["step"]`."""
        step = int(metrics.get("step", 0))
        with self._lock:
            for name, value in metrics.items():
                if name == "step":
                    continue
                series = self._series.get(name)
                if series is None:
                    series = self._series[name] = Series(self._display_points, self._full_points)
                series.append(step, value)

    def rewind(self, step: int) -> None:
        """Forget every value recorded after `step`: the run was rolled back to it."""
        with self._lock:
            for series in self._series.values():
                series.rewind(step)

    @classmethod
    def from_lists(cls, table: Mapping[str, Sequence[float]], *, until_step: int | None = None,
                   display_points: int = DISPLAY_POINTS, full_points: int = FULL_HISTORY_POINTS) -> MetricHistory:
        """A history holding a `to_lists()` table (e.g. a saved run's metrics): NaN cells are skipped,
        rows after `until_step` are dropped. ValueError if the columns do not line up with "step"."""
        history = cls(display_points, full_points)
        if not table:
            return history
        if "step" not in table:
            raise ValueError("a metrics table needs a 'step' column")
        steps = np.asarray(table["step"], dtype=np.float64)
        if steps.ndim != 1 or not np.isfinite(steps).all():
            raise ValueError("the 'step' column must be a list of finite numbers")
        for name, column in table.items():
            if len(column) != len(steps):
                raise ValueError(f"metric {name!r} has {len(column)} values for {len(steps)} steps")
        order = np.argsort(steps, kind="stable")  # appends must go in step order
        keep = order if until_step is None else order[steps[order] <= until_step]
        int_steps = steps.astype(np.int64)
        for name, column in table.items():
            if name == "step":
                continue
            values = np.asarray(column, dtype=np.float64)[keep]
            at = int_steps[keep]
            present = ~np.isnan(values)
            if not present.any():
                continue
            series = history._series[name] = Series(display_points, full_points)
            for step, value in zip(at[present].tolist(), values[present].tolist()):
                series.append(step, value)
        return history

    def last_row(self) -> dict[str, float]:
        """Each metric's latest value, plus "step" (the latest step of any metric); {} when empty."""
        with self._lock:
            latest = {name: point for name, series in self._series.items() if (point := series.latest())}
        last = {name: value for name, (_, value) in latest.items()}
        if latest:
            last["step"] = float(max(step for step, _ in latest.values()))
        return last

    def display(self, last_steps: int | None = None, current_step: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Every series' display view, or only its last `last_steps` steps (see Series.window)."""
        with self._lock:
            if last_steps is None:
                return {name: series.display() for name, series in self._series.items()}
            return {name: series.window(current_step - last_steps) for name, series in self._series.items()}

    def to_lists(self, max_rows: int = TABLE_ROWS) -> dict[str, list[float]]:
        """The table of a saved run (format in the module docstring): "step" and one equally long
        column per metric, NaN where a metric was not measured at that step, ≤ max_rows rows."""
        with self._lock:
            fulls = {name: series.full() for name, series in self._series.items()}
        if not fulls:
            return {}
        steps = np.unique(np.concatenate([s for s, _ in fulls.values()]))
        stride = 1
        while len(steps) > max_rows:
            stride *= 2
            steps = steps[steps % stride == 0]
        out: dict[str, list[float]] = {"step": steps.astype(float).tolist()}
        for name, (s, v) in fulls.items():
            column = np.full(len(steps), np.nan)
            where = np.searchsorted(steps, s)
            hit = (where < len(steps)) & (steps[np.minimum(where, len(steps) - 1)] == s)
            column[where[hit]] = shortest_float32(v[hit])
            out[name] = column.tolist()
        return out

    def __len__(self) -> int:
        return len(self._series)


def shortest_float32(values: np.ndarray) -> np.ndarray:
    """float64 copies of float32 values whose repr is the float32's shortest round-trip decimal
    (float32 0.1 -> 0.1, not 0.10000000149011612): what JSON then writes, exactly and briefly."""
    return np.asarray(values, dtype=np.float32).astype(str).astype(np.float64)
