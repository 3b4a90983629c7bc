"""Load a saved run into a trainer ready to sample from or to resume, checking everything before use.

Weights and state are checked against the model the run's config builds (names, shapes, optimizer
groups) before anything is applied, so a damaged or mismatched run gives a CheckpointError naming the
file and the problem and never a half-restored trainer.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.config import ConfigError, RunConfig
from genlab.runs.format import (
    CONFIG_FILE,
    DEFAULT_ROOT,
    MAX_RUN_BYTES,
    METRICS_JSON_FILE,
    PICKLE_SUFFIXES,
    PREVIEW_FILE,
    RUN_FILES,
    STATE_JSON_FILE,
    STATE_TENSORS_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    check_required,
    flatten_networks,
    join_tree,
    load_tensors,
    read_config,
    read_file,
    read_json,
    read_meta,
)
from genlab.runs.listing import RunInfo, info_from, resolve_run

PLACEHOLDER_ORIGIN = "placeholder: the data set is not available"


@dataclass
class LoadedRun:
    trainer: Any  # GANTrainer | VAETrainer, with weights, optimizer state, step and RNG restored
    history: dict[str, list[float]]
    config: RunConfig
    path: Path
    meta: dict[str, Any]
    # False when the training data could not be loaded (e.g. Fashion-MNIST missing on this machine):
    # the trainer then holds a one-sample placeholder, enough to sample and explore, not to train.
    data_available: bool = True


def load_run(
    name_or_path: str | os.PathLike,
    root: str | os.PathLike = DEFAULT_ROOT,
    device: str | torch.device | None = None,
    load_data: bool = True,
) -> LoadedRun:
    """Load a saved run by name (under `root`) or path, ready to sample from or to resume training.

    The trainer continues where it stopped: step count, optimizer state, RNG state and fixed noise are
    restored. `device=None` uses the saved config's device when available, else the best one here.
    When the data set cannot be loaded (or `load_data=False`), the trainer gets a placeholder data source
    and `data_available` is False: sampling works, training does not make sense.
    """
    path = resolve_run(name_or_path, root)
    check_required(path)
    meta = read_meta(path)
    config = read_config(path)
    weights = load_tensors(path / WEIGHTS_FILE, meta)  # checked before any model is built
    trainer, data_available = _build_trainer(config, meta, device, load_data, path)
    _restore_state(trainer, path, meta, weights)
    return LoadedRun(
        trainer=trainer,
        history=read_history(path),
        config=trainer.config,
        path=path,
        meta=meta,
        data_available=data_available,
    )


def validate_run_dir(path: str | os.PathLike, strict: bool = True) -> RunInfo:
    """Check a run folder completely (e.g. an uploaded one) without loading its data set; returns its info.

    Raises CheckpointError naming the problem. With `strict`, any file that is not part of the run format
    (a pickle, a script, a subfolder, a symbolic link) is an error too, and the whole folder has a size limit.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a folder")
    if strict:
        total = 0
        for entry in path.iterdir():
            if entry.is_symlink() or not entry.is_file():
                raise CheckpointError(f"{path}: {entry.name} is not a regular file; a run folder holds only files")
            if entry.name not in RUN_FILES:
                kind = "a pickle file (never loaded)" if entry.suffix.lower() in PICKLE_SUFFIXES else "not a run file"
                raise CheckpointError(f"{path}: unexpected file {entry.name!r}: {kind}; allowed: {', '.join(RUN_FILES)}")
            total += entry.stat().st_size
        if total > MAX_RUN_BYTES:
            raise CheckpointError(f"{path}: the run is too large ({total} bytes, limit {MAX_RUN_BYTES})")
        if (path / PREVIEW_FILE).exists() and not read_file(path / PREVIEW_FILE).startswith(b"\x89PNG\r\n\x1a\n"):
            raise CheckpointError(f"{path / PREVIEW_FILE}: not a PNG image")
    loaded = load_run(path, device="cpu", load_data=False)
    return info_from(path, loaded.config, loaded.meta)


def read_history(path: Path) -> dict[str, list[float]]:
    """The run's metrics.json as {metric: [values]} with NaN where a step has no value ({} if none)."""
    if not (path / METRICS_JSON_FILE).exists():
        return {}
    raw = read_json(path / METRICS_JSON_FILE)
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise CheckpointError(f"{path / METRICS_JSON_FILE}: must map metric names to lists of numbers")
    try:
        return {str(k): [math.nan if x is None else float(x) for x in v] for k, v in raw.items()}
    except (TypeError, ValueError):
        raise CheckpointError(f"{path / METRICS_JSON_FILE}: must map metric names to lists of numbers") from None


# --- building the trainer ------------------------------------------------------------------------------
def _placeholder_data(config: RunConfig, meta: dict[str, Any], device: torch.device):
    """A one-sample DataSource of the saved data shape, so a run can be sampled without its data set."""
    from genlab.data import DataSource

    shape = meta.get("data_shape")
    kind = meta.get("data_kind")
    if kind not in ("points", "images") or not isinstance(shape, list) or not all(isinstance(n, int) for n in shape):
        return None
    if kind == "points":
        x = torch.zeros(1, *shape, dtype=torch.float32, device=device)
    else:
        x = torch.zeros(1, *shape, dtype=torch.uint8, device=device)
    return DataSource(name=config.data.name, kind=kind, x=x, origin=PLACEHOLDER_ORIGIN)


