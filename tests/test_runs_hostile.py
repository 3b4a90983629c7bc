"""Hostile and unlucky runs (issue 10): every malformed field, header or state is one named
CheckpointError; listing never breaks; nothing is allocated or trusted from unchecked fields; two
processes can save one run at once."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab.config import RunConfig
from genlab.runs import (
    CheckpointError,
    RunImportError,
    check_safetensors,
    delete_run,
    export_zip,
    import_zip,
    list_runs,
    load_run,
    save_run,
)
from genlab.trainers import make_trainer

REPO = Path(__file__).resolve().parents[1]
TINY = {"name": "tiny", "data": {"name": "ring", "n_samples": 256},
        "model": {"family": "gan", "arch": "mlp", "latent_dim": 2, "width": 8, "depth": 1},
        "optim": {"batch_size": 16}}


def tiny_trainer(steps: int = 3, **dotted):
    trainer = make_trainer(RunConfig.from_dict(json.loads(json.dumps(TINY))).replace(**dotted), device="cpu")
    for _ in range(steps):
        trainer.step()
    return trainer


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A valid saved run (copied by the tests that change it)."""
    root = tmp_path_factory.mktemp("source")
    trainer = tiny_trainer()
    save_run(trainer, {"step": [1.0, 2.0, 3.0], "loss/d": [1.0, 0.9, 0.8]}, root=root, name="good")
    return root / "good"


def copy_run(source: Path, root: Path, name: str) -> Path:
    target = root / name
    target.mkdir(parents=True)
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def edit_json(path: Path, change) -> None:
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def rechecksum(run: Path, fname: str) -> None:
    """Record the file's checksum in meta.json, as a hostile but consistent upload would."""
    data = (run / fname).read_bytes()
    edit_json(run / "meta.json", lambda m: m["files"].__setitem__(fname, {"bytes": len(data),
                                                                           "sha256": hashlib.sha256(data).hexdigest()}))


# ---------------------------------------------------------------------------------------------------
# meta.json: one schema, checked on import, on listing, by `genlab list` (the Runs page: test_app_runs_hostile)
# ---------------------------------------------------------------------------------------------------
def _set(field, value):
    return lambda meta: meta.__setitem__(field, value)


BAD_META = [  # (id, change to meta.json, what the message says)
    ("metric-string", _set("final_metrics", {"loss/d": "abc"}), r"final_metrics 'loss/d' must be a finite number"),
    ("metrics-not-a-mapping", _set("final_metrics", [1, 2]), "final_metrics must map"),
    ("step-string", _set("step", "10"), r"step must be an integer in \[0, "),
    ("step-negative", _set("step", -1), r"step must be an integer"),
    ("step-float", _set("step", 2.5), r"step must be an integer"),
    ("step-bool", _set("step", True), r"step must be an integer"),
    ("step-missing", lambda m: m.pop("step"), "step is missing"),
    ("files-list", _set("files", []), "files must map each .safetensors file"),
    ("files-bad-entry", _set("files", {"weights.safetensors": {"bytes": "1", "sha256": "x"}}),
     r"files weights.safetensors: must be"),
    ("files-foreign", _set("files", {"../../etc/passwd": {"bytes": 1, "sha256": "0" * 64}}),
     r"files lists '\.\./\.\./etc/passwd', which is not a \.safetensors file"),
    ("version-string", _set("format_version", "1"), "format_version must be an integer"),
    ("family", _set("family", "dragon"), "family must be one of gan, vae"),
    ("data-shape", _set("data_shape", [1, -3]), "data_shape must be a list of 1 to 3 positive integers"),
    ("command-number", _set("command", 12), "command must be a string"),
    ("command-huge", _set("command", "x" * 70_000), "command must be a string of at most 65,536"),
    ("created-object", _set("created", {"a": 1}), "created must be a string"),
    ("include-optimizer", _set("include_optimizer", "yes"), "include_optimizer must be true or false"),
    ("final-metric-infinite", _set("final_metrics", {"loss/d": 1e308 * 10}), "Infinity is not a JSON number"),
]


