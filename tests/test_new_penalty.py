"""A penalty added in three files (its function in genlab/regularizers.py, its strength as a knob in
genlab/config/sections.py, its line in genlab/trainers/penalties.py) reaches the Train page, the CLI and
the Runs table with no page or CLI edit. Shown with orthogonal regularization of the generator."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from genlab.config import RunConfig
from genlab.runs.labels import run_settings, settings_text, table_rows
from test_app_train import app, runner_of  # noqa: F401 - `app` is the Train page fixture

REPO = Path(__file__).resolve().parents[1]


def test_it_is_a_live_slider_on_the_train_page(app):  # noqa: F811
    runner = runner_of(app)
    slider = app.select_slider(key="live.ortho-g")
    assert slider.label.startswith("Orthogonality penalty on G's weights") and slider.value == 0.0
    assert "0 (off)" in slider.options
    app.button(key="btn.step").click().run()
    assert "penalty/ortho_g" not in runner.snapshot().last  # off: not computed
    slider.set_value(1e-3).run()
    assert not app.exception and runner.trainer.config.objective.ortho_generator == 1e-3
    app.button(key="btn.step").click().run()
    assert runner.snapshot().last["penalty/ortho_g"] > 0


def test_it_is_a_cli_flag_that_trains_and_a_runs_table_label(tmp_path):
    env = {"PYTHONPATH": str(REPO)}
    help_text = subprocess.run([sys.executable, "-m", "genlab", "train", "--help"], cwd=REPO, env=env,
                               capture_output=True, text=True, check=True).stdout
    assert "--ortho-g FLOAT" in help_text and "[objective.ortho_generator]" in help_text
    result = subprocess.run(
        [sys.executable, "-m", "genlab", "train", "--dataset", "ring", "--n-samples", "256", "--width", "16",
         "--depth", "1", "--batch-size", "32", "--device", "cpu", "--steps", "3", "--ortho-g", "0.01",
         "--name", "ortho", "--root", str(tmp_path), "--quiet"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    config = RunConfig.from_json((tmp_path / "ortho" / "config.json").read_text())
    assert config.objective.ortho_generator == 0.01
    metrics = json.loads((tmp_path / "ortho" / "metrics.json").read_text())
    assert len(metrics["penalty/ortho_g"]) == 3 and all(value > 0 for value in metrics["penalty/ortho_g"])

    from genlab.runs import list_runs

    (info,) = list_runs(tmp_path)
    assert "ortho(G) 0.01" in table_rows([info])[0]["settings"]
    assert "ortho(G)" not in settings_text(run_settings(RunConfig()))  # off: no label
