"""genlab.safe_json: hostile JSON gives one named error, never a RecursionError, an OverflowError or infinity."""
from __future__ import annotations

import pytest

from genlab import safe_json
from genlab.config import ConfigError, RunConfig

HOSTILE = [
    ('{"seed": ' + "1" * 5000 + "}", "5,000 digits"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"a": ' * 100 + "1" + "}" * 100, "nested too deeply"),
    ('{"x": 1e400}', "out of range"),
    ('{"x": -1e400}', "out of range"),
    ('{"x": NaN}', "NaN is not a JSON number"),
    ('{"x": Infinity}', "Infinity is not a JSON number"),
    ('{"x": 0.' + "1" * 100 + "}", "characters"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("{not json", "not valid JSON"),
]


@pytest.mark.parametrize("text, problem", HOSTILE)
def test_hostile_json_is_one_named_error(text, problem):
    with pytest.raises(safe_json.JSONError, match=f"^where: .*{problem}") as info:
        safe_json.loads(text, "where")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, problem", HOSTILE[:7])
def test_run_config_from_json_refuses_it_as_a_config_error(text, problem):
    with pytest.raises(ConfigError, match=f"must be valid JSON .*{problem}"):
        RunConfig.from_json(text)


def test_ordinary_json_reads_as_json_does():
    text = '{"a": [1, 2.5, -3e-7, null, true, "x"], "b": {"c": {"d": 123456789012345678}}}'
    import json

    assert safe_json.loads(text, "x") == json.loads(text)
    config = RunConfig(name="ok", seed=7)
    assert RunConfig.from_json(config.to_json()) == config


def test_depth_is_counted_exactly():
    assert safe_json.loads("[[[1]]]", "x", max_depth=3) == [[[1]]]
    with pytest.raises(safe_json.JSONError, match="nested too deeply"):
        safe_json.loads("[[[[1]]]]", "x", max_depth=3)


def test_files_are_bounded_before_they_are_read(tmp_path):
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 1000 + "0]")
    with pytest.raises(safe_json.JSONError, match="big.json: too large"):
        safe_json.load_file(big, max_bytes=100)
    with pytest.raises(safe_json.JSONError, match="is a folder"):
        safe_json.load_file(tmp_path, max_bytes=100)
    with pytest.raises(safe_json.JSONError, match="no such file"):
        safe_json.load_file(tmp_path / "missing.json", max_bytes=100)
    assert safe_json.load_file(big, max_bytes=10_000)[-1] == 0
