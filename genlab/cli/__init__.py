"""Command line: train, sample, list and evaluate runs.

    python -m genlab train --dataset ring --family gan --steps 3000 --name ring-gan
    python -m genlab train --config run.json --steps 500          # flags override the file
    python -m genlab train --resume ring-gan --steps 6000         # continue to step 6000
    python -m genlab train --from-run fashion-gan --dataset fashion_mnist --train-size 500 --freeze-d 1 \
        --lr-scale 0.5 --steps 500 --name fashion500-ft   # transfer: start from a saved run's weights
    python -m genlab sample ring-gan -n 64 --out grid.png --seed 0
    python -m genlab list
    python -m genlab eval ring-gan

The CLI builds a RunConfig and a trainer exactly as the app does (RunConfig.from_dict, make_trainer)
and trains through the same loop and hooks, so the same config trains the same run, with the same
metrics.json, from both. Bad input (unknown run, invalid value, missing file, data not available)
ends with exit status 2 and one line "genlab: error: ..." on stderr; a diverged run ends with status 1.
"""
from __future__ import annotations

import argparse
import os
import sys

from genlab.cli.args import DEFAULT_ROOT, ENV_CHECKPOINT_DIR, PROG, Parser, UsageError, int_in
from genlab.cli.commands import MAX_SAMPLES, cmd_eval, cmd_list, cmd_sample
from genlab.cli.flags import add_config_flags
from genlab.cli.train import cmd_train, config_from_args

__all__ = ["build_parser", "config_from_args", "main"]


def add_root(command: argparse.ArgumentParser) -> None:
    """--root, whose default is the app's runs folder when GENLAB_CHECKPOINT_DIR names one: runs trained
    with the CLI then show on the app's Runs page, and the app's runs can be sampled and evaluated."""
    command.add_argument("--root", default=os.environ.get(ENV_CHECKPOINT_DIR) or DEFAULT_ROOT,
                         help=f"folder of runs (default: ${ENV_CHECKPOINT_DIR} if set, else {DEFAULT_ROOT})")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Train, sample, list and evaluate small GANs and VAEs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,list,eval}")

    train = commands.add_parser("train", help="train a run (or resume one) and save it")
    train.add_argument("--config", metavar="RUN.json", help="run config (JSON); flags override its values")
    train.add_argument("--resume", metavar="RUN", help="continue a saved run (name under --root, or a folder)")
    add_config_flags(train)
    add_root(train)
    train.add_argument("--save-every", type=int_in(1, 10**9), default=None, metavar="N",
                       help="also save every N steps (the run is always saved at the end)")
    train.add_argument("--log-every", type=int_in(1, 10**9), default=1, metavar="N",
                       help="record the metrics of every N-th step only (default 1: every step, as the app "
                            "does; the saved table keeps at most 20,000 rows either way)")
    train.add_argument("--no-optimizer", action="store_true", help="save without optimizer state (smaller)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=int_in(1, 1024), default=None, metavar="N",
                       help="CPU threads for torch (default: torch's choice, usually one per core)")
    train.set_defaults(func=cmd_train)

    sample = commands.add_parser("sample", help="draw samples from a run into a PNG (or CSV for 2D points)")
    sample.add_argument("run", metavar="RUN", help="run name under --root, or a run folder")
    sample.add_argument("-n", type=int_in(1, MAX_SAMPLES["points"]), default=64, help="number of samples")
    sample.add_argument("--out", required=True, help="output file: .png (grid or scatter) or .csv (2D points)")
    sample.add_argument("--seed", type=int_in(0, 2**63 - 1), default=0, help="seed of the latent noise")
    sample.add_argument("--nrow", type=int_in(1, 1000), default=None, help="images per row of the grid")
    add_root(sample)
    sample.add_argument("--device", default=None, help="auto, cpu, cuda or mps (default: the run's)")
    sample.set_defaults(func=cmd_sample)

    listing = commands.add_parser("list", help="list saved runs")
    add_root(listing)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_list)

    evaluate = commands.add_parser("eval", help="print a run's metrics as JSON")
    evaluate.add_argument("run", metavar="RUN")
    evaluate.add_argument("-n", type=int_in(1, 1_000_000), default=2500, help="samples to evaluate")
    evaluate.add_argument("--seed", type=int_in(0, 2**63 - 1), default=0)
    evaluate.add_argument("--k", type=int_in(1, 5000), nargs="+", default=[1, 10, 100],
                          help="importance samples for the VAE NLL estimates")
    add_root(evaluate)
    evaluate.add_argument("--device", default=None)
    evaluate.set_defaults(func=cmd_eval)
    return parser


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 diverged, 2 bad input, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        from genlab.runs import CheckpointError
        from genlab.config import ConfigError
        from genlab.data import DataUnavailableError

        try:
            return args.func(args, argv)
        except (CheckpointError, ConfigError, DataUnavailableError) as exc:
            raise UsageError(str(exc)) from None
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
