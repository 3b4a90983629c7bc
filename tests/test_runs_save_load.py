"""genlab.runs save/load/listing: exact round trips, resume, and a clear refusal of every kind of bad run folder."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab.config import RunConfig
from genlab.runs import CheckpointError, list_runs, load_run, save_run, validate_run_dir
from genlab.runs.format import join_tree, split_tree
from genlab.trainers import make_trainer

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "ring-gan": {
        "name": "tiny-ring",
        "data": {"name": "ring", "n_samples": 256},
        "model": {"family": "gan", "arch": "mlp", "latent_dim": 4, "width": 16, "depth": 1},
        "optim": {"batch_size": 32, "lr_generator": 1e-3, "lr_discriminator": 1e-3},
        "stats_every": 2,
    },
    "shapes-vae": {
        "name": "tiny-shapes",
        "data": {"name": "shapes", "n_samples": 64, "image_size": 28},
        "model": {"family": "vae", "arch": "mlp", "latent_dim": 3, "width": 16, "depth": 1},
        "objective": {"beta": 4.0},
        "optim": {"batch_size": 16, "lr_encoder": 1e-3, "lr_decoder": 1e-3},
    },
    # conv GAN: BatchNorm buffers in G, spectral-norm parametrizations (u, v buffers) in D
    "shapes-conv-gan": {
        "name": "tiny-conv",
        "data": {"name": "shapes", "n_samples": 64, "image_size": 28},
        "model": {"family": "gan", "arch": "conv", "latent_dim": 4, "width": 4, "spectral_norm_discriminator": True},
        "objective": {"r1_gamma": 1.0},
        "optim": {"batch_size": 8},
    },
}


def tiny_config(kind: str = "ring-gan", **dotted) -> RunConfig:
    return RunConfig.from_dict(json.loads(json.dumps(TINY[kind]))).replace(**dotted)


def trained(kind: str = "ring-gan", steps: int = 3, **dotted):
    trainer = make_trainer(tiny_config(kind, **dotted), device="cpu")
    for _ in range(steps):
        trainer.step()
    return trainer


def samples(trainer, seed: int = 123, n: int = 16) -> torch.Tensor:
    z = torch.randn(n, trainer.latent_dim, generator=torch.Generator().manual_seed(seed))
    return trainer.generate(z)


# --- round trip and resume ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(TINY))
def test_round_trip_gives_bit_identical_samples_and_state(tmp_path, kind):
    trainer = trained(kind)
    history = {"step": [1.0, 2.0, 3.0], "loss/total": [3.0, 2.5, float("nan")]}
    path = save_run(trainer, history, root=tmp_path)
    assert path == tmp_path / trainer.config.name

    loaded = load_run(trainer.config.name, root=tmp_path)
    assert torch.equal(samples(loaded.trainer), samples(trainer))
    assert torch.equal(loaded.trainer.preview(), trainer.preview())
    assert loaded.trainer.step_count == 3 and loaded.meta["step"] == 3
    assert loaded.config.to_dict() == trainer.config.to_dict()
    assert loaded.history["step"] == [1.0, 2.0, 3.0] and loaded.history["loss/total"][-1] != loaded.history["loss/total"][-1]
    for name, net in trainer.networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(loaded.trainer.networks[name].state_dict()[key], value), (name, key)
    assert torch.equal(loaded.trainer.rng.get_state(), trainer.rng.get_state())
    assert (path / "preview.png").read_bytes().startswith(b"\x89PNG")
    assert (path / "metrics.csv").read_text().splitlines()[0] == "step,loss/total"


@pytest.mark.parametrize("kind", ["ring-gan", "shapes-vae"])
def test_resume_continues_exactly_where_training_stopped(tmp_path, kind):
    straight = trained(kind, steps=0)
    losses_straight = [straight.step() for _ in range(40)]

    first = trained(kind, steps=0)
    for _ in range(20):
        first.step()
    save_run(first, root=tmp_path)
    resumed = load_run(first.config.name, root=tmp_path).trainer
    assert resumed.step_count == 20
    losses_resumed = [resumed.step() for _ in range(20)]

    # The continued curve is the uninterrupted one: same optimizer moments, RNG, step count. The
    # per-layer σ_max is a diagnostic estimated by a power iteration whose warm start is not saved,
    # so a resumed run re-converges it: equal to 1 %, everything else exactly.
    def split(history):
        estimated = ("spectral_norm/", "operator_norm/")
        exact = [{k: v for k, v in m.items() if not k.startswith(estimated)} for m in history]
        sigmas = [{k: v for k, v in m.items() if k.startswith(estimated)} for m in history]
        return exact, sigmas

    exact_resumed, sigmas_resumed = split(losses_resumed)
    exact_straight, sigmas_straight = split(losses_straight[20:])
    assert exact_resumed == exact_straight
    for resumed_row, straight_row in zip(sigmas_resumed, sigmas_straight):
        assert resumed_row.keys() == straight_row.keys()
        assert all(resumed_row[k] == pytest.approx(straight_row[k], rel=1e-2) for k in resumed_row)
    key = "loss/total"
    initial, before_save = losses_straight[0][key], losses_straight[19][key]
    after_resume = losses_resumed[0][key]
    assert abs(after_resume - before_save) < abs(initial - before_save)  # no jump back to the start
    assert losses_resumed[0]["step"] == 21.0


def test_saving_does_not_disturb_training(tmp_path):
    a, b = trained(steps=5), trained(steps=5)
    save_run(a, root=tmp_path)
    assert [a.step() for _ in range(5)] == [b.step() for _ in range(5)]


def test_save_without_optimizer_still_loads_and_trains(tmp_path):
    trainer = trained(steps=4)
    full = save_run(trainer, root=tmp_path, name="full")
    slim = save_run(trainer, root=tmp_path, name="slim", include_optimizer=False)
    assert (slim / "training_state.safetensors").stat().st_size < (full / "training_state.safetensors").stat().st_size
    loaded = load_run("slim", root=tmp_path)
    assert loaded.trainer.step_count == 4
    assert torch.equal(samples(loaded.trainer), samples(trainer))
    assert loaded.trainer.optimizers["generator"].state == {}  # fresh moments
    loaded.trainer.step()


def test_new_save_replaces_the_old_one_and_leaves_no_scratch(tmp_path):
    trainer = trained(steps=1)
    save_run(trainer, root=tmp_path)
    trainer.step()
    save_run(trainer, root=tmp_path)
    assert load_run(trainer.config.name, root=tmp_path).trainer.step_count == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [trainer.config.name]


@pytest.mark.parametrize("other", ["folder", "file", "link"])
def test_save_never_replaces_what_is_not_a_run(tmp_path, other):
    trainer = trained(steps=1)
    target = tmp_path / "classifiers"
    kept = tmp_path / "elsewhere"
    kept.mkdir()
    if other == "folder":
        target.mkdir()
        (target / "mnist.safetensors").write_bytes(b"features")
    elif other == "file":
        target.write_bytes(b"features")
    else:
        target.symlink_to(kept)
    with pytest.raises(CheckpointError, match="is not a saved run"):
        save_run(trainer, root=tmp_path, name="classifiers")
    assert target.is_symlink() if other == "link" else target.exists()
    assert other != "folder" or (target / "mnist.safetensors").read_bytes() == b"features"
    save_run(trainer, root=tmp_path, name="ring")
    save_run(trainer, root=tmp_path, name="ring")  # a run is still replaced


def test_load_by_path_and_without_data(tmp_path):
    trainer = trained("shapes-vae")
    path = save_run(trainer, root=tmp_path)
    by_path = load_run(path)  # a pathlib.Path is a folder, whatever root says
    placeholder = load_run(str(path / "weights.safetensors"), load_data=False)
    assert by_path.data_available and not placeholder.data_available
    assert torch.equal(samples(placeholder.trainer), samples(trainer))


# --- refusing bad input -----------------------------------------------------------------------------------
class Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    assert not marker.exists()

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError, match="refusing to load a pickle"):
        load_run(evil)

    # torch.save format (a zip with a pickle inside), dropped into a run folder instead of safetensors
    run = save_run(trained(), root=tmp_path, name="victim")
    torch.save({"generator": Payload(marker)}, run / "weights.safetensors")
    with pytest.raises(CheckpointError, match="pickle"):
        load_run("victim", root=tmp_path)

    # a folder holding only a weights.pt: the pickle is named and never opened
    (run / "weights.safetensors").unlink()
    torch.save({"generator": Payload(marker)}, run / "weights.pt")
    with pytest.raises(CheckpointError, match=r"missing weights\.safetensors.*weights\.pt.*never loaded"):
        load_run("victim", root=tmp_path)
    with pytest.raises(CheckpointError, match="refusing to load a pickle"):
        load_run(run / "weights.pt")
    assert not marker.exists()


def test_truncated_safetensors_is_named(tmp_path):
    run = save_run(trained(), root=tmp_path, name="cut")
    weights = run / "weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: truncated"):
        load_run("cut", root=tmp_path)
    weights.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: truncated"):
        load_run("cut", root=tmp_path)
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # same size, one bit flipped
    with pytest.raises(CheckpointError, match=r"weights\.safetensors: changed or damaged"):
        load_run("cut", root=tmp_path)


def _rewrite_config(run: Path, **dotted) -> None:
    config = RunConfig.from_json((run / "config.json").read_text()).replace(**dotted)
    (run / "config.json").write_text(config.to_json())


def test_config_and_weights_mismatch_names_the_tensors(tmp_path):
    run = save_run(trained(), root=tmp_path, name="mixed")
    _rewrite_config(run, **{"model.width": 32})
    with pytest.raises(CheckpointError, match=r"wrong shapes: .*networks\.discriminator\.net\.1\.weight is \(16, 2\), the model needs \(32, 2\)"):
        load_run("mixed", root=tmp_path)

    _rewrite_config(run, **{"model.width": 16, "model.depth": 2})
    with pytest.raises(CheckpointError, match=r"missing tensors: networks\.discriminator\.net\.5\.bias.*wrong shapes: .*networks\.discriminator\.net\.3\.weight is \(1, 16\)"):
        load_run("mixed", root=tmp_path)

    # a config from another model family: every tensor is missing or unexpected
    (run / "config.json").write_text(tiny_config("shapes-vae").to_json())
    with pytest.raises(CheckpointError, match=r"missing tensors: networks\.decoder.*unexpected tensors: networks\.discriminator"):
        load_run("mixed", root=tmp_path)


def test_missing_tensor_and_bad_config_value_are_named(tmp_path):
    run = save_run(trained(), root=tmp_path, name="hole")
    weights = load_file(run / "weights.safetensors")
    del weights["networks.generator.net.0.bias"]
    save_file(weights, run / "weights.safetensors")
    meta = json.loads((run / "meta.json").read_text())
    del meta["files"]["weights.safetensors"]  # a hand-edited run without a checksum
    (run / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"missing tensors: networks\.generator\.net\.0\.bias"):
        load_run("hole", root=tmp_path)

    raw = json.loads((run / "config.json").read_text())
    raw["model"]["width"] = -3
    (run / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=r"config\.json: model\.width=-3 is invalid"):
        load_run("hole", root=tmp_path)
    (run / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: .*valid JSON"):
        load_run("hole", root=tmp_path)


@pytest.mark.parametrize(
    "name, problem",
    [
        ("", "empty"),
        ("../x", "not a path"),
        ("..", "not a path"),
        ("a/b", "not a path"),
        ("/abs", "not a path"),
        ("C:evil", "not a path"),
        ("a\nb", "control characters"),
        ("nul\x00", "control characters"),
        (".hidden", "starting with a letter or digit"),
        ("x" * 65, "1-64 characters"),
    ],
)
def test_bad_run_names_are_refused(tmp_path, name, problem, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "../x" must not name a folder that happens to exist beside the checkout
    trainer = trained(steps=0)
    with pytest.raises(CheckpointError, match=f"invalid run name .*{problem}"):
        save_run(trainer, root=tmp_path / "root", name=name)
    with pytest.raises(CheckpointError, match=f"invalid run name .*{problem}"):
        load_run(name, root=tmp_path / "root")
    assert sorted(p.name for p in tmp_path.rglob("*")) in ([], ["root"])  # nothing written anywhere


def test_unknown_run_lists_the_known_ones(tmp_path):
    save_run(trained(), root=tmp_path, name="known")
    with pytest.raises(CheckpointError, match="unknown run 'other'; runs in .*: known"):
        load_run("other", root=tmp_path)


def test_newer_format_is_refused(tmp_path):
    run = save_run(trained(), root=tmp_path, name="future")
    meta = json.loads((run / "meta.json").read_text())
    meta["format_version"] = 99
    (run / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="format 99.*upgrade genlab"):
        load_run("future", root=tmp_path)


# --- listing and validation ---------------------------------------------------------------------------
def test_list_runs_reports_broken_runs_instead_of_crashing(tmp_path):
    good = save_run(trained(), [], root=tmp_path, name="good")
    (tmp_path / "empty").mkdir()  # not a run: not listed
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "weights.pt").write_bytes(b"\x80\x04N.")
    (tmp_path / "classifiers").mkdir()  # another tool's folder: not a run
    (tmp_path / "classifiers" / "fashion_mnist.safetensors").write_bytes(b"")
    broken = save_run(trained(), root=tmp_path, name="broken")
    (broken / "config.json").write_text("{")
    (tmp_path / "_tmp-good-1-ab").mkdir()  # scratch folders are not runs
    (tmp_path / "notes.txt").write_text("not a run")

    runs = {r.name: r for r in list_runs(tmp_path)}
    assert sorted(runs) == ["broken", "good", "partial"]
    assert runs["good"].ok and runs["good"].family == "gan" and runs["good"].dataset == "ring"
    assert runs["good"].steps == 3 and runs["good"].has_preview and runs["good"].path == good
    assert runs["good"].settings["width"] == 16
    assert "missing config.json, meta.json, weights.safetensors (weights.pt found: pickle files are never loaded)" in (
        runs["partial"].error
    )
    assert "config.json: " in runs["broken"].error and "valid JSON" in runs["broken"].error
    assert list_runs(tmp_path / "nowhere") == []


def test_validate_run_dir_rejects_foreign_files(tmp_path):
    run = save_run(trained("shapes-vae"), root=tmp_path, name="upload")
    info = validate_run_dir(run)
    assert info.ok and info.family == "vae" and info.steps == 3
    (run / "extra.pkl").write_bytes(pickle.dumps(1))
    with pytest.raises(CheckpointError, match="unexpected file 'extra.pkl': a pickle file"):
        validate_run_dir(run)
    (run / "extra.pkl").unlink()
    (run / "preview.png").write_bytes(b"GIF89a")
    with pytest.raises(CheckpointError, match="preview.png: not a PNG"):
        validate_run_dir(run)


# --- killed mid-save ----------------------------------------------------------------------------------
KILL_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from genlab import atomic
    from genlab.config import RunConfig
    from genlab.runs import save_run
    from genlab.trainers import make_trainer

    root, stage, signal_file, config = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
    trainer = make_trainer(RunConfig.from_json(config), device="cpu")
    trainer.step()
    save_run(trainer, root=root, name="victim")  # the previous checkpoint: step 1
    trainer.step()

    def stop_here():
        signal_file.write_text("paused")
        time.sleep(120)  # the test kills us here

    if stage == "write":  # half of the new run's files written
        write = atomic.write_bytes
        count = [0]
        def slow_write(path, data):
            write(path, data)
            count[0] += 1
            if count[0] == 3:
                stop_here()
        atomic.write_bytes = slow_write
    else:  # "swap": the old run moved aside, the new one not yet in place
        rename = os.rename
        def slow_rename(src, dst):
            rename(src, dst)
            if Path(dst).name.startswith(atomic.OLD_PREFIX):
                stop_here()
        atomic.os.rename = slow_rename
    save_run(trainer, root=root, name="victim")
    print("save finished: the test did not kill in time", file=sys.stderr)
    """
)


