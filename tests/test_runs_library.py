"""genlab.runs.library (and .labels): rename, delete, zip export, and a zip import that refuses every unsafe upload.

Each refusal test checks three things: the error is a RunImportError (a CheckpointError) with a message
that says what is wrong, the checkpoint root holds exactly what it held before (no half-imported run,
no scratch folder), and nothing was written next to or above the root.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import stat
import zipfile
from pathlib import Path

import pytest
import torch

from genlab.config import RunConfig
from genlab.runs import (
    CheckpointError,
    RunImportError,
    delete_run,
    export_zip,
    import_zip,
    labels,
    list_runs,
    load_run,
    rename_run,
    save_run,
)
from genlab.trainers import make_trainer

from conftest import TINY_RING_GAN

@pytest.fixture(scope="module")
def saved_zip(tmp_path_factory) -> bytes:
    """A valid run zip (exported from a tiny trained run), built once."""
    root = tmp_path_factory.mktemp("source")
    torch.manual_seed(0)
    trainer = make_trainer(RunConfig.from_dict(json.loads(json.dumps(TINY_RING_GAN))), device="cpu")
    history: dict[str, list[float]] = {"step": [], "loss/d": [], "loss/g": []}
    for _ in range(3):
        metrics = trainer.step()
        for key, values in history.items():
            values.append(metrics[key])
    save_run(trainer, history, root=root, name="ring-small")
    return export_zip("ring-small", root)


@pytest.fixture
def area(tmp_path) -> tuple[Path, Path]:
    """(outer folder, checkpoint root inside it): writes outside the root would show up in the outer folder."""
    root = tmp_path / "checkpoints"
    root.mkdir()
    return tmp_path, root


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def rezip(entries: list[tuple[str | zipfile.ZipInfo, bytes]], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buffer.getvalue()


def members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def assert_refused(area, data: bytes, match: str, **kwargs) -> RunImportError:
    outer, root = area
    before = snapshot(outer)
    with pytest.raises(RunImportError, match=match) as info:
        import_zip(data, root, **kwargs)
    assert snapshot(outer) == before, "a refused upload must leave no trace"
    assert isinstance(info.value, CheckpointError)
    return info.value


# ------------------------------------------------------------------------------------------------
# valid uploads
# ------------------------------------------------------------------------------------------------
def test_a_valid_run_zip_is_imported_and_loads(area, saved_zip):
    outer, root = area
    info = import_zip(saved_zip, root)
    assert info.name == "ring-small" and info.ok and info.steps == 3 and info.family == "gan"
    assert snapshot(outer) - {"checkpoints", "checkpoints/ring-small"} == {
        f"checkpoints/ring-small/{f}" for f in os.listdir(root / "ring-small")
    }
    loaded = load_run("ring-small", root=root)
    assert loaded.trainer.step_count == 3 and loaded.history["loss/d"]
    # same weights as the exported run, under another name too
    info2 = import_zip(saved_zip, root, name="ring-copy")
    copy = load_run("ring-copy", root=root)
    assert info2.name == "ring-copy" and copy.config.name == "ring-copy"
    for key, value in loaded.trainer.state_dict()["networks"]["generator"].items():
        assert torch.equal(value, copy.trainer.state_dict()["networks"]["generator"][key])
    assert [r.name for r in list_runs(root)] == ["ring-copy", "ring-small"]


def test_a_flat_zip_takes_the_name_recorded_in_the_run(area, saved_zip):
    _, root = area
    flat = rezip([(name.split("/", 1)[1], data) for name, data in members(saved_zip)])
    assert import_zip(flat, root).name == "ring-small"


def test_importing_over_an_existing_run_is_refused(area, saved_zip):
    _, root = area
    import_zip(saved_zip, root)
    mtime = (root / "ring-small" / "meta.json").stat().st_mtime_ns
    assert_refused(area, saved_zip, "already exists")
    assert (root / "ring-small" / "meta.json").stat().st_mtime_ns == mtime


def test_an_invalid_import_name_is_refused(area, saved_zip):
    assert_refused(area, saved_zip, "invalid run name", name="../escape")
    assert_refused(area, saved_zip, "invalid run name", name="a/b")


# ------------------------------------------------------------------------------------------------
# unsafe or broken uploads
# ------------------------------------------------------------------------------------------------
def test_a_zip_with_a_pickle_inside_is_refused(area, saved_zip):
    evil = pickle.dumps({"weights": [1, 2, 3]})
    assert_refused(area, rezip(members(saved_zip) + [("ring-small/model.pt", evil)]), "pickle")
    assert_refused(area, rezip(members(saved_zip) + [("ring-small/state.pkl", evil)]), "pickle")


def test_a_pickle_renamed_to_safetensors_is_refused(area, saved_zip):
    buffer = io.BytesIO()
    torch.save({"networks.generator.x": torch.zeros(3)}, buffer)
    for payload in (buffer.getvalue(), pickle.dumps({"a": 1}, protocol=4)):
        entries = [(n, payload if n.endswith("weights.safetensors") else d) for n, d in members(saved_zip)]
        assert_refused(area, rezip(entries), "pickle")


def test_a_damaged_or_tampered_run_is_refused_with_the_checkpoint_message(area, saved_zip):
    entries = members(saved_zip)
    tampered = []
    for name, data in entries:
        if name.endswith("weights.safetensors"):
            data = data[:-4] + bytes(4)  # same size, different tensor bytes: the checksum catches it
        tampered.append((name, data))
    assert_refused(area, rezip(tampered), "checksum")
    broken = [(n, b"{not json" if n.endswith("config.json") else d) for n, d in entries]
    assert_refused(area, rezip(broken), "config.json")
    assert_refused(area, rezip([(n, d) for n, d in entries if not n.endswith("meta.json")]), "meta.json missing")


def test_a_zip_bomb_is_refused(area, saved_zip):
    bomb = rezip(members(saved_zip) + [("ring-small/README.md", bytes(8_000_000))])
    assert len(bomb) < 200_000  # tiny on the wire
    assert_refused(area, bomb, "unpacks to more than", max_unpacked_bytes=4_000_000)


def _header_offset(data: bytearray, signature: bytes, name_at: int, name: bytes) -> int:
    """Offset of the zip header with this signature whose file name (at `name_at`) is `name`."""
    start = data.find(signature)
    while start >= 0 and data[start + name_at : start + name_at + len(name)] != name:
        start = data.find(signature, start + 1)
    assert start >= 0
    return start


def test_a_zip_that_lies_about_its_sizes_is_refused(area, saved_zip):
    # The entry claims 100 bytes in both of its headers but inflates to 2 MB.
    name = b"ring-small/README.md"
    data = bytearray(rezip(members(saved_zip) + [(name.decode(), bytes(2_000_000))]))
    real, fake = (2_000_000).to_bytes(4, "little"), (100).to_bytes(4, "little")
    local = _header_offset(data, b"PK\x03\x04", 30, name)
    central = _header_offset(data, b"PK\x01\x02", 46, name)
    assert data[local + 22 : local + 26] == real and data[central + 24 : central + 28] == real
    data[local + 22 : local + 26] = fake  # local file header: uncompressed size
    data[central + 24 : central + 28] = fake  # central directory: uncompressed size
    assert_refused(area, bytes(data), "damaged|zip bomb")


def test_an_oversized_zip_and_too_many_files_are_refused(area, saved_zip):
    assert_refused(area, saved_zip, "limit is 1,000", max_zip_bytes=1000)
    many = rezip(members(saved_zip) + [(f"ring-small/x{i}.txt", b"") for i in range(40)])
    assert_refused(area, many, "entries")


@pytest.mark.parametrize("name", ["../evil.md", "ring-small/../../evil.md", "/tmp/evil.md", "..\\evil.md",
                                  "C:/evil.md", "ring-small/sub/README.md"])
def test_paths_that_could_escape_the_run_folder_are_refused(area, saved_zip, name):
    error = assert_refused(area, rezip(members(saved_zip) + [(name, b"pwned")]), r"\.\.|absolute|backslash|nested")
    assert "evil" in str(error) or "nested" in str(error)
    outer, _ = area
    assert not (outer / "evil.md").exists() and not Path("/tmp/evil.md").exists()


def test_symlinks_and_foreign_files_are_refused(area, saved_zip):
    link = zipfile.ZipInfo("ring-small/README.md")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    assert_refused(area, rezip(members(saved_zip) + [(link, b"/etc/passwd")]), "symbolic link")
    assert_refused(area, rezip(members(saved_zip) + [("ring-small/run.sh", b"rm -rf /")]), "not part of a run")
    assert_refused(area, rezip(members(saved_zip) + [("other/README.md", b"hi")]), "several folders")


def test_not_a_zip_and_empty_zip_are_refused(area):
    assert_refused(area, b"this is not a zip", "not a valid zip")
    assert_refused(area, rezip([]), "empty")
    assert_refused(area, rezip([("README.md", b"hello")]), "not a genlab run")


# ------------------------------------------------------------------------------------------------
# rename / delete / export
# ------------------------------------------------------------------------------------------------
def test_rename_moves_the_run_and_updates_its_recorded_name(area, saved_zip):
    _, root = area
    import_zip(saved_zip, root)
    path = rename_run("ring-small", "ring-renamed", root)
    assert path == root / "ring-renamed" and not (root / "ring-small").exists()
    loaded = load_run("ring-renamed", root=root)
    assert loaded.config.name == "ring-renamed"
    assert json.loads((path / "meta.json").read_text())["name"] == "ring-renamed"


def test_rename_refuses_bad_names_existing_runs_and_unknown_runs(area, saved_zip):
    outer, root = area
    import_zip(saved_zip, root)
    import_zip(saved_zip, root, name="other")
    before = snapshot(outer)
    for bad in ("../up", "a/b", "", ".hidden", "x" * 65):
        with pytest.raises(CheckpointError, match="invalid run name"):
            rename_run("ring-small", bad, root)
    with pytest.raises(CheckpointError, match="already exists"):
        rename_run("ring-small", "other", root)
    with pytest.raises(CheckpointError, match="no run named"):
        rename_run("missing", "new", root)
    with pytest.raises(CheckpointError, match="invalid run name"):
        rename_run("../checkpoints", "new", root)
    assert snapshot(outer) == before


def test_delete_removes_only_that_run(area, saved_zip):
    outer, root = area
    import_zip(saved_zip, root)
    import_zip(saved_zip, root, name="keep")
    delete_run("ring-small", root)
    assert [r.name for r in list_runs(root)] == ["keep"]
    assert sorted(os.listdir(root)) == ["keep"]
    with pytest.raises(CheckpointError, match="no run named"):
        delete_run("ring-small", root)
    with pytest.raises(CheckpointError, match="invalid run name"):
        delete_run("..", root)
    (root / "classifiers").mkdir()  # a folder of other files next to the runs is not a run
    (root / "classifiers" / "mnist.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="no run named"):
        delete_run("classifiers", root)
    with pytest.raises(CheckpointError, match="no run named"):
        rename_run("classifiers", "x", root)
    assert (root / "classifiers" / "mnist.safetensors").is_file()
    assert (outer / "checkpoints" / "keep").is_dir()


def test_export_zip_holds_the_run_files_under_its_name(area, saved_zip):
    _, root = area
    import_zip(saved_zip, root)
    data = export_zip("ring-small", root)
    names = [n for n, _ in members(data)]
    assert all(n.startswith("ring-small/") for n in names)
    assert {"ring-small/config.json", "ring-small/meta.json", "ring-small/weights.safetensors"} <= set(names)
    assert not any(n.endswith((".pt", ".pkl")) for n in names)


def test_table_rows_and_differing_settings_describe_runs(area, saved_zip):
    _, root = area
    import_zip(saved_zip, root)
    import_zip(saved_zip, root, name="other")
    rename_target = root / "other" / "config.json"
    config = json.loads(rename_target.read_text())
    config["model"]["spectral_norm_discriminator"] = True
    config["objective"]["r1_gamma"] = 1.0
    rename_target.write_text(json.dumps(config))
    (root / "broken").mkdir()
    (root / "broken" / "config.json").write_text("{not json")
    rows = labels.table_rows(list_runs(root))
    assert [r["name"] for r in rows] == ["broken", "other", "ring-small"]
    assert rows[0]["status"].startswith("broken") and rows[2]["status"] == "ok"
    assert "SN(D) on" in rows[1]["settings"] and "R1 γ 1" in rows[1]["settings"]
    assert rows[2]["steps"] == 3 and "loss/d" in rows[2]["final metrics"]
    diff = labels.differing_settings([r for r in list_runs(root) if r.ok])
    assert diff == [{"run": "other", "R1 γ": "1", "SN(D)": "on"},
                    {"run": "ring-small", "R1 γ": "—", "SN(D)": "—"}]


def test_metric_series_uses_the_step_column_and_drops_missing_values():
    history = {"step": [1.0, 2.0, 3.0], "loss/d": [0.5, float("nan"), 0.25], "weight_norm/d/0": [1.0, 1.0, 1.0]}
    steps, values = labels.metric_series(history, "loss/d")
    assert steps.tolist() == [1.0, 3.0] and values.tolist() == [0.5, 0.25]
    assert labels.curve_metrics(history) == ["loss/d"]


def test_default_comparison_pairs_one_family_on_one_data_set():
    from types import SimpleNamespace

    from genlab.runs import default_comparison

    def info(name, family, dataset):
        return SimpleNamespace(name=name, family=family, dataset=dataset)

    runs = [info("a", "gan", "ring"), info("b", "vae", "ring"), info("c", "gan", "mnist"), info("d", "gan", "ring")]
    assert default_comparison(runs) == ["a", "d"]
    assert default_comparison(runs[:3]) == ["a", "c"]  # no pair on one data set: one family
    assert default_comparison(runs[:2]) == ["a"]  # a GAN and a VAE: not compared by default
    assert default_comparison([]) == []
