"""How far the image presets get from scratch in two minutes: FID on genlab's classifier features.

Each run is built from genlab.presets (what the app's Train page and the CLI start from) with
`genlab.presets.config_for` and trained through `genlab.training.run` on `--threads` torch threads.
Training stops at every checkpoint of its clock (`--every`, default 30 s) and the run is evaluated
the way `python -m genlab eval RUN -n 1000` does (FID of `--samples` generated images against as many
held-out test images, seed 0); evaluation time is kept off the clock. The clock counts building the
trainer (data, networks) and training:

    --clock wall   wall-clock seconds (the issue's "2 minutes on 2 CPU cores"; needs a quiet machine)
    --clock cpu    this process's CPU seconds, all threads together: on a shared machine this is the
                   steadier figure; with --threads 1 it stands for wall-clock seconds on one idle core
                   (a second core usually adds steps, though small convolutions gain little from it)

It prints one markdown table (preset, the precision its steps ran in — `precision = auto` gives bf16
on a CPU with bf16 instructions —, steps reached, steps per clock second, FID at each checkpoint),
the FID of the shipped runs and of real test images against real training images (the floor), and
what the figures were measured on (CPU, threads, clock, load average before and after), so that the
output describes itself. `--save-grid DIR` writes 64 samples of each run at the end (DIR/<preset>.png).

    python benchmarks/image_presets.py                                    # 120 s per preset, wall clock
    nice -n 10 python benchmarks/image_presets.py --threads 1 --clock cpu --save-grid /tmp/grids
    python benchmarks/image_presets.py --presets fashion_mnist-gan --set optim.ema_decay=0.99
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from genlab.config import ConfigError, knob_for  # noqa: E402
from genlab.data import DataUnavailableError  # noqa: E402
from genlab.evaluation import evaluate, sample  # noqa: E402
from genlab.metrics.fid import reference_images, sample_fid, supports_fid  # noqa: E402
from genlab.presets import config_for  # noqa: E402
from genlab.share import parse_value  # noqa: E402
from genlab.trainers import make_trainer  # noqa: E402
from genlab.training import run  # noqa: E402

PRESETS = ("fashion_mnist-gan", "fashion_mnist-vae", "mnist-gan", "mnist-vae")
SHIPPED = ("fashion-gan", "fashion-vae")
EVAL_SEED = 0
GRID_SAMPLES = 64
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def parse_overrides(items: list[str], parser: argparse.ArgumentParser) -> dict:
    """["optim.ema_decay=0.99", "seed=1"] -> {"optim.ema_decay": 0.99, "seed": 1}, each typed by its
    knob; a usage error names a field that does not exist or a value it does not take."""
    overrides = {}
    for item in items:
        path, _, text = item.partition("=")
        try:
            overrides[path] = parse_value(knob_for(path), text)
        except KeyError:
            parser.error(f"--set {item}: no config field {path!r}")
        except ConfigError as error:
            parser.error(f"--set {item}: {error}")
    return overrides


def fid_now(trainer, n_samples: int) -> float:
    return evaluate(trainer, n_samples=n_samples, seed=EVAL_SEED, only=["fid"]).results["fid"]["fid"]


def train_for(preset_name: str, seconds: float, every: float, clock, n_samples: int, overrides: dict,
              grid_dir: Path | None) -> dict:
    """Train one preset from scratch for `seconds` of `clock`, with FID at every `every` seconds."""
    dataset, family = preset_name.rsplit("-", 1)
    started = clock()
    trainer = make_trainer(config_for(family, dataset, dotted={"device": "cpu", "name": "bench", **overrides}))
    spent = clock() - started
    row = {"preset": preset_name, "fids": {}, "diverged": None}
    checkpoint = every
    while checkpoint <= seconds + 1e-9:
        deadline = clock() + (checkpoint - spent)
        started = clock()
        result = run(trainer, gate=lambda: nullcontext(clock() < deadline))
        spent += clock() - started
        if result.error is not None:
            row["diverged"] = f"{result.error} (at {spent:.0f} s)"
            break
        row["fids"][checkpoint] = fid_now(trainer, n_samples)
        print(f"  {preset_name}: {checkpoint:g} s, step {trainer.step_count}, FID {row['fids'][checkpoint]:.1f}",
              file=sys.stderr, flush=True)
        checkpoint += every
    row.update(steps=trainer.step_count, seconds=spent, config=trainer.config, precision=trainer.precision)
    if grid_dir is not None:
        from genlab.atomic import write_bytes_atomic
        from genlab.pictures import image_grid, png_bytes

        images = sample(trainer, GRID_SAMPLES, torch.Generator().manual_seed(EVAL_SEED))
        write_bytes_atomic(grid_dir / f"{preset_name}.png", png_bytes(image_grid(images, nrow=8, upscale=2)))
    return row


def shipped_fid(name: str, n_samples: int) -> tuple[int, float]:
    from genlab.runs import load_run

    loaded = load_run(REPO / "checkpoints" / name, device="cpu")
    return loaded.trainer.step_count, fid_now(loaded.trainer, n_samples)


def real_floor(trainer_like_dataset: str, n_samples: int) -> float:
    """FID of n real test images against n real training images: what a perfect generator would score."""
    trainer = make_trainer(config_for("vae", trainer_like_dataset, dotted={"device": "cpu", "name": "floor"}))
    generator = torch.Generator().manual_seed(EVAL_SEED)
    test, _ = reference_images(trainer, n_samples, generator, "test")
    train, _ = reference_images(trainer, n_samples, generator, "train")
    return sample_fid(test, train, trainer_like_dataset)["fid"]


def available(preset_name: str) -> str | None:
    """None when the preset's data and FID classifier are here, else why it is skipped."""
    dataset, family = preset_name.rsplit("-", 1)
    try:
        make_trainer(config_for(family, dataset, dotted={"device": "cpu", "name": "probe"}))
    except DataUnavailableError as error:
        return str(error).splitlines()[0]
    if not supports_fid(dataset):
        return f"no FID classifier for {dataset} in checkpoints/classifiers"
    return None


