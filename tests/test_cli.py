"""The command line, run as users run it (`python -m genlab ...` in a subprocess), plus in-process checks.

Success paths use tiny models and step counts. Every kind of bad input must end with exit status 2 and
exactly one line "genlab: error: ..." on stderr (no traceback); a diverged run ends with status 1.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genlab.cli import main
from genlab.config import RunConfig
from genlab.runs import load_run, save_run
from genlab.trainers import make_trainer

REPO = Path(__file__).resolve().parents[1]
TINY_RING = ["--dataset", "ring", "--n-samples", "256", "--width", "16", "--depth", "1", "--latent-dim", "4",
             "--batch-size", "32", "--device", "cpu"]


def genlab(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "genlab", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def assert_bad_input(result: subprocess.CompletedProcess | tuple[int, str, str], *needles: str) -> None:
    code, out, err = (result.returncode, result.stdout, result.stderr) if hasattr(result, "returncode") else result
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("genlab: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert out == ""


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory) -> Path:
    """One tiny ring GAN trained by the real CLI, shared by the read-only tests below."""
    root = tmp_path_factory.mktemp("runs")
    result = genlab("train", *TINY_RING, "--steps", "30", "--save-every", "10", "--name", "ring", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stdout and "step 30" in result.stdout
    return root


def test_train_saves_a_complete_run_with_its_command(trained_root):
    run = trained_root / "ring"
    loaded = load_run(run)
    assert loaded.trainer.step_count == 30
    assert loaded.config.model.width == 16 and loaded.config.data.name == "ring"
    assert loaded.history["step"][-1] == 30.0 and len(loaded.history["step"]) == 30
    assert (run / "COMMAND.txt").read_text().startswith("python -m genlab train --dataset ring")
    assert loaded.meta["command"] == (run / "COMMAND.txt").read_text().strip()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert len(rows) == 30 and rows[-1]["step"] == "30" and float(rows[-1]["loss/d"]) > 0
    assert sorted(p.name for p in trained_root.iterdir()) == ["ring"]  # --save-every left no scratch


def test_sample_list_and_eval(trained_root, tmp_path, capsys):
    png, png_again, points = tmp_path / "grid.png", tmp_path / "again.png", tmp_path / "points.csv"
    result = genlab("sample", "ring", "-n", "200", "--out", str(png), "--seed", "7", "--root", str(trained_root))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    # in-process from here on (same code as the entry point, without another torch import)
    assert main(["sample", str(trained_root / "ring"), "-n", "200", "--out", str(png_again), "--seed", "7"]) == 0
    assert png_again.read_bytes() == png.read_bytes()  # same seed, same picture (run given by path)
    assert main(["sample", "ring", "-n", "5", "--out", str(points), "--root", str(trained_root)]) == 0
    assert points.read_text().splitlines()[0] == "x,y" and len(points.read_text().splitlines()) == 6
    capsys.readouterr()

    listing = genlab("list", "--root", str(trained_root))
    assert listing.returncode == 0
    header, row = listing.stdout.splitlines()
    assert header.split()[:5] == ["NAME", "FAMILY", "DATASET", "ARCH", "STEPS"]
    assert row.split()[:5] == ["ring", "gan", "ring", "mlp", "30"]

    result = genlab("eval", "ring", "-n", "300", "--root", str(trained_root))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["step"] == 30 and metrics["modes/modes_total"] == 8
    assert 0 <= metrics["modes/modes_covered"] <= 8 and 0 <= metrics["modes/high_quality_fraction"] <= 1


def test_resume_continues_the_run(trained_root, tmp_path):
    root = tmp_path / "runs"
    result = genlab("train", "--resume", str(trained_root / "ring"), "--steps", "40", "--root", str(root),
                    "--name", "ring2", "--r1", "0.5", "--quiet")
    assert result.returncode == 0, result.stderr
    loaded = load_run("ring2", root=root)
    assert loaded.trainer.step_count == 40
    assert loaded.config.objective.r1_gamma == 0.5  # a live field may change on resume
    assert loaded.history["step"][-11:] == [float(s) for s in range(30, 41)]
    first, second = (root / "ring2" / "COMMAND.txt").read_text().splitlines()
    assert first.startswith("python -m genlab train --dataset ring") and "--resume" in second


def test_vae_trains_and_evaluates_elbo(tmp_path):
    args = ["--family", "vae", "--dataset", "shapes", "--arch", "mlp", "--n-samples", "64", "--image-size", "28", "--width", "16",
            "--depth", "1", "--latent-dim", "2", "--batch-size", "16", "--steps", "5", "--name", "vae",
            "--root", str(tmp_path), "--device", "cpu", "--likelihood", "bernoulli", "--beta", "4"]
    assert genlab("train", *args).returncode == 0
    result = genlab("eval", "vae", "--root", str(tmp_path), "-n", "50")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["vae/n_test"] == 50 and metrics["vae/elbo"] < 0
    assert metrics["vae/elbo"] == pytest.approx(-(metrics["vae/recon_nll"] + metrics["vae/kl"]))
    assert metrics["vae/nll_k100"] <= metrics["vae/nll_k1"]
    assert 0 <= metrics["mig/mig"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gan", "vae"])
def test_a_resnet_trains_and_samples(tmp_path, family):
    """The model budget once could not size residual blocks: every ResNet run failed at its start."""
    args = ["--family", family, "--dataset", "shapes", "--arch", "resnet", "--n-samples", "64", "--image-size", "28",
            "--width", "4", "--latent-dim", "2", "--batch-size", "8", "--steps", "2", "--name", "res",
            "--root", str(tmp_path), "--device", "cpu"]
    trained = genlab("train", *args)
    assert trained.returncode == 0, trained.stderr
    sampled = genlab("sample", "res", "--root", str(tmp_path), "-n", "4", "--out", str(tmp_path / "x.png"))
    assert sampled.returncode == 0 and (tmp_path / "x.png").stat().st_size > 0, sampled.stderr


def write_tiny_mnist(folder: Path, n: int = 64) -> None:
    """train-images/labels IDX files of random digits (the IDX header written by hand: magic, then sizes)."""
    folder.mkdir(parents=True)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (n, 28, 28))
    (folder / "train-images-idx3-ubyte").write_bytes(header + images.numpy().tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + bytes(n))


def test_eval_says_which_evaluators_did_not_apply_and_why(tmp_path, monkeypatch, capsys):
    """A GAN on MNIST without an MNIST feature classifier: no FID, and stderr says so with the command
    that makes the classifier; the JSON on stdout is still complete and the exit status 0."""
    monkeypatch.setattr("genlab.metrics.classifier.DEFAULT_ROOT", tmp_path / "no-classifiers")
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path))  # data.path must lie in an allowed data root
    write_tiny_mnist(tmp_path / "mnist")
    config = RunConfig.from_dict({
        "name": "mnist-gan", "device": "cpu", "data": {"name": "mnist", "path": str(tmp_path / "mnist")},
        "model": {"family": "gan", "arch": "mlp", "width": 16, "depth": 1, "latent_dim": 4},
        "optim": {"batch_size": 16},
    })
    trainer = make_trainer(config)
    trainer.step()
    save_run(trainer, root=tmp_path / "runs")
    assert main(["eval", "mnist-gan", "--root", str(tmp_path / "runs"), "-n", "20"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["run"] == "mnist-gan" and report["dataset"] == "mnist" and report["evaluators"] == []
    lines = err.splitlines()
    assert ("genlab eval: fid not measured: no classifier for mnist: make one with "
            "`python -m genlab.metrics.classifier train --dataset mnist`") in err
    assert sorted(line.split()[2] for line in lines) == ["fid", "mig", "modes", "points", "vae"]  # one line each
    assert all(line.startswith("genlab eval: ") and " not measured: " in line for line in lines)


def test_same_config_trains_the_same_run_as_in_process(tmp_path):
    """--config run.json through the CLI == make_trainer(RunConfig.from_json(run.json)) + step(), bit for bit."""
    config = RunConfig.from_dict({
        "name": "same", "steps": 12, "device": "cpu",
        "data": {"name": "grid", "n_samples": 256},
        "model": {"family": "gan", "width": 16, "depth": 1, "latent_dim": 2},
        "objective": {"gan_loss": "hinge", "r1_gamma": 0.1},
        "optim": {"batch_size": 32},
    })
    (tmp_path / "run.json").write_text(config.to_json())
    assert genlab("train", "--config", str(tmp_path / "run.json"), "--root", str(tmp_path / "runs")).returncode == 0
    from_cli = load_run("same", root=tmp_path / "runs").trainer

    in_process = make_trainer(config)
    for _ in range(config.steps):
        in_process.step()
    for name, net in in_process.networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(from_cli.networks[name].state_dict()[key], value), (name, key)


# --- bad input: exit 2, one line ------------------------------------------------------------------------
def test_bad_input_through_the_real_entry_point(trained_root, tmp_path):
    assert_bad_input(genlab("sample", "nope", "--out", str(tmp_path / "x.png"), "--root", str(trained_root)),
                     "unknown run 'nope'", "ring")
    assert_bad_input(genlab("train", "--family", "vae", "--dataset", "ring", "--beta", "-1", "--root", str(tmp_path)),
                     "objective.beta=-1.0 is invalid")
    assert_bad_input(genlab("sample", "ring", "-n", "0", "--out", str(tmp_path / "x.png"), "--root", str(trained_root)),
                     "argument -n")
    assert_bad_input(genlab("frobnicate"), "invalid choice")


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "args, needles",
    [
        (["sample", "missing-run", "--out", "{tmp}/x.png", "--root", "{root}"], ["unknown run 'missing-run'"]),
        (["eval", "../escape", "--root", "{root}"], ["invalid run name", "not a path"]),
        (["train", "--dataset", "nowhere", "--root", "{tmp}"], ["data.name='nowhere' is invalid", "must be one of"]),
        (["train", "--width", "0", "--root", "{tmp}"], ["model.width=0 is invalid"]),
        (["train", "--steps", "many", "--root", "{tmp}"], ["argument --steps", "invalid int value"]),
        (["train", "--config", "{tmp}/absent.json", "--root", "{tmp}"], ["--config", "absent.json: no such file"]),
        (["train", "--config", "{tmp}/broken.json", "--root", "{tmp}"], ["broken.json: not valid JSON"]),
        (["train", "--config", "{tmp}/empty", "--root", "{tmp}"], ["empty: is a folder; give a JSON file"]),
        (["train", "--config", "/dev/zero", "--root", "{tmp}"], ["/dev/zero: is not a regular file"]),
        (["train", "--config", "{tmp}/unknown-key.json", "--root", "{tmp}"], ["model.colour", "unknown key"]),
        (["train", "--name", "a/b", "--root", "{tmp}"], ["name='a/b' is invalid"]),
        (["train", *TINY_RING, "--name", "ring", "--root", "{root}"], ["run 'ring' already exists", "--overwrite"]),
        (["train", "--resume", "ring", "--width", "32", "--root", "{root}"], ["--width cannot change when resuming"]),
        (["train", "--resume", "absent", "--root", "{root}"], ["unknown run 'absent'"]),
        (["train", "--resume", "ring", "--steps", "5", "--root", "{root}"], ["--steps 5 is below", "(30)"]),
        (["train", "--resume", "ring", "--config", "{tmp}/broken.json", "--root", "{root}"], ["cannot be combined"]),
        (["train", "--dataset", "mnist", "--data-path", "{tmp}/empty", "--root", "{tmp}"], ["MNIST", "not found"]),
        (["train", "--device", "tpu", "--root", "{tmp}"], ["device='tpu' is invalid"]),
        (["sample", "ring", "-n", "-3", "--out", "{tmp}/x.png", "--root", "{root}"], ["argument -n"]),
        (["sample", "ring", "-n", "ten", "--out", "{tmp}/x.png", "--root", "{root}"], ["argument -n", "not an integer"]),
        (["sample", "ring", "--out", "{tmp}/x.gif", "--root", "{root}"], ["must end in .png or .csv"]),
        (["sample", "ring", "--out", "{tmp}/no/such/dir/x.png", "--root", "{root}"], ["does not exist"]),
        (["sample", "ring", "--root", "{root}"], ["required", "--out"]),
        (["sample", "{tmp}/evil.pkl", "--out", "{tmp}/x.png"], ["refusing to load a pickle"]),
        (["eval", "ring", "-n", "0", "--root", "{root}"], ["argument -n"]),
        (["list", "--bogus"], ["unrecognized arguments: --bogus"]),
        ([], ["required"]),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, trained_root, tmp_path, args, needles):
    (tmp_path / "broken.json").write_text("{ nope")
    (tmp_path / "unknown-key.json").write_text(json.dumps({"model": {"colour": "red"}}))
    (tmp_path / "empty").mkdir()
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x04K\x01.")
    args = [a.format(tmp=tmp_path, root=trained_root) for a in args]
    assert_bad_input(run_main(capsys, *args), *needles)


def test_divergence_exits_1_with_a_message(tmp_path):
    result = genlab("train", *TINY_RING, "--loss", "least_squares", "--optimizer", "sgd", "--lr-d", "10",
                    "--lr-g", "10", "--beta1", "0.99", "--steps", "200", "--root", str(tmp_path), "--quiet")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: training diverged at step")
    assert "nothing was saved" in lines[0]


def test_config_layers_preset_then_file_then_flags(tmp_path):
    """The CLI starts from the app's preset for (family, dataset); --config goes on top, flags on top of both."""
    from genlab.cli import build_parser, config_from_args
    from genlab.presets import preset

    def config(*args):
        return config_from_args(build_parser().parse_args(["train", *args]))

    expected = RunConfig(name="shapes-vae").replace(**preset("vae", "shapes"))
    assert config("--family", "vae", "--dataset", "shapes").to_dict() == expected.to_dict()

    (tmp_path / "run.json").write_text(json.dumps({"name": "mine", "data": {"name": "shapes"},
                                                   "model": {"family": "vae", "latent_dim": 3}}))
    from_file = config("--config", str(tmp_path / "run.json"), "--beta", "4")
    assert from_file.name == "mine" and from_file.model.latent_dim == 3  # file over preset
    assert from_file.model.arch == preset("vae", "shapes")["model.arch"]  # preset where the file is silent
    assert from_file.objective.beta == 4.0  # flag over both
    assert config("--config", str(tmp_path / "run.json"), "--latent-dim", "5").model.latent_dim == 5


