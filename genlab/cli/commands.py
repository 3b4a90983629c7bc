"""`genlab sample`, `genlab list` and `genlab eval`: read saved runs."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from genlab.cli.args import PROG, UsageError

MAX_SAMPLES = {"images": 4096, "points": 100_000}


def _load(args: argparse.Namespace, load_data: bool = False):
    from genlab.runs import load_run

    device = args.device
    if device is not None:
        from genlab.trainers import pick_device

        device = pick_device(device)
    return load_run(args.run, root=args.root, device=device, load_data=load_data)


def cmd_sample(args: argparse.Namespace, argv: list[str]) -> int:
    import torch

    from genlab.atomic import write_bytes_atomic
    from genlab.pictures import samples_png

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".csv"):
        raise UsageError(f"--out {args.out}: must end in .png or .csv")
    if not out.parent.is_dir():
        raise UsageError(f"--out {args.out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise UsageError(f"--out {args.out}: is a folder; give the name of a file to write")
    loaded = _load(args)
    trainer = loaded.trainer
    kind = trainer.data.kind
    if args.n > MAX_SAMPLES[kind]:
        raise UsageError(f"argument -n: {args.n} is not in [1, {MAX_SAMPLES[kind]}] for {kind}")
    if suffix == ".csv" and kind != "points":
        raise UsageError(f"--out {args.out}: CSV output is for 2D points; use .png for images")

    from genlab.evaluation import sample

    samples = sample(trainer, args.n, torch.Generator().manual_seed(args.seed))
    if suffix == ".csv":
        lines = ["x,y"] + [f"{x:.7g},{y:.7g}" for x, y in samples.tolist()]
        data = ("\n".join(lines) + "\n").encode()
    else:
        reference = None
        if kind == "points":
            reference = _reference_points(loaded)
        data = samples_png(samples, reference=reference, nrow=args.nrow)
    try:
        write_bytes_atomic(out, data)
    except OSError as exc:
        raise UsageError(f"--out {args.out}: cannot be written ({exc.strerror or exc})") from None
    print(f"wrote {args.n} samples of {loaded.path.name} (step {trainer.step_count}, seed {args.seed}) to {out}")
    return 0


def _reference_points(loaded):
    """1000 real points to draw under 2D samples, or None when the data cannot be loaded."""
    import torch

    from genlab.data import load_data

    try:
        data = load_data(loaded.config.data, "cpu", seed=loaded.config.seed)
    except Exception:  # a picture without reference points is still useful
        return None
    return data.x[torch.randint(len(data), (1000,), generator=torch.Generator().manual_seed(0))]


def cmd_list(args: argparse.Namespace, argv: list[str]) -> int:
    from genlab.runs import list_runs

    runs = list_runs(args.root)
    if args.json:
        rows = [{**vars(r), "path": str(r.path)} for r in runs]
        print(json.dumps(rows, indent=2))
        return 0
    if not runs:
        print(f"no runs in {args.root}")
        return 0
    header = ("NAME", "FAMILY", "DATASET", "ARCH", "STEPS", "SIZE", "SETTINGS", "FINAL")
    table = [header]
    for r in runs:
        if r.error:
            table.append((r.name, "-", "-", "-", "-", "-", f"BROKEN: {r.error}", ""))
            continue
        settings = " ".join(f"{k}={_short(v)}" for k, v in r.settings.items())
        final = " ".join(f"{k}={v:.4g}" for k, v in r.final_metrics.items() if k.startswith(("loss/", "value/")))
        table.append((r.name, r.family, r.dataset, r.arch, str(r.steps), _size(r.size_bytes), settings, final))
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 2)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + "  ".join(row[len(widths):]))
    return 0


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f}MB" if n >= 1e5 else f"{n / 1e3:.0f}kB"


def cmd_eval(args: argparse.Namespace, argv: list[str]) -> int:
    from genlab.evaluation import evaluate

    loaded = _load(args, load_data=True)  # evaluators apply by what the data has (modes, factors, ...)
    evaluation = evaluate(loaded.trainer, n_samples=args.n, seed=args.seed, ks=tuple(args.k))
    print(json.dumps(evaluation.report(loaded.path.name), indent=2))
    for name, reason in evaluation.skipped.items():
        print(f"{PROG} eval: {name} not measured: {reason}", file=sys.stderr)
    return 0
