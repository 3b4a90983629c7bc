"""`genlab train`: build a run (or resume one), train it through genlab.training.run, save it.

The run records the same metrics as in the app (genlab.training's history and quality hooks), so a
run trained here and one trained in the app with the same config have the same metrics.json.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from genlab import safe_json
from genlab.cli.args import DEFAULT_ROOT, PROG, UsageError
from genlab.cli.flags import check_family, command_flags, flag, flag_values, flag_words


def _read_config_file(path: str) -> dict:
    from genlab.runs.sizes import CONFIG_BYTES

    file = Path(path)
    if not file.exists():
        raise UsageError(f"--config {path}: no such file")
    if not file.is_file():
        kind = "a folder" if file.is_dir() else "not a regular file (a device, a pipe, ...)"
        raise UsageError(f"--config {path}: is {kind}; give a JSON file")
    try:
        raw = safe_json.load_file(file, CONFIG_BYTES, where=f"--config {path}")
    except safe_json.JSONError as exc:
        raise UsageError(str(exc)) from None
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path}: must be a JSON object")
    return raw


def _with_parent_model(raw: dict, flags: dict[str, Any], root: str) -> dict:
    """`raw` with the model section of the parent run (--from-run NAME, under --root) beneath its own:
    a transfer run keeps the parent's architecture unless the flags or --config say otherwise."""
    from genlab.transfer import parent_config

    transfer = raw.get("transfer") if isinstance(raw.get("transfer"), dict) else {}
    name = flags.get("transfer.from_run", transfer.get("from_run", ""))
    if not name:
        return raw
    parent_model = parent_config(name, root).to_dict()["model"]
    own_model = raw.get("model") if isinstance(raw.get("model"), dict) else {}
    return {**raw, "model": {**parent_model, **own_model}}


def config_from_args(args: argparse.Namespace):
    """RunConfig from, lowest priority first: the preset of (family, dataset) that the app uses too,
    the parent run's model (--from-run), --config (if any), then the flags. ConfigError for any invalid
    value; UsageError for a flag of the other model family."""
    from genlab.config import FAMILIES, DataConfig, ModelConfig
    from genlab.presets import config_for

    flags = flag_values(args)
    from_file = _with_parent_model(_read_config_file(args.config) if args.config else {}, flags,
                                   getattr(args, "root", DEFAULT_ROOT))
    model = from_file.get("model") if isinstance(from_file.get("model"), dict) else {}
    data = from_file.get("data") if isinstance(from_file.get("data"), dict) else {}
    family = flags.get("model.family", model.get("family", ModelConfig.family))
    dataset = flags.get("data.name", data.get("name", DataConfig.name))
    if family in FAMILIES:
        check_family(flags, family)
    return config_for(family, dataset, raw=from_file, dotted=flags)


def _run_options(args: argparse.Namespace) -> list[str]:
    """The options besides the config that change what a run saves (not --root, --threads, --quiet or
    --overwrite: they say where and how this machine ran it, so recorded commands carry no machine paths)."""
    words = ["--log-every", str(args.log_every)] if args.log_every != 1 else []
    if args.save_every:
        words += ["--save-every", str(args.save_every)]
    return words + (["--no-optimizer"] if args.no_optimizer else [])


def _command(words: list[str]) -> str:
    return "python -m genlab train " + shlex.join(words)


def _resumed(args: argparse.Namespace, root: Path, flags: dict[str, Any]):
    """(trainer, saved metrics table, run name, target step, the commands that made it) of --resume RUN."""
    from genlab.config import LIVE_FIELDS, get_dotted, knob_for
    from genlab.runs import check_name, load_run

    if args.config:
        raise UsageError("--config and --resume cannot be combined (a resumed run keeps its config)")
    loaded = load_run(args.resume, root=root, device=flags.get("device"))
    if not loaded.data_available:
        raise UsageError(f"cannot resume {args.resume}: its data set ({loaded.config.data.name}) is not available")
    trainer = loaded.trainer
    check_family(flags, trainer.config.model.family)
    fixed = {k: v for k, v in flags.items() if k not in LIVE_FIELDS and k not in ("steps", "name", "device")}
    changed = [k for k, v in fixed.items() if get_dotted(trainer.config, k) != v]
    if changed:
        raise UsageError(f"{flag(knob_for(changed[0]))} cannot change when resuming ({changed[0]} is fixed)")
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
    given = [word for path, value in flags.items() for word in flag_words(knob_for(path), value)]
    line = _command(["--resume", loaded.path.name, *given, *_run_options(args)])
    return trainer, loaded.history, name, target, "\n".join(filter(None, [loaded.meta.get("command", ""), line]))


def _new(args: argparse.Namespace, root: Path):
    """(trainer, no table, run name, target step, the command that makes its config) of a run built from
    the flags (and --config): every value that differs from the preset is recorded as a flag."""
    from genlab.runs import check_name
    from genlab.transfer import new_trainer

    config = config_from_args(args)
    name = check_name(config.name)
    if (root / name).exists() and not args.overwrite:
        raise UsageError(f"run {name!r} already exists in {root}; use --overwrite, --resume {name} or another --name")
    trainer = new_trainer(config, runs_root=root)
    if trainer.transfer is not None:
        print(f"transfer: {trainer.transfer.summary()}", file=sys.stderr)
    return trainer, None, name, config.steps, _command(command_flags(config) + _run_options(args))


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    from genlab.runs import prepare_root, save_run
    from genlab.runs.shipped import refuse_if_shipped
    from genlab.training import (
        DIVERGED, CheckpointHook, HistoryHook, MetricHistory, ProgressHook, QualityHook, run,
    )

    root = Path(args.root)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    trainer, table, name, target, command = (_resumed(args, root, flag_values(args)) if args.resume
                                             else _new(args, root))
    prepare_root(root)  # a root that cannot hold the run, or a shipped run, is refused before training
    refuse_if_shipped(root / name, "overwritten")
    history = MetricHistory.from_lists(table or {}, until_step=trainer.step_count)
    checkpoint = CheckpointHook(lambda t: save_run(t, history.to_lists(), root=root, name=name, command=command,
                                                   include_optimizer=not args.no_optimizer), every=args.save_every)
    quality = QualityHook(history)
    hooks = [HistoryHook(history, every=args.log_every), quality, checkpoint, ProgressHook(target, name, args.quiet)]
    started, first = time.perf_counter(), trainer.step_count
    try:
        result = run(trainer, until=target, hooks=hooks)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted at step {trainer.step_count}; saved {checkpoint.path}", file=sys.stderr)
        return 130
    if result.reason == DIVERGED:
        kept = f"the checkpoint of step {checkpoint.saved_at} is kept" if checkpoint.saved_at else "nothing was saved"
        print(f"{PROG}: error: {result.error}; {kept}", file=sys.stderr)
        return 1
    if quality.last_error:
        print(f"{PROG}: warning: quality metrics were not recorded ({quality.last_error})", file=sys.stderr)
    elapsed, done = time.perf_counter() - started, trainer.step_count - first
    rate = f" ({done / elapsed:.1f} steps/s)" if done and elapsed > 0 else ""
    print(f"saved {checkpoint.path} at step {trainer.step_count}{rate}")
    return 0
