"""Hostile and unlucky runs (issue 10): every malformed meta.json field is one named error on import
and a broken entry in listings, which never fail; uploads cannot grow into large runs or bring their
own data paths; two processes can save one run at once. (Headers, dtypes, optimizer state:
test_runs_hostile_tensors.py.)"""
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
import zlib
from pathlib import Path

import pytest

from genlab.config import RunConfig
from genlab.runs import (
    CheckpointError,
    RunImportError,
    delete_run,
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


def save_source(root: Path) -> Path:
    """A valid saved run of 3 steps (the tests copy it and change the copy)."""
    save_run(tiny_trainer(), {"step": [1.0, 2.0, 3.0], "loss/d": [1.0, 0.9, 0.8]}, root=root, name="good")
    return root / "good"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return save_source(tmp_path_factory.mktemp("source"))


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
def set_field(field, value):
    return lambda meta: meta.__setitem__(field, value)


BAD_META = [  # (id, change to meta.json, what the message says)
    ("metric-string", set_field("final_metrics", {"loss/d": "abc"}), r"final_metrics 'loss/d' must be a finite number"),
    ("metrics-not-a-mapping", set_field("final_metrics", [1, 2]), "final_metrics must map"),
    ("step-string", set_field("step", "10"), r"step must be an integer in \[0, "),
    ("step-negative", set_field("step", -1), r"step must be an integer"),
    ("step-float", set_field("step", 2.5), r"step must be an integer"),
    ("step-bool", set_field("step", True), r"step must be an integer"),
    ("step-missing", lambda m: m.pop("step"), "step is missing"),
    ("files-list", set_field("files", []), "files must map each .safetensors file"),
    ("files-bad-entry", set_field("files", {"weights.safetensors": {"bytes": "1", "sha256": "x"}}),
     r"files weights.safetensors: must be"),
    ("files-foreign", set_field("files", {"../../etc/passwd": {"bytes": 1, "sha256": "0" * 64}}),
     r"files lists '\.\./\.\./etc/passwd', which is not a \.safetensors file"),
    ("version-string", set_field("format_version", "1"), "format_version must be an integer"),
    ("family", set_field("family", "dragon"), "family must be one of gan, vae"),
    ("data-shape", set_field("data_shape", [1, -3]), "data_shape must be a list of 1 to 3 positive integers"),
    ("command-number", set_field("command", 12), "command must be a string"),
    ("command-huge", set_field("command", "x" * 70_000), "command must be a string of at most 65,536"),
    ("created-object", set_field("created", {"a": 1}), "created must be a string"),
    ("include-optimizer", set_field("include_optimizer", "yes"), "include_optimizer must be true or false"),
    ("final-metric-infinite", set_field("final_metrics", {"loss/d": 1e308 * 10}), "Infinity is not a JSON number"),
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


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG of `width` x `height` black 1-bit pixels: kilobytes that decode to width·height pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer, row = zlib.compressobj(9), bytes(1 + (width + 7) // 8)  # filter byte, then the row's bits
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def zip_of_run(run: Path, folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in run.iterdir():
            zf.writestr(f"{folder}/{file.name}", file.read_bytes())
    return buffer.getvalue()


def test_a_preview_claiming_a_huge_picture_is_refused_on_import(source, tmp_path):
    run = copy_run(source, tmp_path / "src", "bomb")
    (run / "preview.png").write_bytes(png_claiming(20_000, 20_000))
    assert (run / "preview.png").stat().st_size < 100_000
    with pytest.raises(RunImportError, match=r"preview.png: a 20,000 × 20,000 picture; a preview is at most 2,048"):
        import_zip(zip_of_run(run, "bomb"), tmp_path / "checkpoints")
    (run / "preview.png").write_bytes(png_claiming(300, 200))  # an honest preview of that run passes
    assert [info.name for info in [import_zip(zip_of_run(run, "fine"), tmp_path / "checkpoints")]] == ["fine"]


@pytest.mark.parametrize("entry", ["config.json", "weights.safetensors"])
def test_a_zip_with_a_damaged_deflate_stream_is_refused_as_damaged(source, tmp_path, entry):
    """Bytes that are no deflate stream (zlib.error), in the entry read before unpacking and in one unpacked."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in source.iterdir():
            zf.writestr(f"good/{file.name}", file.read_bytes())
    data = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo(f"good/{entry}")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    data[start : start + 4] = b"\xff" * 4  # deflate block type 3: "invalid block type"
    with pytest.raises(RunImportError, match="the zip is damaged"):
        import_zip(bytes(data), tmp_path / "checkpoints")
    root = tmp_path / "checkpoints"
    assert not root.exists() or not list(root.iterdir())  # no scratch folder left behind


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
