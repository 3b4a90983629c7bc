"""A run can be made again: identical training writes byte-identical weight files (issue 11 item 7), and
every shipped run's COMMAND.txt, run with today's CLI, makes its config.json (issue 11 item 6)."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from genlab.runs import save_run
from genlab.runs.save import safetensors_bytes

from test_runs_hostile import tiny_trainer


def header_of(data: bytes) -> bytes:
    length = struct.unpack("<Q", data[:8])[0]
    return data[8:8 + length]


def test_metadata_keys_are_written_sorted_every_time():
    import torch

    metadata = {"zeta": "1", "format": "pt", "genlab": "weights", "alpha": "2"}
    for _ in range(12):  # the writer's own order is random per map: 12 sorted in a row is not luck (p ≈ 1e-16)
        header = json.loads(header_of(safetensors_bytes({"w": torch.ones(3)}, metadata)))
        assert list(header["__metadata__"]) == sorted(metadata)


def test_identical_training_gives_byte_identical_files(tmp_path):
    folders = []
    for copy in ("first", "second"):
        trainer = tiny_trainer(steps=4)
        folders.append(save_run(trainer, {"step": [1.0, 2.0]}, root=tmp_path / copy, name="same"))
    for fname in ("weights.safetensors", "training_state.safetensors", "config.json", "training_state.json",
                  "metrics.json", "preview.png"):
        assert (folders[0] / fname).read_bytes() == (folders[1] / fname).read_bytes(), fname


REPO = Path(__file__).resolve().parent.parent
SHIPPED_RUNS = sorted(p.parent.name for p in (REPO / "checkpoints").glob("*/COMMAND.txt"))


def replayed_config(commands: list[str]):
    """The config that running `commands` (a new run, then any --resume lines) gives with today's CLI:
    the first through the CLI's own config building, each resume line's flags on top."""
    import shlex

    from genlab.cli import build_parser, config_from_args
    from genlab.cli.flags import flag_values

    parser = build_parser()
    config = None
    for line in commands:
        words = shlex.split(line)
        assert words[:4] == ["python", "-m", "genlab", "train"], line
        args = parser.parse_args(words[3:])
        if args.resume:
            assert config is not None, "a run cannot start with --resume"
            config = config.replace(**flag_values(args))
        else:
            config = config_from_args(args)
    return config


def test_every_shipped_run_is_checked():
    assert {"ring-gan", "fashion-gan", "fashion-vae", "shapes-beta-vae"} <= set(SHIPPED_RUNS)


@pytest.mark.parametrize("name", SHIPPED_RUNS)
def test_a_shipped_runs_command_makes_its_config(name):
    from genlab.runs import load_run

    run = REPO / "checkpoints" / name
    commands = (run / "COMMAND.txt").read_text().splitlines()
    saved = load_run(run, load_data=False).config  # old field names upgraded as on load
    assert replayed_config(commands).to_dict() == saved.to_dict()


def test_the_cli_records_a_command_that_makes_the_run(tmp_path):
    """A run from a --config file plus flags is recorded as flags alone, which make the same config."""
    from genlab.cli import main
    from genlab.runs import load_run

    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps({"model": {"width": 8, "depth": 1}, "optim": {"batch_size": 16}}))
    assert main(["train", "--config", str(config_file), "--dataset", "ring", "--steps", "2", "--r1", "0.25",
                 "--n-samples", "64", "--name", "replay", "--root", str(tmp_path / "runs"), "--quiet",
                 "--log-every", "2", "--threads", "1"]) == 0
    run = tmp_path / "runs" / "replay"
    commands = (run / "COMMAND.txt").read_text().splitlines()
    assert str(tmp_path) not in "\n".join(commands) and "--threads" not in commands[0]
    assert "--log-every 2" in commands[0]
    assert replayed_config(commands).to_dict() == load_run(run, load_data=False).config.to_dict()