def _build_trainer(config: RunConfig, meta: dict[str, Any], device, load_data: bool, path: Path):
    """(trainer, data_available). A data set that cannot be loaded (not downloaded here, an uploaded
    file that is gone) gives a placeholder, so the run can still be sampled and explored."""
    from genlab.data import DataUnavailableError
    from genlab.trainers import make_trainer, pick_device

    if device is None:
        try:
            device = pick_device(config.device)
        except ConfigError:  # saved on a GPU machine, loaded on one without it
            device = pick_device("auto")
    device = pick_device(device)
    placeholder = _placeholder_data(config, meta, device)
    data = None if load_data or placeholder is None else placeholder
    try:
        try:
            return make_trainer(config, device=device, data=data), data is None
        except (DataUnavailableError, ConfigError) as exc:
            data_problem = isinstance(exc, DataUnavailableError) or exc.field.startswith("data")
            if placeholder is None or data is not None or not data_problem:
                raise
            return make_trainer(config, device=device, data=placeholder), False
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    except DataUnavailableError:
        raise
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the model in {CONFIG_FILE} cannot be built ({exc})") from None


# --- restoring its state -------------------------------------------------------------------------------
def _describe_mismatch(what: str, expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str | None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [
        f"{k} is {tuple(found[k].shape)}, the model needs {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(found))
        if tuple(found[k].shape) != tuple(expected[k].shape)
    ]
    parts = []

    def listed(keys: list[str]) -> str:
        return ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")

    if missing:
        parts.append(f"missing tensors: {listed(missing)}")
    if unexpected:
        parts.append(f"unexpected tensors: {listed(unexpected)}")
    if wrong:
        parts.append(f"wrong shapes: {listed(wrong)}")
    if not parts:
        return None
    return f"{what} does not match the model its {CONFIG_FILE} builds — " + "; ".join(parts)


def _restore_state(trainer, path: Path, meta: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
    """Check everything against the freshly built trainer, then load it (nothing is half-applied)."""
    fresh = trainer.state_dict()
    problem = _describe_mismatch(WEIGHTS_FILE, flatten_networks(fresh["networks"]), weights)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    state = dict(fresh)
    state["networks"] = {
        net: {k[len(f"networks.{net}.") :]: v for k, v in weights.items() if k.startswith(f"networks.{net}.")}
        for net in fresh["networks"]
    }

    skeleton = {}
    tensors: dict[str, torch.Tensor] = {}
    if (path / STATE_JSON_FILE).exists():
        skeleton = read_json(path / STATE_JSON_FILE)
        if not isinstance(skeleton, dict):
            raise CheckpointError(f"{path / STATE_JSON_FILE}: must be a JSON object")
        if (path / STATE_TENSORS_FILE).exists():
            tensors = load_tensors(path / STATE_TENSORS_FILE, meta)
    try:
        saved = join_tree(skeleton, tensors, str(path / STATE_JSON_FILE))
    except RecursionError:
        raise CheckpointError(f"{path / STATE_JSON_FILE}: nested too deeply") from None

    if "step" in saved:
        if isinstance(saved["step"], bool) or not isinstance(saved["step"], int) or saved["step"] < 0:
            raise CheckpointError(f"{path / STATE_JSON_FILE}: step must be a non-negative integer")
        state["step"] = saved["step"]
    else:
        state["step"] = int(meta.get("step", 0))
    for key in ("rng", "fixed_noise", "ada"):  # ada: a GAN's adaptive augmentation (p, r_t)
        value = saved.get(key)
        if key in fresh and isinstance(value, torch.Tensor) and value.shape == fresh[key].shape \
                and value.dtype == fresh[key].dtype:
            state[key] = value
        # else: another device's RNG (CUDA states differ from CPU ones) or none saved: keep the fresh one
    if "optimizers" in saved:
        state["optimizers"] = _checked_optimizers(trainer, path, saved["optimizers"])
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: the saved state does not fit the model ({exc})") from None


def _checked_optimizers(trainer, path: Path, saved: Any) -> dict[str, Any]:
    where = path / STATE_JSON_FILE
    if not isinstance(saved, dict) or set(saved) != set(trainer.optimizers):
        found = sorted(saved) if isinstance(saved, dict) else saved
        raise CheckpointError(f"{where}: optimizers {found} do not match the trainer's {sorted(trainer.optimizers)}")
    for name, opt in trainer.optimizers.items():
        state = saved[name]
        if not isinstance(state, dict) or "state" not in state or "param_groups" not in state:
            raise CheckpointError(f"{where}: optimizer {name!r} has no state/param_groups")
        params = [p for group in opt.param_groups for p in group["params"]]
        groups = state["param_groups"]
        sizes = [len(g.get("params", [])) if isinstance(g, dict) else -1 for g in groups]
        if sizes != [len(g["params"]) for g in opt.param_groups]:
            raise CheckpointError(f"{where}: optimizer {name!r} parameter groups do not match the model")
        if not isinstance(state["state"], dict):
            raise CheckpointError(f"{where}: optimizer {name!r} state must be a mapping")
        for index, entry in state["state"].items():
            if not isinstance(index, int) or not 0 <= index < len(params) or not isinstance(entry, dict):
                raise CheckpointError(f"{where}: optimizer {name!r} has state for unknown parameter {index!r}")
            for key, value in entry.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != params[index].shape:
                    raise CheckpointError(
                        f"{where}: optimizer {name!r} {key} of parameter {index} is {tuple(value.shape)}, "
                        f"the model needs {tuple(params[index].shape)}"
                    )
    return saved
