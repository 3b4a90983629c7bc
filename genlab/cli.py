"""Command line: train, sample, list and evaluate runs.

    python -m genlab train --dataset ring --family gan --steps 3000 --name ring-gan
    python -m genlab train --config run.json --steps 500          # flags override the file
    python -m genlab train --resume ring-gan --steps 6000         # continue to step 6000
    python -m genlab sample ring-gan -n 64 --out grid.png --seed 0
    python -m genlab list
    python -m genlab eval ring-gan

The CLI builds a RunConfig and a trainer exactly as the app does (RunConfig.from_dict, make_trainer),
so the same config trains the same run from both. Bad input (unknown run, invalid value, missing file,
data not available) ends with exit status 2 and one line "genlab: error: ..." on stderr; a diverged
run ends with status 1.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

PROG = "genlab"
MAX_SAMPLES = {"images": 4096, "points": 100_000}


class UsageError(Exception):
    """Bad command-line input; reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        raise UsageError(message)


# Flags of `train` and the config fields they set. Each is validated by RunConfig, not by argparse,
# so the CLI and the app share one set of rules and messages.
TRAIN_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--family", "model.family", str, "gan or vae"),
    ("--dataset", "data.name", str, "ring, grid, spiral, moons, circles, checkerboard, swissroll, points, "
                                     "shapes, mnist, fashion_mnist, cifar10, folder"),
    ("--data-path", "data.path", str, "CSV of points, folder of images, or where torchvision sets live"),
    ("--n-samples", "data.n_samples", int, "size of synthetic data sets"),
    ("--image-size", "data.image_size", int, "28, 32 or 64 (shapes, folder)"),
    ("--arch", "model.arch", str, "mlp or conv"),
    ("--latent-dim", "model.latent_dim", int, "latent dimensions"),
    ("--width", "model.width", int, "hidden units (mlp) or base channels (conv)"),
    ("--depth", "model.depth", int, "hidden layers (mlp)"),
    ("--loss", "objective.gan_loss", str, "nonsaturating, minimax, hinge, wasserstein, least_squares"),
    ("--likelihood", "objective.likelihood", str, "VAE decoder: bernoulli or gaussian"),
    ("--gaussian-std", "objective.gaussian_std", float, "std of the Gaussian likelihood"),
    ("--beta", "objective.beta", float, "VAE KL weight β"),
    ("--capacity", "objective.capacity", float, "VAE KL capacity C (nats)"),
    ("--kl-warmup", "objective.kl_warmup_steps", int, "steps over which β ramps up from 0"),
    ("--l1-g", "objective.l1_g", float, "L1 weight penalty on G / decoder"),
    ("--l2-g", "objective.l2_g", float, "L2 weight penalty on G / decoder"),
    ("--l1-d", "objective.l1_d", float, "L1 weight penalty on D / encoder"),
    ("--l2-d", "objective.l2_d", float, "L2 weight penalty on D / encoder"),
    ("--weight-clip", "objective.weight_clip", float, "clip D weights to [-c, c] (0 = off)"),
    ("--gp", "objective.gp_lambda", float, "WGAN-GP weight λ"),
    ("--r1", "objective.r1_gamma", float, "R1 penalty γ"),
    ("--r2", "objective.r2_gamma", float, "R2 penalty γ"),
    ("--grad-clip", "objective.grad_clip", float, "max gradient norm per network (0 = off)"),
    ("--optimizer", "optim.optimizer", str, "adam, rmsprop or sgd"),
    ("--lr-g", "optim.lr_g", float, "learning rate of G / decoder"),
    ("--lr-d", "optim.lr_d", float, "learning rate of D / encoder"),
    ("--beta1", "optim.beta1", float, "Adam β1 (SGD momentum)"),
    ("--beta2", "optim.beta2", float, "Adam β2"),
    ("--batch-size", "optim.batch_size", int, "samples per step"),
    ("--n-critic", "optim.n_critic", int, "D steps per G step"),
    ("--ema-decay", "optim.ema_decay", float, "GAN samples from an EMA of G's weights with this decay (0 = off)"),
    ("--steps", "steps", int, "train until this step count"),
    ("--seed", "seed", int, "random seed"),
    ("--name", "name", str, "run name (folder under --root)"),
    ("--device", "device", str, "auto, cpu, cuda or mps"),
    ("--stats-every", "stats_every", int, "per-layer norms every N steps"),
]
BOOL_FLAGS = [
    ("--spectral-norm-d", "model.spectral_norm_d", "spectral norm on D / encoder"),
    ("--spectral-norm-g", "model.spectral_norm_g", "spectral norm on G / decoder"),
    ("--download", "data.download", "download torchvision data sets when missing"),
]


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _int_in(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in [{low}, {high}]")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train, sample, list and evaluate small GANs and VAEs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,list,eval}")

    train = commands.add_parser("train", help="train a run (or resume one) and save it")
    train.add_argument("--config", metavar="RUN.json", help="run config (JSON); flags override its values")
    train.add_argument("--resume", metavar="RUN", help="continue a saved run (name under --root, or a folder)")
    for flag, field, kind, text in TRAIN_FLAGS:
        train.add_argument(flag, dest=_dest(flag), type=kind, default=None, help=f"{text} [{field}]")
    for flag, field, text in BOOL_FLAGS:
        train.add_argument(flag, dest=_dest(flag), action=argparse.BooleanOptionalAction, default=None,
                           help=f"{text} [{field}]")
    train.add_argument("--root", default="checkpoints", help="folder of runs (default: checkpoints)")
    train.add_argument("--save-every", type=_int_in(1, 10**9), default=None, metavar="N",
                       help="also save every N steps (the run is always saved at the end)")
    train.add_argument("--log-every", type=_int_in(1, 10**9), default=None, metavar="N",
                       help="record metrics every N steps (default: about 2000 points per run)")
    train.add_argument("--no-optimizer", action="store_true", help="save without optimizer state (smaller)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=_int_in(1, 1024), default=None, metavar="N",
                       help="CPU threads for torch (default: torch's choice, usually one per core)")
    train.set_defaults(func=cmd_train)

    sample = commands.add_parser("sample", help="draw samples from a run into a PNG (or CSV for 2D points)")
    sample.add_argument("run", metavar="RUN", help="run name under --root, or a run folder")
    sample.add_argument("-n", type=_int_in(1, MAX_SAMPLES["points"]), default=64, help="number of samples")
    sample.add_argument("--out", required=True, help="output file: .png (grid or scatter) or .csv (2D points)")
    sample.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0, help="seed of the latent noise")
    sample.add_argument("--nrow", type=_int_in(1, 1000), default=None, help="images per row of the grid")
    sample.add_argument("--root", default="checkpoints")
    sample.add_argument("--device", default=None, help="auto, cpu, cuda or mps (default: the run's)")
    sample.set_defaults(func=cmd_sample)

    listing = commands.add_parser("list", help="list saved runs")
    listing.add_argument("--root", default="checkpoints")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_list)

    evaluate = commands.add_parser("eval", help="print a run's metrics as JSON")
    evaluate.add_argument("run", metavar="RUN")
    evaluate.add_argument("-n", type=_int_in(1, 1_000_000), default=2500, help="samples to evaluate")
    evaluate.add_argument("--seed", type=_int_in(0, 2**63 - 1), default=0)
    evaluate.add_argument("--k", type=_int_in(1, 5000), nargs="+", default=[1, 10, 100],
                          help="importance samples for the VAE NLL estimates")
    evaluate.add_argument("--root", default="checkpoints")
    evaluate.add_argument("--device", default=None)
    evaluate.set_defaults(func=cmd_eval)
    return parser


