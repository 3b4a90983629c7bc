"""Hostile run files, checked before any tensor exists: malformed safetensors headers, NaN or
complex weights, a data shape in meta.json, an oversized model in config.json, malformed optimizer
state (issue 10). Each is one named CheckpointError."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab.runs import CheckpointError, check_safetensors, load_run

from test_runs_hostile import set_field, copy_run, edit_json, rechecksum, save_source


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return save_source(tmp_path_factory.mktemp("source"))


# ---------------------------------------------------------------------------------------------------
# safetensors headers: every malformed one is a named error, checked before any tensor exists
# ---------------------------------------------------------------------------------------------------
def safetensors_file(header: str | bytes, body: bytes = b"", length: int | None = None) -> bytes:
    header = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(header) if length is None else length) + header + body


def entry(offsets: str, dtype: str = '"F32"', shape: str = "[2]") -> str:
    return f'{{"t": {{"dtype": {dtype}, "shape": {shape}, "data_offsets": {offsets}}}}}'


BAD_HEADERS = [
    ("offsets-strings", safetensors_file(entry('["0", "8"]'), bytes(8)), "malformed data_offsets"),
    ("offsets-null", safetensors_file(entry("[null, 8]"), bytes(8)), "malformed data_offsets"),
    ("offsets-1e400", safetensors_file(entry("[0, 1e400]"), bytes(8)), "out of range"),
    ("offsets-5000-digits", safetensors_file(entry("[0, " + "9" * 5000 + "]"), bytes(8)), "5,000 digits"),
    ("offsets-negative", safetensors_file(entry("[-8, 0]"), bytes(8)), "malformed data_offsets"),
    ("offsets-bool", safetensors_file(entry("[false, 8]"), bytes(8)), "malformed data_offsets"),
    ("offsets-one", safetensors_file(entry("[8]"), bytes(8)), "malformed data_offsets"),
    ("size-mismatch", safetensors_file(entry("[0, 4]"), bytes(4)), "do not match its shape and dtype"),
    ("overlap", safetensors_file('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
                                 '"b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}', bytes(12)),
     "overlaps another or leaves a gap"),
    ("trailing-bytes", safetensors_file(entry("[0, 8]"), bytes(64)), "damaged"),
    ("truncated-body", safetensors_file(entry("[0, 8]"), bytes(4)), "truncated"),
    ("nested-header", safetensors_file('{"t": ' + "[" * 5000 + "]" * 5000 + "}"), "nested too deeply"),
    ("shape-strings", safetensors_file(entry("[0, 8]", shape='["2"]'), bytes(8)), "malformed shape"),
    ("dtype-unknown", safetensors_file(entry("[0, 8]", dtype='"F128"'), bytes(8)), "unknown dtype"),
    ("extra-key", safetensors_file('{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}}', bytes(8)),
     "must be"),
    ("header-not-object", safetensors_file("[1, 2]"), "not a JSON object"),
    ("metadata-not-strings", safetensors_file('{"__metadata__": {"a": 1}}'), "__metadata__"),
    ("huge-header-length", safetensors_file("{}", length=2**62), "damaged or not a safetensors file"),
    ("pickle", b"\x80\x04\x95" + bytes(40), "pickle"),
    ("short", b"abc", "truncated or not a safetensors file"),
]


@pytest.mark.parametrize("case, data, message", BAD_HEADERS, ids=[c[0] for c in BAD_HEADERS])
def test_each_malformed_safetensors_header_is_one_named_error(source, tmp_path, case, data, message):
    with pytest.raises(CheckpointError, match=message):
        check_safetensors(data, "weights.safetensors")
    run = copy_run(source, tmp_path, "hostile")
    (run / "weights.safetensors").write_bytes(data)
    rechecksum(run, "weights.safetensors")
    with pytest.raises(CheckpointError, match=rf"hostile/weights\.safetensors: .*{message}") as info:
        load_run("hostile", root=tmp_path)
    assert "\n" not in str(info.value)


def test_nan_weights_and_complex_or_wrong_dtypes_are_refused(source, tmp_path):
    key = "networks.generator.net.0.weight"
    for case, change, message in (
        ("nan", lambda t: t.fill_(float("nan")), "holds NaN or infinite values"),
        ("inf", lambda t: t.fill_(float("inf")), "holds NaN or infinite values"),
        ("complex", lambda t: t.to(torch.complex64), rf"wrong dtypes: {key} is C64, the model needs F32"),
        ("double", lambda t: t.double(), rf"wrong dtypes: {key} is F64, the model needs F32"),
        ("int", lambda t: t.to(torch.int32), rf"wrong dtypes: {key} is I32"),
    ):
        run = copy_run(source, tmp_path, case)
        weights = load_file(run / "weights.safetensors")
        result = change(weights[key])
        weights[key] = weights[key] if result is None else result
        save_file(weights, run / "weights.safetensors")
        rechecksum(run, "weights.safetensors")
        with pytest.raises(CheckpointError, match=message):
            load_run(case, root=tmp_path)


def test_the_data_shape_in_meta_json_is_never_used_to_allocate(source, tmp_path):
    """meta.json is not checksummed: a data shape of 16 M values must not become a 16 M-value model input."""
    run = copy_run(source, tmp_path, "shape")
    edit_json(run / "meta.json", set_field("data_shape", [1, 4000, 4000]))
    loaded = load_run("shape", root=tmp_path, load_data=False)
    assert loaded.trainer.data_shape == (2,) and not loaded.data_available
    assert sum(p.numel() for p in loaded.trainer.discriminator.parameters()) < 1000


def test_an_oversized_model_in_config_json_is_refused_before_reading_weights(source, tmp_path):
    run = copy_run(source, tmp_path, "huge")
    edit_json(run / "config.json", lambda c: (c["data"].update(name="shapes", image_size=64),
                                              c["model"].update(arch="conv", width=2048)))
    (run / "weights.safetensors").write_bytes(b"never read")
    with pytest.raises(CheckpointError, match=r"huge/config\.json: model\.width=2048 is invalid: this model would "
                                              r"have 8\.46 G parameters"):
        load_run("huge", root=tmp_path)


# ---------------------------------------------------------------------------------------------------
# optimizer state: checked against the trainer's optimizers (`betas: "x"` crashed `train --resume`)
# ---------------------------------------------------------------------------------------------------
def _group(change):
    def apply(state):
        change(state["optimizers"]["generator"]["param_groups"][0])
    return apply


BAD_STATE = [
    ("betas-string", _group(lambda g: g.__setitem__("betas", "x")), r"setting 'betas' is 'x'"),
    ("betas-short", _group(lambda g: g.__setitem__("betas", {"__tuple__": [0.5]})), r"setting 'betas'"),
    ("lr-string", _group(lambda g: g.__setitem__("lr", "fast")), r"setting 'lr' is 'fast'"),
    ("eps-list", _group(lambda g: g.__setitem__("eps", [1])), r"setting 'eps'"),
    ("unknown-nested", _group(lambda g: g.__setitem__("hook", {"a": [1]})), r"setting 'hook'"),
    ("betas-other", _group(lambda g: g.__setitem__("betas", {"__tuple__": [7.0, -3.0]})),
     r"setting 'betas' is \(7\.0, -3\.0\), but the run's config gives \(0\.0, 0\.9\)"),
    ("maximize", _group(lambda g: g.__setitem__("maximize", True)), r"setting 'maximize' is True, but the run's config"),
    ("eps-negative", _group(lambda g: g.__setitem__("eps", -1.0)), r"setting 'eps' is -1\.0, but the run's config gives 1e-08"),
    ("weight-decay", _group(lambda g: g.__setitem__("weight_decay", 1e30)), r"setting 'weight_decay' is 1e\+30"),
    ("lr-negative", _group(lambda g: g.__setitem__("lr", -0.5)), r"setting 'lr' is -0\.5, which does not fit"),
    ("params-shuffled", _group(lambda g: g.__setitem__("params", list(reversed(g["params"])))),
     "parameter groups do not match"),
    ("params-strings", _group(lambda g: g.__setitem__("params", ["a"] * len(g["params"]))),
     "parameter groups do not match"),
]


@pytest.mark.parametrize("case, change, message", BAD_STATE, ids=[c[0] for c in BAD_STATE])
def test_each_malformed_optimizer_setting_is_one_named_error(source, tmp_path, case, change, message):
    run = copy_run(source, tmp_path, "state")
    edit_json(run / "training_state.json", change)
    with pytest.raises(CheckpointError, match=rf"training_state\.json: optimizer 'generator' .*{message}"):
        load_run("state", root=tmp_path)


def test_how_the_update_runs_is_this_machines_choice_not_the_files(source, tmp_path):
    """A file's `differentiable: true` made fused Adam fail at the first step; `fused`, `foreach`,
    `capturable` and `differentiable` are the fresh optimizer's, whatever the file says."""
    run = copy_run(source, tmp_path, "state")
    edit_json(run / "training_state.json", _group(lambda g: g.update(differentiable=True, foreach=True, capturable=True)))
    trainer = load_run("state", root=tmp_path).trainer
    group = trainer.optimizers["generator"].param_groups[0]
    assert (group["differentiable"], group["capturable"]) == (False, False)
    trainer.step()