def test_log_every_records_every_nth_step_and_the_last(tmp_path, capsys):
    assert main(["train", *TINY_RING, "--steps", "10", "--log-every", "4", "--name", "sparse",
                 "--root", str(tmp_path), "--quiet"]) == 0
    assert load_run("sparse", root=tmp_path).history["step"] == [4.0, 8.0, 10.0]
    capsys.readouterr()


def test_interrupt_saves_the_steps_done_and_exits_130(tmp_path, capsys, monkeypatch):
    from genlab.trainers.gan import GANTrainer

    real_step = GANTrainer.step

    def step_until_ctrl_c(self):
        if self.step_count == 6:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(GANTrainer, "step", step_until_ctrl_c)
    code, out, err = run_main(capsys, "train", *TINY_RING, "--steps", "50", "--name", "cut", "--root", str(tmp_path),
                              "--quiet")
    assert code == 130 and out == ""
    assert err.startswith("genlab: interrupted at step 6; saved ") and len(err.splitlines()) == 1
    loaded = load_run("cut", root=tmp_path)
    assert loaded.trainer.step_count == 6 and loaded.history["step"] == [float(s) for s in range(1, 7)]


def test_the_runs_folder_defaults_to_the_apps(trained_root, tmp_path, monkeypatch):
    """With GENLAB_CHECKPOINT_DIR set (the app's runs folder), the CLI reads and writes there by default."""
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(trained_root))
    listed = genlab("list", "--json", cwd=tmp_path)
    assert listed.returncode == 0 and "ring" in {run["name"] for run in json.loads(listed.stdout)}, listed.stderr
    assert not (tmp_path / "checkpoints").exists()
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", "")  # unset: ./checkpoints, as before
    listed = genlab("list", "--json", cwd=tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
