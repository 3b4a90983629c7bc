"""The lessons' condition language: parsing (named errors) and evaluation against hand-computed answers."""
from __future__ import annotations

import numpy as np
import pytest

from genlab.lessons.conditions import ConditionError, parse_condition
from genlab.presets import config_for


def series(steps, values):
    return np.asarray(steps, np.int32), np.asarray(values, np.float32)


def test_parses_clauses_aggregates_settings_and_percentages():
    condition = parse_condition("quality/modes_covered >= 8 and quality/high_quality_fraction ≥ 90% "
                                "and range(loss/d over 500 steps) < 0.05 and loss == minimax and r1 > 0.5")
    clauses = condition.clauses
    assert [c.op for c in clauses] == [">=", ">=", "<", "==", ">"]
    assert clauses[1].value == pytest.approx(0.9)
    assert (clauses[2].metric, clauses[2].aggregate, clauses[2].window) == ("loss/d", "range", 500)
    assert (clauses[3].setting, clauses[3].value) == ("objective.gan_loss", "minimax")
    assert clauses[4].setting == "objective.r1_gamma" and clauses[4].value == 0.5
    assert condition.metrics == ("quality/modes_covered", "quality/high_quality_fraction", "loss/d")


BAD = [  # (text, words the error must contain)
    ("", "non-empty"),
    ("loss/d", "expected <metric or setting> <comparison> <value>"),
    ("loss/d < high", "'high' is not a number"),
    ("loss/d < inf", "not a finite number"),
    ("avg(loss/d over 5 steps) < 1", "unknown aggregate 'avg'"),
    ("mean(loss/d over 0 steps) < 1", "from 1 to 2000"),
    ("mean(loss/d over 5000 steps) < 1", "from 1 to 2000"),
    ("mean(loss/d over five steps) < 1", "whole number of steps"),
    ("mean(loss/d) < 1", "AGG(metric over N steps)"),
    ("loss/d$ < 1", "not a metric name"),
    ("r9 > 1", "'r9' is neither a metric"),
    ("loss == magic", "one of"),
    ("loss > minimax", "only be compared with == or !="),
    ("r1 > much", "finite number"),
    ("loss/d < 1 and", "expected"),
]


@pytest.mark.parametrize("text, words", BAD, ids=[b[0] or "empty" for b in BAD])
def test_a_malformed_condition_says_which_clause_and_what_is_wrong(text, words):
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert words in str(caught.value)


def test_a_point_clause_is_met_at_the_first_step_where_every_clause_holds():
    history = {"loss/d": series([1, 2, 3, 4, 5, 6], [0.9, 0.7, 0.4, 0.6, 0.3, 0.2]),
               "quality/modes_covered": series([2, 4, 6], [3, 8, 8])}
    condition = parse_condition("loss/d < 0.5 and quality/modes_covered >= 8")
    # at step 4 modes = 8 but loss/d = 0.6; at 5: loss/d 0.3 and the latest modes value (step 4) is 8
    assert condition.first_met(history) == 5
    assert condition.first_met(history, after=5) == 6
    # metrics recorded before `since` do not count: from step 4 on, modes is only known again at step 6
    assert condition.first_met(history, since=4) == 6
    assert condition.first_met(history, since=6) is None
    assert parse_condition("loss/x < 1").first_met(history) is None  # never recorded


@pytest.mark.parametrize("aggregate, expected", [("mean", 0.4), ("min", 0.1), ("max", 0.7), ("range", 0.6)])
def test_window_aggregates_match_a_direct_computation(aggregate, expected):
    values = [0.5, 0.1, 0.7, 0.4, 0.3, 0.1, 0.7]
    history = {"d/fake": series(range(1, 8), values)}
    condition = parse_condition(f"{aggregate}(d/fake over 4 steps) == {expected}")
    column = condition.clauses[0].values_at(history, np.arange(1, 8), since=0)[0]
    direct = [getattr(np, {"range": "ptp"}.get(aggregate, aggregate))(values[max(0, s - 4):s]) for s in range(1, 8)]
    # a window must lie after `since` (0): steps 1-3 have no full window yet
    assert np.isnan(column[:3]).all()
    np.testing.assert_allclose(column[3:], direct[3:], rtol=1e-6)


def test_a_window_is_judged_only_once_it_lies_wholly_after_the_step_began():
    steps = np.arange(1, 1001)
    swinging = np.where(steps <= 600, 0.3 * np.sin(steps / 10.0), 0.01 * np.sin(steps / 10.0)) + 1.0
    history = {"loss/d": series(steps, swinging)}
    settled = parse_condition("range(loss/d over 200 steps) < 0.05")
    assert settled.first_met(history) == 800  # the first 200-step window of calm: steps 601-800
    assert settled.first_met(history, since=700) == 900  # began at 700: its first window ends at 900
    assert parse_condition("range(loss/d over 200 steps) > 0.5").first_met(history) == 200


def test_a_glob_needs_every_matching_metric():
    history = {"spectral_norm/discriminator/net.1": series([25, 50], [0.2, 1.0]),
               "spectral_norm/discriminator/net.3": series([25, 50], [0.9, 1.02]),
               "spectral_norm/generator/net.0": series([25, 50], [7.0, 7.0])}
    assert parse_condition("spectral_norm/discriminator/* > 0.95").first_met(history) == 50
    assert parse_condition("spectral_norm/discriminator/* < 0.5").first_met(history) is None
    assert parse_condition("spectral_norm/*/net.* > 0.1").first_met(history) == 25


def test_setting_clauses_read_the_runs_config_now():
    history = {"loss/d": series([1, 2], [1.0, 1.0])}
    condition = parse_condition("r1 >= 1 and loss/d > 0.5")
    assert condition.first_met(history, config=config_for("gan", "ring")) is None
    assert condition.first_met(history, config=config_for("gan", "ring", dotted={"objective.r1_gamma": 1.0})) == 1
    assert condition.first_met(history) is None  # a setting cannot hold without a config


def test_readings_show_each_clauses_value_now():
    history = {"loss/d": series([1, 2, 3], [0.5, 0.8, 0.6])}
    config = config_for("gan", "ring")
    readings = parse_condition("max(loss/d over 2 steps) < 0.5 and loss == nonsaturating and d/fake < 1").readings(
        history, 3, config=config)
    assert readings == [("max(loss/d over 2 steps) < 0.5", "0.8"), ("loss == nonsaturating", "nonsaturating"),
                        ("d/fake < 1", "–")]
