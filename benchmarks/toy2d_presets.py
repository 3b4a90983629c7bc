"""How fast the 2D GAN presets learn PacGAN's ring of 8 and grid of 25 Gaussians, in CPU seconds.

Each run is built from genlab.presets (what the app and the CLI start from) and trained through
genlab.training.run on one torch thread. Every `--check-every` steps training pauses and the run is
evaluated the way `python -m genlab eval` does (2,500 samples drawn with seed 0, the mode metrics of
genlab.metrics.modes); evaluation time is left out of the CPU seconds, which count building the
trainer (data, networks) plus training, with time.process_time (this process's CPU time, so other
jobs on the machine slow the wall clock but not the figure much). A throwaway run trains a few steps
first (warm_up), so that the process's one-time imports are not charged to the first seed.

A run "reaches" its target at the first check where it covers every mode with at least the target
share of high-quality samples (ring: 8/8 and 95 %, grid: 25/25 and 90 %). The table shows that step and
its CPU seconds, and the numbers at the preset's step budget (`steps` in the preset).

    python benchmarks/toy2d_presets.py                          # both presets, seeds 0-4 (~3 CPU min)
    python benchmarks/toy2d_presets.py --dataset grid --seeds 5-9
    python benchmarks/toy2d_presets.py --dataset ring --vary objective.r1_gamma=0,0.01,0.1 model.width=64,128
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from genlab.config import RunConfig  # noqa: E402
from genlab.evaluation import evaluate  # noqa: E402
from genlab.presets import preset  # noqa: E402
from genlab.trainers import make_trainer  # noqa: E402
from genlab.training import run  # noqa: E402

TARGETS = {"ring": (8, 0.95), "grid": (25, 0.90)}  # (modes, high-quality share) a run must reach
CPU_BUDGET_S = 5.0


def parse_seeds(text: str) -> list[int]:
    """"0-4" -> [0, 1, 2, 3, 4]; "0,3,7" -> [0, 3, 7]."""
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def config_for(dataset: str, seed: int, overrides: dict) -> RunConfig:
    return RunConfig(name=f"{dataset}-bench", seed=seed, device="cpu").replace(
        **{**preset("gan", dataset), **overrides})


def modes_now(trainer) -> dict[str, float]:
    return evaluate(trainer, only=["modes"]).results["modes"]


def reached(dataset: str, result: dict) -> bool:
    modes, share = TARGETS[dataset]
    return result["modes_covered"] >= modes and result["high_quality_fraction"] >= share


def warm_up(dataset: str) -> float:
    """Build and train a throwaway run for a few steps, so that what a process does once (torch imports
    torch._dynamo when it builds the first optimizer, ≈ 1.3 CPU s; the first evaluation's imports) is not
    charged to the first seed. The app does this in its spare worker before a run needs it. Returns its
    CPU seconds."""
    started = time.process_time()
    trainer = make_trainer(config_for(dataset, 0, {}))
    run(trainer, until=20)
    modes_now(trainer)
    return time.process_time() - started


def train_and_check(dataset: str, seed: int, overrides: dict, check_every: int, stop_early: bool = False,
                    max_cpu_s: float = float("inf")) -> dict:
    """Train one run to its step budget, evaluating every `check_every` steps. Returns the step and
    CPU seconds at which it first reached its target (None if never) and the final numbers. With
    `stop_early`, stop at the target; in any case stop once past `max_cpu_s`."""
    cpu = 0.0
    started = time.process_time()
    trainer = make_trainer(config_for(dataset, seed, overrides))
    budget = trainer.config.steps
    cpu += time.process_time() - started
    first = None
    result = {}
    while trainer.step_count < budget and cpu <= max_cpu_s:
        started = time.process_time()
        outcome = run(trainer, until=min(budget, trainer.step_count + check_every))
        cpu += time.process_time() - started
        if outcome.error is not None:
            return {"seed": seed, "diverged": str(outcome.error), "first": first, "steps": trainer.step_count,
                    "cpu_s": cpu, **result}
        result = modes_now(trainer)
        if first is None and reached(dataset, result):
            first = (trainer.step_count, cpu)
            if stop_early:
                break
    return {"seed": seed, "first": first, "steps": trainer.step_count, "cpu_s": cpu, **result}


def print_table(dataset: str, rows: list[dict]) -> None:
    modes, share = TARGETS[dataset]
    print(f"\n{dataset}: target {modes}/{modes} modes and >= {share:.0%} high-quality samples "
          f"within {CPU_BUDGET_S:g} CPU s (1 thread); 2,500 samples, eval seed 0")
    print("| seed | reached at step | CPU s then | steps | CPU s | modes | HQ % | reverse KL |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        first = f"{row['first'][0]:,} | {row['first'][1]:.2f}" if row["first"] else "— | —"
        print(f"| {row['seed']} | {first} | {row['steps']:,} | {row['cpu_s']:.2f} | "
              f"{row.get('modes_covered', 0)}/{row.get('modes_total', modes)} | "
              f"{100 * row.get('high_quality_fraction', 0):.1f} | {row.get('reverse_kl', float('nan')):.3f} |")
    ok = sum(1 for row in rows if row["first"] and row["first"][1] <= CPU_BUDGET_S)
    print(f"reached within {CPU_BUDGET_S:g} CPU s: {ok}/{len(rows)} seeds; "
          f"median CPU s to reach: {median_or_dash([row['first'][1] for row in rows if row['first']])}")


def median_or_dash(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "—"


# --- search --------------------------------------------------------------------------------------
def parse_vary(items: list[str]) -> dict[tuple[str, ...], list]:
    """["optim.lr_generator+optim.lr_discriminator=1e-3,2e-3", "model.width=64,128"] ->
    {("optim.lr_generator", "optim.lr_discriminator"): [0.001, 0.002], ("model.width",): [64, 128]}:
    fields joined by + take the same value."""
    space = {}
    for item in items:
        fields, values = item.split("=", 1)
        space[tuple(fields.split("+"))] = [parse_value(value) for value in values.split(",")]
    return space


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def search(dataset: str, seeds: list[int], check_every: int, space: dict, fixed: dict, max_cpu_s: float) -> None:
    """Every combination of `space` on `seeds`, stopping each run at its target or past `max_cpu_s`;
    sorted by the worst seed's CPU seconds to reach the target (never reached: infinite)."""
    scores = []
    for values in itertools.product(*space.values()):
        overrides = dict(fixed)
        for fields, value in zip(space, values):
            overrides.update({field: value for field in fields})
        rows = [train_and_check(dataset, seed, overrides, check_every, stop_early=True, max_cpu_s=max_cpu_s)
                for seed in seeds]
        times = [row["first"][1] if row["first"] else float("inf") for row in rows]
        # steps do not depend on the machine's load, CPU seconds do
        steps = [row["first"][0] if row["first"] else float("inf") for row in rows]
        hq = [row.get("high_quality_fraction", 0.0) for row in rows]
        scores.append((max(times), statistics.median(times), overrides))
        print(f"worst {max(times):6.2f} s  median {statistics.median(times):6.2f} s  "
              f"steps {statistics.median(steps):6.0f} / {max(steps):6.0f} (median / worst)  "
              f"min HQ {100 * min(hq):5.1f} %  {overrides}", flush=True)
    print("\nbest:")
    for worst, median, overrides in sorted(scores, key=lambda s: (s[0], s[1]))[:5]:
        print(f"worst {worst:6.2f} s  median {median:6.2f} s  {overrides}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("ring", "grid", "both"), default="both")
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 5-9 or 0,3 (default 0-4)")
    parser.add_argument("--check-every", type=int, default=100, help="steps between evaluations (default 100)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="overrides on top of the preset, e.g. optim.batch_size=128")
    parser.add_argument("--vary", nargs="*", default=[], metavar="FIELDS=V1,V2",
                        help="search: try every combination, e.g. "
                             "optim.lr_generator+optim.lr_discriminator=1e-3,2e-3 model.width=64,128")
    parser.add_argument("--max-cpu", type=float, default=2 * CPU_BUDGET_S, help="search: give up on a run past this")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    fixed = {key: parse_value(value) for key, value in (item.split("=", 1) for item in args.set)}
    seeds = parse_seeds(args.seeds)
    for dataset in ("ring", "grid") if args.dataset == "both" else (args.dataset,):
        print(f"warm-up (not counted): {warm_up(dataset):.2f} CPU s")
        if args.vary:
            search(dataset, seeds, args.check_every, parse_vary(args.vary), fixed, args.max_cpu)
        else:
            print_table(dataset, [train_and_check(dataset, seed, fixed, args.check_every) for seed in seeds])
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} thread, overrides: {fixed or 'none'}")


if __name__ == "__main__":
    main()
