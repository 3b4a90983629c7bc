"""benchmarks/image_presets.py runs end to end on a tiny budget and says what it measured."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "image_presets.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("image_presets_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tiny_budget_prints_a_table_with_fid_at_each_checkpoint_and_writes_a_grid(tmp_path, capsys):
    bench = load_benchmark()
    reason = bench.available("fashion_mnist-vae")
    if reason is not None:
        pytest.skip(reason)
    bench.main(["--presets", "fashion_mnist-vae", "--seconds", "2", "--every", "1", "--clock", "cpu",
                "--threads", "1", "--samples", "200", "--no-reference", "--save-grid", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| preset | precision | steps | steps/CPU s | FID at 1 CPU s | FID at 2 CPU s |" in out
    row = re.search(r"\| fashion_mnist-vae \| (bf16|fp32) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", out)
    assert row is not None, out
    assert int(row.group(2).replace(",", "")) > 0 and float(row.group(5)) > 0
    assert "1 torch thread(s), clock: cpu; load average" in out
    grid = Image.open(tmp_path / "fashion_mnist-vae.png")
    assert grid.size == (2 * (8 * 30 + 2), 2 * (8 * 30 + 2))  # 8 x 8 images of 28 px, 2 px padding, upscaled 2x


@pytest.mark.parametrize("argv, message", [
    (["--seconds", "10", "--every", "30"], "--every must be positive and at most --seconds"),
    (["--set", "optim.ema=0.9"], "--set optim.ema=0.9: no config field 'optim.ema'"),
    (["--set", "optim.ema_decay=2"], "--set optim.ema_decay=2: ema-decay=2.0 is invalid"),
])
def test_bad_arguments_are_refused_before_any_training(argv, message, capsys):
    with pytest.raises(SystemExit):
        load_benchmark().main(argv)
    assert message in capsys.readouterr().err