def test_a_step_count_beyond_meta_jsons_limit_is_refused(source, tmp_path):
    """Loaded, it made the next save write a meta.json that its own check refuses: a run lost."""
    run = copy_run(source, tmp_path, "state")
    edit_json(run / "training_state.json", lambda state: state.__setitem__("step", 10**39))
    with pytest.raises(CheckpointError, match=r"training_state\.json: step must be an integer in \[0, 1,000,000,000,000\]"):
        load_run("state", root=tmp_path)


def test_optimizer_moments_of_another_dtype_are_refused(source, tmp_path):
    run = copy_run(source, tmp_path, "moments")
    tensors = load_file(run / "training_state.safetensors")
    key = next(k for k in tensors if k.endswith("exp_avg") and tensors[k].dim() > 0)
    tensors[key] = tensors[key].to(torch.complex64)
    save_file(tensors, run / "training_state.safetensors")
    rechecksum(run, "training_state.safetensors")
    with pytest.raises(CheckpointError, match=r"exp_avg is torch\.complex64 .*the model needs torch\.float32"):
        load_run("moments", root=tmp_path)


def test_a_good_run_still_resumes_exactly(source, tmp_path):
    copy_run(source, tmp_path, "again")
    loaded = load_run("again", root=tmp_path)
    assert loaded.trainer.step_count == 3
    assert loaded.trainer.optimizers["generator"].param_groups[0]["betas"] == (0.0, 0.9)
    loaded.trainer.step()  # the restored optimizer state works