def broken_meta_runs(source: Path, root: Path) -> dict[str, str]:
    """One run per BAD_META case under `root` (plus a good one); {run name: expected message}."""
    copy_run(source, root, "a-good-run")
    expected = {}
    for case, change, message in BAD_META:
        run = copy_run(source, root, f"bad-{case}")
        edit_json(run / "meta.json", change)
        expected[run.name] = message
    return expected


@pytest.mark.parametrize("case, change, message", BAD_META, ids=[c[0] for c in BAD_META])
def test_import_refuses_each_malformed_meta_field(source, tmp_path, case, change, message):
    run = copy_run(source, tmp_path / "src", "evil")
    edit_json(run / "meta.json", change)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in run.iterdir():
            zf.writestr(f"evil/{file.name}", file.read_bytes())
    root = tmp_path / "checkpoints"
    with pytest.raises(RunImportError, match=f"meta.json: {message}"):
        import_zip(buffer.getvalue(), root)
    assert list_runs(root) == []


def test_listing_shows_each_broken_run_with_its_error_and_never_fails(source, tmp_path):
    expected = broken_meta_runs(source, tmp_path)
    infos = {info.name: info for info in list_runs(tmp_path)}
    assert infos["a-good-run"].ok and infos["a-good-run"].steps == 3
    for name, message in expected.items():
        assert not infos[name].ok, name
        assert f"{name}/meta.json" in infos[name].error
        assert re.search(message, infos[name].error), (name, infos[name].error)