# --- train ----------------------------------------------------------------------------------------------
def _read_config_file(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path}: must be a JSON object")
    return raw


def _flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """{dotted config field: value} for every flag given on the command line."""
    values = {}
    for flag, field, _, _ in TRAIN_FLAGS:
        if getattr(args, _dest(flag)) is not None:
            values[field] = getattr(args, _dest(flag))
    for flag, field, _ in BOOL_FLAGS:
        if getattr(args, _dest(flag)) is not None:
            values[field] = getattr(args, _dest(flag))
    return values


def _set_dotted(raw: dict, field: str, value: Any) -> None:
    from genlab.config import ConfigError

    node = raw
    *parents, leaf = field.split(".")
    for part in parents:
        if not isinstance(node.setdefault(part, {}), dict):
            raise ConfigError(part, node[part], "must be a JSON object")
        node = node[part]
    node[leaf] = value


def _merge(base: dict, top: dict) -> dict:
    """`top` over `base`, recursively for nested sections."""
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def config_from_args(args: argparse.Namespace):
    """RunConfig from, lowest priority first: the preset of (family, dataset) that the app uses too,
    --config (if any), then the flags. ConfigError for any invalid value."""
    from genlab.config import DataConfig, ModelConfig, RunConfig
    from genlab.presets import preset

    from_file = _read_config_file(args.config) if args.config else {}
    flags = _flag_values(args)
    model = from_file.get("model") if isinstance(from_file.get("model"), dict) else {}
    data = from_file.get("data") if isinstance(from_file.get("data"), dict) else {}
    family = flags.get("model.family", model.get("family", ModelConfig.family))
    dataset = flags.get("data.name", data.get("name", DataConfig.name))
    raw: dict = {}
    if isinstance(family, str) and isinstance(dataset, str):
        for field, value in preset(family, dataset).items():
            _set_dotted(raw, field, value)
    _merge(raw, from_file)
    for field, value in flags.items():
        _set_dotted(raw, field, value)
    if "name" not in raw:
        raw["name"] = f"{dataset}-{family}".replace("_", "-")
    return RunConfig.from_dict(raw)