def print_table(rows: list[dict], checkpoints: list[float], clock_name: str) -> None:
    unit = "CPU s" if clock_name == "cpu" else "s"
    print(f"| preset | precision | steps | steps/{unit} | "
          + " | ".join(f"FID at {c:g} {unit}" for c in checkpoints) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(checkpoints))
    for row in rows:
        fids = " | ".join(f"{row['fids'][c]:.1f}" if c in row["fids"] else "—" for c in checkpoints)
        print(f"| {row['preset']} | {row['precision']} | {row['steps']:,} | {row['steps'] / max(row['seconds'], 1e-9):.1f} | {fids} |")
    for row in rows:
        if row["diverged"]:
            print(f"\n{row['preset']} diverged: {row['diverged']}")


def describe_machine(threads: int, clock_name: str, load_before: tuple[float, ...]) -> str:
    load_after = os.getloadavg()
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, "
            f"{threads} torch thread(s), clock: {clock_name}; load average (1/5/15 min) before "
            f"{'/'.join(f'{x:.2f}' for x in load_before)}, after {'/'.join(f'{x:.2f}' for x in load_after)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="*", default=list(PRESETS), choices=PRESETS, metavar="DATASET-FAMILY",
                        help=f"default: every one whose data and classifier are here ({', '.join(PRESETS)})")
    parser.add_argument("--seconds", type=float, default=120.0, help="training budget per preset (default 120)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between FID checkpoints (default 30)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--samples", type=int, default=1000, help="images per FID (default 1000)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="overrides on top of every preset, e.g. optim.ema_decay=0.99")
    parser.add_argument("--save-grid", type=Path, metavar="DIR", help="write 64 samples per run to DIR/<preset>.png")
    parser.add_argument("--no-reference", action="store_true", help="skip the shipped runs' FID and the real floor")
    args = parser.parse_args(argv)
    if args.every <= 0 or args.seconds < args.every:
        parser.error("--every must be positive and at most --seconds")
    overrides = parse_overrides(args.set, parser)
    if args.save_grid is not None:
        args.save_grid.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    checkpoints = [args.every * k for k in range(1, int(args.seconds / args.every + 1e-9) + 1)]
    rows, skipped = [], {}
    for name in args.presets:
        reason = available(name)
        if reason is not None:
            skipped[name] = reason
            continue
        rows.append(train_for(name, args.seconds, args.every, CLOCKS[args.clock], args.samples, overrides,
                              args.save_grid))
    print(f"\nImage presets from scratch: FID on genlab classifier features (not Inception FID), "
          f"{args.samples:,} samples vs as many held-out test images, eval seed {EVAL_SEED}")
    print_table(rows, checkpoints, args.clock)
    for name, reason in skipped.items():
        print(f"\n{name} skipped: {reason}")
    if overrides:
        print(f"\noverrides on top of the presets: {overrides}")
    if not args.no_reference:
        print("\nFor scale (same FID settings):")
        for name in SHIPPED:
            steps, value = shipped_fid(name, args.samples)
            print(f"- shipped {name} ({steps:,} steps): FID {value:.1f}")
        print(f"- real test vs real train images (the floor): FID {real_floor('fashion_mnist', args.samples):.1f}")
    if args.save_grid is not None:
        print(f"\nsample grids: {', '.join(str(args.save_grid / (row['preset'] + '.png')) for row in rows)}")
    print(f"\nmeasured on: {describe_machine(args.threads, args.clock, load_before)}")


if __name__ == "__main__":
    main()
