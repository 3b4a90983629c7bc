"""Issue 10's hostile and unlucky CLI invocations: each ends with exit status 2 and one line
"genlab: error: ..." naming the problem, never a traceback (the rest of the CLI: test_cli.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genlab.cli import main
from genlab.config import RunConfig
from genlab.runs import save_run
from genlab.trainers import make_trainer

REPO = Path(__file__).resolve().parents[1]
TINY = {"data.name": "ring", "data.n_samples": 256, "model.width": 8, "model.depth": 1, "optim.batch_size": 16}


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(result: tuple[int, str, str], *needles: str) -> None:
    code, out, err = result
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A root with a good run and runs whose files were edited by hand or by an attacker."""
    root = tmp_path_factory.mktemp("runs")
    trainer = make_trainer(RunConfig(name="good").replace(**TINY), device="cpu")
    for _ in range(3):
        trainer.step()
    for name in ("good", "betas", "metrics", "nan"):
        save_run(trainer, root=root, name=name)
    state = json.loads((root / "betas" / "training_state.json").read_text())
    state["optimizers"]["generator"]["param_groups"][0]["betas"] = "x"
    (root / "betas" / "training_state.json").write_text(json.dumps(state))
    meta = json.loads((root / "metrics" / "meta.json").read_text())
    meta["final_metrics"] = {"loss/d": "abc"}
    (root / "metrics" / "meta.json").write_text(json.dumps(meta))
    from safetensors.torch import load_file, save_file

    weights = load_file(root / "nan" / "weights.safetensors")
    first = next(iter(weights))
    weights[first] = weights[first].fill_(float("nan"))
    save_file(weights, root / "nan" / "weights.safetensors")
    meta = json.loads((root / "nan" / "meta.json").read_text())
    del meta["files"]["weights.safetensors"]  # as if edited by hand
    (root / "nan" / "meta.json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("configs")
    (folder / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (folder / "digits.json").write_text('{"seed": ' + "1" * 5000 + "}")
    (folder / "huge-number.json").write_text('{"objective": {"beta": 1e400}}')
    (folder / "nan.json").write_text('{"objective": {"beta": NaN}}')
    (folder / "folder.png").mkdir()
    (folder / "a-file").write_text("not a folder")
    return folder


CASES = [  # (id, arguments with {runs} / {configs}, what the one line says)
    ("config-deep", ["train", "--config", "{configs}/deep.json"], ["deep.json: nested too deeply"]),
    ("config-digits", ["train", "--config", "{configs}/digits.json"], ["digits.json: a number has 5,000 digits"]),
    ("config-1e400", ["train", "--config", "{configs}/huge-number.json"], ["the number 1e400 is out of range"]),
    ("config-nan", ["train", "--config", "{configs}/nan.json"], ["NaN is not a JSON number"]),
    ("out-is-a-folder", ["sample", "good", "--root", "{runs}", "--out", "{configs}/folder.png"],
     ["folder.png: is a folder"]),
    ("out-unwritable", ["sample", "good", "--root", "{runs}", "--out", "/proc/genlab-test.png"],
     ["--out /proc/genlab-test.png: cannot be written"]),
    ("root-is-a-file", ["train", "--dataset", "ring", "--width", "8", "--steps", "5", "--root", "{configs}/a-file"],
     ["cannot save runs in", "a-file: it is a file, not a folder"]),
    ("resume-betas", ["train", "--resume", "betas", "--root", "{runs}", "--steps", "5"],
     ["training_state.json: optimizer 'generator' parameter group 0: setting 'betas' is 'x'"]),
    ("resume-bad-meta", ["train", "--resume", "metrics", "--root", "{runs}", "--steps", "5"],
     ["meta.json: final_metrics 'loss/d' must be a finite number"]),
    ("eval-nan-weights", ["eval", "nan", "--root", "{runs}", "-n", "10"], ["holds NaN or infinite values"]),
    ("model-too-large", ["train", "--dataset", "shapes", "--image-size", "64", "--arch", "conv", "--width", "2048",
                         "--root", "{runs}"], ["model.width=2048 is invalid: this model would have", "G parameters"]),
]


@pytest.mark.parametrize("case, args, needles", CASES, ids=[c[0] for c in CASES])
def test_each_hostile_invocation_is_one_named_error(capsys, runs, configs, monkeypatch, case, args, needles):
    import genlab.training

    def no_training(*a, **k):
        raise AssertionError("trained before the problem was found")

    monkeypatch.setattr(genlab.training, "run", no_training)  # every problem is found before training
    args = [a.format(runs=runs, configs=configs) for a in args]
    assert_one_line_error(run_main(capsys, *args), *needles)


def test_list_shows_unreadable_entries_as_broken_and_an_unreadable_root_is_one_error(capsys, runs, monkeypatch):
    """As a normal user, `list --root /proc/1` meets entries whose is_dir() raises PermissionError."""
    real_is_dir = Path.is_dir

    def is_dir(self):
        if self.name == "nan":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    code, out, err = run_main(capsys, "list", "--root", str(runs))
    assert code == 0 and not err
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "BROKEN" in rows["nan"] and "Permission denied" in rows["nan"]
    assert "BROKEN: " in rows["metrics"] and "final_metrics" in rows["metrics"]
    assert "BROKEN" not in rows["good"]

    real_iterdir = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied"))
                        if self == runs else real_iterdir(self))
    assert_one_line_error(run_main(capsys, "list", "--root", str(runs)), "cannot list runs here (Permission denied)")


def test_list_of_a_system_folder_is_not_a_traceback():
    result = subprocess.run([sys.executable, "-m", "genlab", "list", "--root", "/proc/1"], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
