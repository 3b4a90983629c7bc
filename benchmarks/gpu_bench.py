"""Steps/s of every shipped model on the CPU and on CUDA, in float32 and in bf16 autocast, through
genlab's training loop (the metric history recorded, as the app does), with the achieved TFLOP/s set
against a matmul peak measured on the same device in the same run (float32 and bf16; before and after
the models, the higher reading counts).

The models are train_bench.py's (genlab.presets' defaults). `precision` is the run setting: bf16 means
bf16 autocast for the step and, for conv models on CUDA, channels_last weights (genlab.trainers.base).
Each cell is the median of alternating rounds; on CUDA each round ends with a synchronize.

    python benchmarks/gpu_bench.py                                  # every model, every device found
    python benchmarks/gpu_bench.py --devices cpu --precisions fp32 --models ring-gan --rounds 3
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.train_bench import (MODELS, flops_of, machine, matmul_peak_gflops, model_config,  # noqa: E402
                                    synchronize, through_the_loop)
from genlab.trainers import make_trainer  # noqa: E402
from genlab.training import run  # noqa: E402
from genlab.training.host_syncs import HostSyncs  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_peak_tflops(device: str, precision: str) -> float:
    return matmul_peak_gflops(device, DTYPES[precision]) / 1e3


# Where bf16 autocast starts to pay on CUDA: the shipped image models made wider and fed bigger batches
SWEEP = {"fashion-gan": ("model.width", (16, 64, 256), (64, 256)),
         "fashion-vae": ("model.width", (400, 1024, 2048), (128, 1024))}


def steps_per_second(name: str, device: str, precision: str, rounds: int, seconds: float,
                     **overrides) -> tuple[float, int]:
    """(median steps/s over `rounds` rounds of ~`seconds`, FLOPs of one step)."""
    trainer = make_trainer(model_config(name, device=device, precision=precision, **overrides))
    train = through_the_loop(trainer)
    flops = flops_of(train)

    def timed(n: int) -> float:
        synchronize(device)
        started = time.perf_counter()
        train(n)
        synchronize(device)
        return n / (time.perf_counter() - started)

    n = max(3, round(timed(3) * seconds))
    return statistics.median(timed(n) for _ in range(rounds)), flops


def host_syncs(name: str) -> str:
    """Where a step of `name` on CUDA (the app's precision setting) makes the host wait for the device:
    counted over two periods of the per-layer statistics, told apart from the steps that compute them."""
    trainer = make_trainer(model_config(name, device="cuda"))
    every = trainer.config.stats_every
    run(trainer, until=3)  # warm-up: the first steps also allocate and pick kernels
    syncs = HostSyncs()
    run(trainer, until=trainer.step_count + 2 * every, hooks=[syncs])
    ordinary = [sites for step, sites in syncs.per_step.items() if step % every]
    stats = [sites for step, sites in syncs.per_step.items() if not step % every]
    where = collections.Counter(site for sites in ordinary for site in sites)
    return (f"{name}: {sum(map(len, ordinary)) / len(ordinary):.2f} per ordinary step "
            f"({', '.join(f'{site} ×{count}' for site, count in where.most_common())}), "
            f"{statistics.median(map(len, stats)):g} in a step with the per-layer statistics (every {every})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    found = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--devices", nargs="+", choices=("cpu", "cuda"), default=found)
    parser.add_argument("--precisions", nargs="+", choices=tuple(DTYPES), default=list(DTYPES))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--sweep", action="store_true",
                        help="also time float32 against bf16 on CUDA for wider models and bigger batches")
    args = parser.parse_args(argv)
    if ("cuda" in args.devices or args.sweep) and not torch.cuda.is_available():
        print("gpu_bench: error: --devices cuda or --sweep, but torch sees no CUDA device", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine(), flush=True)
    if torch.cuda.is_available():
        print(f"CUDA device: {torch.cuda.get_device_name()}", flush=True)
    def measure_peaks() -> dict[tuple[str, str], float]:
        return {(device, precision): matmul_peak_tflops(device, precision)
                for device in args.devices for precision in args.precisions}

    # measured before and after the models, the higher counting: one reading of a second can come out
    # low (a CPU's clock still ramping up, another job), which would put the models above "peak"
    first = measure_peaks()
    print("matmul peak TFLOP/s at the start: " + ", ".join(f"{d} {p} {v:.2f}" for (d, p), v in first.items()),
          flush=True)
    rows = []
    for name in args.models:
        for device in args.devices:
            for precision in args.precisions:
                rate, flops = steps_per_second(name, device, precision, args.rounds, args.seconds)
                rows.append((name, device, precision, rate, flops))
                print(f"  {name} {device} {precision}: {rate:,.1f} steps/s", flush=True)
    last = measure_peaks()
    print("matmul peak TFLOP/s at the end: " + ", ".join(f"{d} {p} {v:.2f}" for (d, p), v in last.items()))
    peaks = {key: max(first[key], last[key]) for key in first}
    print("\n| model | device | precision | steps/s | GFLOP/step | TFLOP/s | % of matmul peak |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name, device, precision, rate, flops in rows:
        achieved = rate * flops / 1e12
        print(f"| {name} | {device} | {precision} | {rate:,.1f} | {flops / 1e9:.3f} | {achieved:.3f} "
              f"| {100 * achieved / peaks[device, precision]:.1f}% |")
    print(f"\n{args.rounds} rounds of ~{args.seconds:g} s per cell, medians; load average {os.getloadavg()[0]:.1f}")
    if "cuda" in args.devices:
        print("\nHost waits for the GPU (torch.cuda sync debug mode), per step:")
        for name in args.models:
            print("  " + host_syncs(name), flush=True)
    if args.sweep:
        print("\nbf16 against float32 on CUDA as the models grow (steps/s; ratio > 1: bf16 faster):")
        print("| model | width | batch | GFLOP/step | fp32 steps/s | bf16 steps/s | bf16/fp32 | fp32 TFLOP/s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, (key, widths, batches) in SWEEP.items():
            for width in widths:
                for batch in batches:
                    sizes = {key: width, "optim.batch_size": batch}
                    fp32, flops = steps_per_second(name, "cuda", "fp32", args.rounds, args.seconds, **sizes)
                    bf16, _ = steps_per_second(name, "cuda", "bf16", args.rounds, args.seconds, **sizes)
                    print(f"| {name} | {width} | {batch} | {flops / 1e9:.2f} | {fp32:,.1f} | {bf16:,.1f} "
                          f"| {bf16 / fp32:.2f} | {fp32 * flops / 1e12:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
