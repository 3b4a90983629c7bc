"""The metric history (genlab.training.history) and the one table format of a saved run's metrics.json."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from genlab.training import MetricHistory, Series
from genlab.training.history import shortest_float32


def test_series_display_is_bounded_block_means():
    series = Series(display_points=100, full_points=10_000)
    for step in range(1, 1001):
        series.append(step, float(step))  # value == step, so a block's mean is its middle step
    steps, means = series.display()
    assert len(steps) <= 100 and steps[-1] == 1000
    assert not means.flags.writeable
    previous = np.concatenate([[0], steps[:-1]])
    np.testing.assert_allclose(means, (previous + 1 + steps) / 2)  # mean of the steps (prev, step]


def test_series_display_means_exact():
    series = Series(display_points=9, full_points=100)  # capacity 8 display points
    for step in range(1, 17):
        series.append(step, float(step))
    steps, means = series.display()
    # 16 values in 8 blocks of 2
    assert steps.tolist() == [2, 4, 6, 8, 10, 12, 14, 16]
    assert means.tolist() == [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5, 15.5]
    series.append(17, 17.0)  # a partial block shows as the last point
    steps, means = series.display()
    assert steps[-1] == 17 and means[-1] == 17.0 and len(steps) == 9


def test_full_history_is_thinned_on_shared_steps():
    series = Series(display_points=50, full_points=64)
    for step in range(1, 1001):
        series.append(step, float(step))
    steps, values = series.full()
    assert len(steps) <= 64
    stride = steps[1] - steps[0]
    assert stride & (stride - 1) == 0  # a power of two
    assert np.all(steps % stride == 0)
    np.testing.assert_array_equal(values, steps.astype(np.float32))


def test_history_to_lists_aligns_columns_with_nan_gaps():
    history = MetricHistory()
    for step in range(1, 21):
        metrics = {"step": float(step), "loss/d": float(step)}
        if step % 10 == 0:
            metrics["weight_norm/d/0"] = 100.0 + step
        if step > 15:
            metrics["penalty/r1"] = 0.5
        history.append(metrics)
    table = history.to_lists()
    assert table["step"] == [float(s) for s in range(1, 21)]
    assert all(len(column) == 20 for column in table.values())
    assert table["weight_norm/d/0"][9] == 110.0 and math.isnan(table["weight_norm/d/0"][0])
    assert math.isnan(table["penalty/r1"][14]) and table["penalty/r1"][15] == 0.5


def test_history_from_lists_skips_gaps_and_later_rows():
    table = {"step": [1.0, 2.0, 3.0, 4.0], "loss/d": [1.0, 2.0, 3.0, 4.0], "penalty/r1": [math.nan, 0.5, math.nan, 1.0]}
    history = MetricHistory.from_lists(table, until_step=3)
    assert history.to_lists() == {"step": [1.0, 2.0, 3.0], "loss/d": [1.0, 2.0, 3.0],
                                  "penalty/r1": pytest.approx([math.nan, 0.5, math.nan], nan_ok=True)}
    assert history.last_row() == {"loss/d": 3.0, "penalty/r1": 0.5, "step": 3.0}
    with pytest.raises(ValueError, match="penalty/r1"):
        MetricHistory.from_lists({"step": [1.0, 2.0], "penalty/r1": [0.5]})


# --- the saved table -----------------------------------------------------------------------------------
def shortest_decimal(value: float) -> float:
    """The float32's shortest round-trip decimal, found by trying 1, 2, ... significant digits."""
    target = np.float32(value)
    for digits in range(1, 10):
        text = f"{float(target):.{digits}g}"
        if np.float32(float(text)) == target:
            return float(text)
    raise AssertionError(value)


def test_table_values_are_exact_and_shortest():
    values = [0.1, 1 / 3, 2.5, 1e-8, 123456.789, -7.25e12, 0.6931471805599453]
    history = MetricHistory()
    for step, value in enumerate(values, start=1):
        history.append({"step": step, "x": value})
    column = history.to_lists()["x"]
    assert column == [shortest_decimal(v) for v in values]
    assert [np.float32(x) for x in column] == [np.float32(v) for v in values]  # nothing rounded away
    assert json.dumps(column[0]) == "0.1" and json.dumps(column[1]) == "0.33333334"
    np.testing.assert_array_equal(shortest_float32(np.float32([0.1, np.nan])).astype(np.float32),
                                  np.float32([0.1, np.nan]))


def test_table_has_null_where_a_metric_was_not_measured():
    """A metric measured every 5 steps is empty between (not carried forward) in the JSON table."""
    history = MetricHistory()
    for step in range(1, 13):
        row = {"step": step, "loss": step / 10}
        if step % 5 == 0:
            row["sparse"] = float(step)
        history.append(row)
    table = history.to_lists()
    strict = {k: [None if math.isnan(x) else x for x in v] for k, v in table.items()}
    text = json.dumps(strict, allow_nan=False)
    assert json.loads(text)["sparse"] == [None] * 4 + [5.0] + [None] * 4 + [10.0, None, None]
    assert len({len(column) for column in table.values()}) == 1


def test_table_rows_are_bounded_by_power_of_two_thinning():
    history = MetricHistory()
    for step in range(1, 101):
        history.append({"step": step, "x": float(step) * 0.5})
    table = history.to_lists(max_rows=16)
    steps = np.array(table["step"])
    assert len(steps) <= 16 and len(steps) > 8  # the smallest power-of-two stride that fits
    stride = int(steps[1] - steps[0])
    assert stride & (stride - 1) == 0 and np.all(steps % stride == 0)
    assert table["x"] == (steps * 0.5).tolist()  # the values recorded at those steps, not averages


def test_a_table_read_back_writes_the_same_table():
    history = MetricHistory()
    for step in range(1, 50):
        history.append({"step": step, "x": 1 / step, **({"y": step ** 0.5} if step % 7 == 0 else {})})
    table = history.to_lists()
    again = MetricHistory.from_lists(json.loads(json.dumps(table))).to_lists()
    assert json.dumps(again) == json.dumps(table)