class History:
    """Metrics recorded every `every` steps as aligned columns (a key seen late is NaN before)."""

    def __init__(self, every: int, initial: dict[str, list[float]] | None = None):
        self.every = every
        self.columns: dict[str, list[float]] = {k: list(v) for k, v in (initial or {}).items()}
        self.rows = max((len(v) for v in self.columns.values()), default=0)
        self.latest: dict[str, float] = {}

    def add(self, metrics: dict[str, float], force: bool = False) -> None:
        self.latest.update(metrics)  # per-layer statistics arrive every stats_every steps: keep the last
        if not force and int(metrics["step"]) % self.every:
            return
        for key, value in self.latest.items():
            column = self.columns.setdefault(key, [])
            column.extend([math.nan] * (self.rows - len(column)))
            column.append(float(f"{value:.6g}"))  # 6 significant digits keep metrics.json small
        self.rows += 1
        for column in self.columns.values():
            column.extend([math.nan] * (self.rows - len(column)))

    def last_step(self) -> int | None:
        steps = self.columns.get("step")
        return int(steps[-1]) if steps else None


def _command_line(argv: list[str]) -> str:
    return "python -m genlab " + shlex.join(argv)


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    from genlab.config import LIVE_FIELDS
    from genlab.runs import check_name, load_run, save_run
    from genlab.trainers import DivergenceError, make_trainer

    root = Path(args.root)
    flags = _flag_values(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    loaded = None
    if args.resume:
        if args.config:
            raise UsageError("--config and --resume cannot be combined (a resumed run keeps its config)")
        loaded = load_run(args.resume, root=root, device=flags.get("device"))
        if not loaded.data_available:
            raise UsageError(f"cannot resume {args.resume}: its data set ({loaded.config.data.name}) is not available")
        trainer, history_start = loaded.trainer, loaded.history
        fixed = {k: v for k, v in flags.items() if k not in LIVE_FIELDS and k not in ("steps", "name", "device")}
        changed = {k: v for k, v in fixed.items() if _get_dotted(trainer.config, k) != v}
        if changed:
            field = next(iter(changed))
            raise UsageError(f"--{field.split('.')[-1].replace('_', '-')} cannot change when resuming ({field} is fixed)")
        live = {k: v for k, v in flags.items() if k in LIVE_FIELDS}
        if live:
            trainer.update(**live)
        target = flags.get("steps", max(trainer.config.steps, trainer.step_count))
        if target < trainer.step_count:
            raise UsageError(f"--steps {target} is below the step the run has reached ({trainer.step_count})")
        name = check_name(flags.get("name", loaded.path.name))
        if name != loaded.path.name and (root / name).exists() and not args.overwrite:
            raise UsageError(f"run {name!r} already exists in {root}; use --overwrite or another --name")
        if "steps" in flags:
            trainer.config = trainer.config.replace(steps=target)
    else:
        config = config_from_args(args)
        name = check_name(config.name)
        if (root / name).exists() and not args.overwrite:
            raise UsageError(f"run {name!r} already exists in {root}; use --overwrite, --resume {name} or another --name")
        trainer = make_trainer(config)
        history_start = None
        target = config.steps

    every = args.log_every or max(1, math.ceil(target / 2000))
    history = History(every, history_start)
    command = _command_line(argv)
    if args.resume and loaded.meta.get("command"):
        command = f"{loaded.meta['command']}\n{command}"  # every command that shaped the run, in order
    save_kwargs = dict(root=root, name=name, include_optimizer=not args.no_optimizer, command=command)

    from tqdm import tqdm

    start = time.perf_counter()
    first = trainer.step_count
    bar = tqdm(total=target, initial=first, unit="step", disable=True if args.quiet else None,
               dynamic_ncols=True, file=sys.stderr, desc=name)
    metrics: dict[str, float] = {}
    saved_at = None
    try:
        while trainer.step_count < target:
            metrics = trainer.step()
            history.add(metrics)
            bar.update(1)
            if trainer.step_count % 50 == 0 or trainer.step_count == target:
                bar.set_postfix(_headline(metrics), refresh=False)
            if args.save_every and trainer.step_count % args.save_every == 0 and trainer.step_count < target:
                save_run(trainer, history.columns, **save_kwargs)
                saved_at = trainer.step_count
    except DivergenceError as exc:
        bar.close()
        kept = f"the checkpoint of step {saved_at} is kept" if saved_at else "nothing was saved"
        print(f"{PROG}: error: {exc}; {kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        bar.close()
        if metrics and history.last_step() != trainer.step_count:
            history.add(metrics, force=True)
        path = save_run(trainer, history.columns, **save_kwargs)
        print(f"{PROG}: interrupted at step {trainer.step_count}; saved {path}", file=sys.stderr)
        return 130
    bar.close()
    if metrics and history.last_step() != trainer.step_count:
        history.add(metrics, force=True)  # the final step is always in the history
    path = save_run(trainer, history.columns, **save_kwargs)
    elapsed = time.perf_counter() - start
    done = trainer.step_count - first
    rate = f" ({done / elapsed:.1f} steps/s)" if done and elapsed > 0 else ""
    print(f"saved {path} at step {trainer.step_count}{rate}")
    return 0


def _get_dotted(config, field: str) -> Any:
    node = config
    for part in field.split("."):
        node = getattr(node, part)
    return node


def _headline(metrics: dict[str, float]) -> dict[str, str]:
    keys = ("loss/d", "loss/g", "loss/total", "loss/recon", "loss/kl")
    return {k.split("/")[-1]: f"{metrics[k]:.4g}" for k in keys if k in metrics}


# --- sample / list / eval -------------------------------------------------------------------------------
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
    write_bytes_atomic(out, data)
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


# --- entry point ----------------------------------------------------------------------------------------
def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 diverged, 2 bad input, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        from genlab.config import ConfigError
        from genlab.data import DataUnavailableError
        from genlab.runs import CheckpointError

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