def test_genlab_list_shows_broken_runs_in_one_row_each(source, tmp_path):
    expected = broken_meta_runs(source, tmp_path)
    result = subprocess.run([sys.executable, "-m", "genlab", "list", "--root", str(tmp_path)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and not result.stderr, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "BROKEN" not in rows["a-good-run"]
    for name in expected:
        assert "BROKEN:" in rows[name], rows[name]
    listed = json.loads(subprocess.run([sys.executable, "-m", "genlab", "list", "--root", str(tmp_path), "--json"],
                                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                                       text=True, timeout=300, check=True).stdout)
    assert len(listed) == len(expected) + 1


def test_a_broken_run_can_be_deleted(source, tmp_path):
    broken_meta_runs(source, tmp_path)
    (tmp_path / "only-a-pickle").mkdir()
    (tmp_path / "only-a-pickle" / "weights.pt").write_bytes(b"\x80\x04K\x01.")
    for info in list_runs(tmp_path):
        if not info.ok:
            delete_run(info.name, tmp_path)
    assert [info.name for info in list_runs(tmp_path)] == ["a-good-run"]


def test_an_unexpected_failure_of_one_run_does_not_hide_the_others(source, tmp_path, monkeypatch):
    import genlab.runs.listing as listing

    copy_run(source, tmp_path, "one")
    copy_run(source, tmp_path, "two")
    real = listing.run_info
    monkeypatch.setattr(listing, "run_info", lambda path: (_ for _ in ()).throw(TypeError("boom"))
                        if path.name == "one" else real(path))
    infos = list_runs(tmp_path)
    assert [(i.name, i.ok) for i in infos] == [("one", False), ("two", True)]
    assert "cannot be read (TypeError)" in infos[0].error


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
    edit_json(run / "meta.json", _set("data_shape", [1, 4000, 4000]))
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


# ---------------------------------------------------------------------------------------------------
# where runs are written: a root that is a file; two processes saving one name at once
# ---------------------------------------------------------------------------------------------------
def test_a_checkpoint_root_that_is_a_file_is_a_named_error(tmp_path):
    root = tmp_path / "runs"
    root.write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot save runs in .*runs: it is a file, not a folder"):
        save_run(tiny_trainer(steps=1), root=root, name="x")
    assert root.read_text() == "not a folder"


def test_two_processes_saving_one_name_at_once_never_fail_or_leave_a_half_run(tmp_path):
    """Two writers replace run "shared" 25 times each while a third process loads it again and again."""
    root = tmp_path / "runs"
    save_run(tiny_trainer(steps=1), root=root, name="shared")
    script = textwrap.dedent(f"""
        import sys
        import torch
        torch.set_num_threads(1)
        from genlab.config import RunConfig
        from genlab.runs import load_run, save_run
        from genlab.trainers import make_trainer
        role, root = sys.argv[1], sys.argv[2]
        if role == "writer":
            trainer = make_trainer(RunConfig.from_dict({TINY!r}), device="cpu")
            for i in range(25):
                trainer.step()
                save_run(trainer, {{"step": [float(i)]}}, root=root, name="shared")
        else:
            for _ in range(40):
                load_run("shared", root=root, load_data=False)
        print("done")
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, role, str(root)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role in ("writer", "writer", "reader")]
    results = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0 and out.strip() == "done", err[-2000:]
    assert sorted(p.name for p in root.iterdir()) == ["shared"]  # no _old-* or _tmp-* left behind
    assert load_run("shared", root=root).trainer.step_count == 25


# ---------------------------------------------------------------------------------------------------
# uploads: bounded by what a run of the declared model needs; data paths never trusted
# ---------------------------------------------------------------------------------------------------
def padded_zip(source: Path, fname: str, size: int) -> bytes:
    """The run as a zip in which `fname` holds `size` bytes (streamed: a few hundred KB on the wire)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in source.iterdir():
            if file.name != fname:
                zf.writestr(f"padded/{file.name}", file.read_bytes())
        with zf.open(f"padded/{fname}", "w", force_zip64=True) as entry_file:
            chunk = b" " * 2**20
            for start in range(0, size, len(chunk)):
                entry_file.write(chunk[: size - start])
    return buffer.getvalue()


@pytest.mark.parametrize("fname, size", [("README.md", 500 * 2**20), ("metrics.json", 300 * 2**20),
                                         ("weights.safetensors", 50 * 2**20)])
def test_a_small_zip_cannot_become_a_large_run(source, tmp_path, fname, size):
    data = padded_zip(source, fname, size)
    assert len(data) < 2 * 2**20  # under 2 MB on the wire
    root = tmp_path / "checkpoints"
    with pytest.raises(RunImportError, match=rf"{fname} unpacks to more than a run of its model can hold"):
        import_zip(data, root)
    assert not any(root.rglob("*")), "refused from the zip's directory, before anything was unpacked"


def _run_zip(source: Path, config_change) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in source.iterdir():
            data = file.read_bytes()
            if file.name == "config.json":
                raw = json.loads(data)
                config_change(raw)
                data = json.dumps(raw).encode()
            zf.writestr(f"upload/{file.name}", data)
    return buffer.getvalue()


def test_an_uploaded_data_path_and_download_are_dropped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the data area (data/) is under the working directory
    root = tmp_path / "checkpoints"
    outside = tmp_path / "outside" / "mnist"
    source = tmp_path / "src"
    trainer = make_trainer(RunConfig(name="m").replace(**{"data.name": "shapes", "data.n_samples": 64,
                                                          "data.image_size": 28, "model.width": 8}), device="cpu")
    save_run(trainer, root=source, name="m")
    data = _run_zip(source / "m", lambda c: c["data"].update(name="mnist", path=str(outside), download=True))
    info = import_zip(data, root)
    config = json.loads((root / info.name / "config.json").read_text())
    assert config["data"]["path"] == "" and config["data"]["download"] is False
    note = json.loads((root / info.name / "meta.json").read_text())["data_note"]
    assert str(outside) in note and "download: true" in note
    loaded = load_run(info.name, root=root)  # "Continue training": the data comes from the server's locations
    assert not outside.exists() and not (tmp_path / "outside").exists()
    assert loaded.config.data.path == ""

    folder = _run_zip(source / "m", lambda c: c["data"].update(name="folder", path="/", image_size=28))
    info = import_zip(folder, root, name="folder-run")
    assert json.loads((root / "folder-run" / "config.json").read_text())["data"]["path"] == "upload:folder"
    assert not load_run("folder-run", root=root).data_available  # the upload is gone: never "/" of the server
