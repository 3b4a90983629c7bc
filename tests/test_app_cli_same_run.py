"""A run trained in the app (TrainingRunner) and one trained by the CLI, same seed and config, are the
same on disk: byte-identical metrics.json (and equal weights), whatever the live view drew meanwhile."""
from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from genlab.cli import main
from genlab.config import RunConfig
from genlab.live import PAUSED, CapacityLimiter, TrainingRunner

STEPS = 230  # crosses the quality metrics (every 100 steps) and the layer norms (every 50)
CONFIG = RunConfig(name="same", seed=3, device="cpu", steps=STEPS).replace(**{
    "data.n_samples": 1000, "model.width": 32, "optim.batch_size": 64, "objective.r1_gamma": 0.1,
})


def test_app_and_cli_write_the_same_metrics(tmp_path, monkeypatch, wait_until):
    monkeypatch.setenv("GENLAB_TORCH_THREADS", "1")
    runner = TrainingRunner(CONFIG, capacity=CapacityLimiter(limit=1))
    try:
        runner.start(until=150)  # the thread, with a viewer asking for pictures all along ...
        wait_until(lambda: runner.snapshot(want_scene=True).state == PAUSED, timeout=60, what="step 150")
        assert runner.step_count == 150 and runner.snapshot().scene is not None
        for _ in range(STEPS - 150):  # ... then manual steps, through the same hooks
            runner.step()
        app = runner.save(name="app", root=str(tmp_path))
    finally:
        runner.close()

    (tmp_path / "run.json").write_text(CONFIG.to_json())
    assert main(["train", "--config", str(tmp_path / "run.json"), "--name", "cli", "--root", str(tmp_path),
                 "--threads", "1", "--quiet"]) == 0
    cli = tmp_path / "cli"

    app_metrics, cli_metrics = (app / "metrics.json").read_bytes(), (cli / "metrics.json").read_bytes()
    assert app_metrics == cli_metrics
    app_weights, cli_weights = (load_file(str(path / "weights.safetensors")) for path in (app, cli))
    assert app_weights.keys() == cli_weights.keys()
    assert all(torch.equal(app_weights[key], cli_weights[key]) for key in app_weights)
    table = json.loads(app_metrics, parse_constant=lambda token: (_ for _ in ()).throw(ValueError(token)))
    assert table["step"] == [float(s) for s in range(1, STEPS + 1)]
    measured = [table["step"][i] for i, v in enumerate(table["quality/modes_covered"]) if v is not None]
    assert measured == [100.0, 200.0]  # scheduled by steps, null elsewhere
    norms = next(k for k in table if k.startswith("weight_norm/"))
    assert [table["step"][i] for i, v in enumerate(table[norms]) if v is not None] == [50.0 * k for k in range(1, 5)]