@pytest.mark.parametrize("stage", ["write", "swap"])
def test_killed_mid_save_leaves_the_previous_checkpoint_loadable(tmp_path, stage):
    root, signal_file = tmp_path / "runs", tmp_path / "signal"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(root), stage, str(signal_file), tiny_config().to_json()],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 120
        while not signal_file.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the saving process never reached the pause"
            time.sleep(0.05)
        proc.kill()  # SIGKILL: no cleanup handlers run
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    leftovers = sorted(p.name for p in root.iterdir())
    if stage == "write":
        assert "victim" in leftovers and any(n.startswith("_tmp-victim-") for n in leftovers)
    else:
        assert "victim" not in leftovers and any(n.startswith("_old-victim-") for n in leftovers)

    loaded = load_run("victim", root=root)
    assert loaded.trainer.step_count == 1
    assert [r.name for r in list_runs(root)] == ["victim"]
    loaded.trainer.step()
    save_run(loaded.trainer, root=root, name="victim")  # cleans the dead process's scratch folders
    assert sorted(p.name for p in root.iterdir()) == ["victim"]
    assert load_run("victim", root=root).trainer.step_count == 2


def test_tree_encoding_keeps_types_without_pickle():
    state = {"a": (1, 2.5, None), 3: [torch.arange(3)], "__x": {"y": True}}
    tensors: dict = {}
    skeleton = split_tree(state, "s", tensors)
    json.dumps(skeleton)  # pure JSON
    back = join_tree(json.loads(json.dumps(skeleton)), tensors, "here")
    assert back["a"] == (1, 2.5, None) and back["__x"] == {"y": True}
    assert torch.equal(back[3][0], torch.arange(3))
    with pytest.raises(CheckpointError, match="missing"):
        join_tree(skeleton, {}, "here")
    with pytest.raises(CheckpointError, match="not a tensor or JSON value"):
        split_tree({"f": object()}, "s", {})


