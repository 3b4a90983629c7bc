"""The runs that ship with genlab are read-only wherever their folders are copied; a user's run that
only shares a name is not (issue 16)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from genlab.runs import CheckpointError, delete_run, free_copy_name, is_shipped, load_run, rename_run, save_run
from genlab.runs.shipped import SHIPPED_WEIGHTS_SHA256

from test_runs_hostile import tiny_trainer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path) -> Path:
    shutil.copytree(REPO / "checkpoints" / "ring-gan", tmp_path / "ring-gan")
    return tmp_path


def test_the_list_matches_the_shipped_folders():
    for name, sha256 in SHIPPED_WEIGHTS_SHA256.items():
        assert is_shipped(REPO / "checkpoints" / name), name
        assert load_run(REPO / "checkpoints" / name, load_data=False).meta["files"]["weights.safetensors"]["sha256"] \
            == sha256


def test_a_shipped_run_cannot_be_overwritten_renamed_or_deleted(root):
    before = (root / "ring-gan" / "weights.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="ships with genlab and cannot be overwritten.*ring-gan-copy"):
        save_run(tiny_trainer(), root=root, name="ring-gan")
    with pytest.raises(CheckpointError, match="cannot be renamed"):
        rename_run("ring-gan", "mine", root)
    with pytest.raises(CheckpointError, match="cannot be deleted"):
        delete_run("ring-gan", root)
    assert (root / "ring-gan" / "weights.safetensors").read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["ring-gan"]


def test_a_copy_under_another_name_is_the_users(root):
    save_run(load_run(root / "ring-gan", load_data=False).trainer, root=root, name=free_copy_name(root, "ring-gan"))
    assert not is_shipped(root / "ring-gan-copy")
    assert free_copy_name(root, "ring-gan") == "ring-gan-copy2"
    rename_run("ring-gan-copy", "mine", root)
    delete_run("mine", root)


def test_a_users_run_that_only_shares_the_name_is_not_protected(tmp_path):
    save_run(tiny_trainer(), root=tmp_path, name="ring-gan")
    assert not is_shipped(tmp_path / "ring-gan")
    save_run(tiny_trainer(steps=4), root=tmp_path, name="ring-gan")  # replaced, as any run of the user's
    assert json.loads((tmp_path / "ring-gan" / "meta.json").read_text())["step"] == 4
    delete_run("ring-gan", tmp_path)


def test_the_cli_refuses_to_resume_into_a_shipped_run_before_training(root, capsys):
    from genlab.cli import main

    assert main(["train", "--resume", "ring-gan", "--steps", "10001", "--root", str(root), "--quiet"]) != 0
    assert "ships with genlab" in capsys.readouterr().err
    assert json.loads((root / "ring-gan" / "meta.json").read_text())["step"] == 10000