def test_run_whose_data_file_is_gone_still_loads_for_sampling(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path))  # data.path must lie in an allowed data root
    points = tmp_path / "points.csv"
    points.write_text("x,y\n" + "\n".join(f"{i % 7 - 3},{i % 5 - 2}" for i in range(64)) + "\n")
    trainer = trained(**{"data.name": "points", "data.path": str(points)})
    save_run(trainer, root=tmp_path / "runs", name="uploaded")
    points.unlink()
    loaded = load_run("uploaded", root=tmp_path / "runs")
    assert not loaded.data_available
    assert torch.equal(samples(loaded.trainer), samples(trainer))


SHIPPED = ("ring-gan", "shapes-beta-vae", "fashion-vae", "fashion-gan", "fashion500-gan")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_runs_are_valid_small_and_reproducible(name):
    """The pretrained runs in checkpoints/ still load with today's code (this fails when a trainer change
    breaks the format), stay small, and say which CLI command made them."""
    run = REPO / "checkpoints" / name
    info = validate_run_dir(run)  # strict: only run files; tensors checked against the config's model
    assert info.ok and info.steps > 0 and info.has_preview
    assert info.size_bytes < 5_000_000
    commands = (run / "COMMAND.txt").read_text().splitlines()
    assert commands and all(c.startswith("python -m genlab train ") for c in commands)
    assert json.loads((run / "meta.json").read_text())["command"] == "\n".join(commands)
    loaded = load_run(run, load_data=False)
    assert torch.isfinite(samples(loaded.trainer)).all()


def test_metrics_json_is_strict_json_and_gaps_read_back_as_nan(tmp_path):
    import json
    import math

    path = save_run(trained(steps=2), history={"step": [1.0, 2.0], "penalty/r1": [float("nan"), 0.5]}, root=tmp_path)

    def refuse(constant):
        raise ValueError(constant)

    raw = json.loads((path / "metrics.json").read_text(), parse_constant=refuse)
    assert raw["penalty/r1"] == [None, 0.5]
    history = load_run(path.name, root=tmp_path).history
    assert math.isnan(history["penalty/r1"][0]) and history["penalty/r1"][1] == 0.5
