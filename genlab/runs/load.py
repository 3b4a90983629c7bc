"""Load a saved run into a trainer ready to sample from or to resume, checking everything before use.

In this order, so that a hostile or damaged run costs nothing large: meta.json against its schema, the
config, the size of its model against genlab.models.budget, the size of every file against what that
model needs (genlab.runs.sizes), the safetensors headers; then the trainer is built (from the config
alone: meta.json's data shape is only used when the config allows it) and the headers are compared
with its tensors (names, shapes, dtypes) before any tensor of the file is created; last the checksums
and the values (no NaN or infinity). Any problem is a CheckpointError naming the file, never a
half-restored trainer. All files are read at once under the folder's lock (genlab.atomic.folder_lock),
so a save that replaces the run meanwhile is seen completely or not at all.
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab import atomic
from genlab.config import ConfigError, RunConfig
from genlab.data.standardize import Standardization
from genlab.models.budget import check_model_budget, data_shapes
from genlab.runs.format import (
    CONFIG_FILE,
    DEFAULT_ROOT,
    MAX_JSON_BYTES,
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
    join_tree,
    read_config,
    read_file,
    read_json,
    read_meta,
)
from genlab.runs.listing import RunInfo, info_from, resolve_run
from genlab.runs.meta import MAX_STEP
from genlab.runs.optimizer_state import checked_optimizers
from genlab.runs.sizes import PREVIEW_MAX_SIDE, SMALL_FILES, file_limits
from genlab.runs.tensors import check_matches, check_safetensors, load_checked

PLACEHOLDER_ORIGIN = "placeholder: the data set is not available"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


@dataclass
class RunFiles:
    """Everything load_run reads from a run folder, read in one go and checked for size and form."""

    path: Path
    meta: dict[str, Any]
    config: RunConfig
    data_shape: tuple[int, ...]
    weights: bytes
    weights_header: dict[str, Any]
    state: Any  # training_state.json ({} when absent)
    state_tensors: bytes | None
    state_header: dict[str, Any]
    history: dict[str, list[float]]


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
    files = read_run(resolve_run(name_or_path, root))
    path = files.path
    trainer, data_available = _build_trainer(files, device, load_data)
    fresh = trainer.state_dict()
    expected = {f"networks.{net}.{key}": value for net, state in fresh["networks"].items() for key, value in state.items()}
    check_matches(files.weights_header, expected, path / WEIGHTS_FILE, WEIGHTS_FILE)
    weights = load_checked(files.weights, path / WEIGHTS_FILE, files.meta["files"].get(WEIGHTS_FILE))
    _restore_state(trainer, files, fresh, weights)
    return LoadedRun(trainer=trainer, history=files.history, config=trainer.config, path=path, meta=files.meta,
                     data_available=data_available)


def read_run(path: Path) -> RunFiles:
    """The files of the run folder `path`, each checked for size (what its model needs) and form."""
    with atomic.folder_lock(path.parent, exclusive=False):
        check_required(path)
        meta = read_meta(path)
        config = read_config(path)
        shape = _data_shape(config, meta)
        try:
            check_model_budget(config, shape)
        except ConfigError as exc:
            raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
        limits = file_limits(config)
        weights = _read_sized(path, WEIGHTS_FILE, limits)
        state, state_tensors = {}, None
        if (path / STATE_JSON_FILE).exists():
            state = read_json(path / STATE_JSON_FILE, limits[STATE_JSON_FILE])
            if not isinstance(state, dict):
                raise CheckpointError(f"{path / STATE_JSON_FILE}: must be a JSON object")
            if (path / STATE_TENSORS_FILE).exists():
                state_tensors = _read_sized(path, STATE_TENSORS_FILE, limits)
        history = read_history(path, limits[METRICS_JSON_FILE])
    return RunFiles(path=path, meta=meta, config=config, data_shape=shape, weights=weights,
                    weights_header=check_safetensors(weights, path / WEIGHTS_FILE), state=state,
                    state_tensors=state_tensors,
                    state_header=check_safetensors(state_tensors, path / STATE_TENSORS_FILE) if state_tensors else {},
                    history=history)


def _read_sized(path: Path, fname: str, limits: dict[str, int]) -> bytes:
    try:
        return read_file(path / fname, limits[fname])
    except CheckpointError as exc:
        if "too large" not in str(exc):
            raise
        raise CheckpointError(f"{path / fname}: larger than a run of its model can be "
                              f"(at most {limits[fname]:,} bytes)") from None


def validate_run_dir(path: str | os.PathLike, strict: bool = True) -> RunInfo:
    """Check a run folder completely (e.g. an uploaded one) without loading its data set; returns its info.

    Raises CheckpointError naming the problem. With `strict`, any file that is not part of the run format
    (a pickle, a script, a subfolder, a symbolic link) is an error too, and each file has a size limit.
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
            size = entry.stat().st_size
            if size > SMALL_FILES.get(entry.name, MAX_RUN_BYTES):
                raise CheckpointError(f"{entry}: file is too large ({size:,} bytes, "
                                      f"at most {SMALL_FILES[entry.name]:,})")
            total += size
        if total > MAX_RUN_BYTES:
            raise CheckpointError(f"{path}: the run is too large ({total} bytes, limit {MAX_RUN_BYTES})")
        if (path / PREVIEW_FILE).exists():
            checked_preview(path)
    loaded = load_run(path, device="cpu", load_data=False)
    return info_from(path, loaded.config, loaded.meta)


def checked_preview(path: Path) -> bytes:
    """The run's preview.png, once its header says it is a PNG of at most PREVIEW_MAX_SIDE pixels a side
    (read from the header alone: a small file can claim a picture far too large to decode); CheckpointError
    naming the problem otherwise."""
    data = read_file(path / PREVIEW_FILE, SMALL_FILES[PREVIEW_FILE])
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        raise CheckpointError(f"{path / PREVIEW_FILE}: not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= PREVIEW_MAX_SIDE and 0 < height <= PREVIEW_MAX_SIDE):
        raise CheckpointError(f"{path / PREVIEW_FILE}: a {width:,} × {height:,} picture; a preview is at most "
                              f"{PREVIEW_MAX_SIDE:,} pixels a side")
    return data


def read_history(path: Path, limit: int = MAX_JSON_BYTES) -> dict[str, list[float]]:
    """The run's metrics.json as {metric: [values]} with NaN where a step has no value ({} if none)."""
    if not (path / METRICS_JSON_FILE).exists():
        return {}
    raw = read_json(path / METRICS_JSON_FILE, limit)
    problem = CheckpointError(f"{path / METRICS_JSON_FILE}: must map metric names to lists of numbers")
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise problem
    if not all(x is None or isinstance(x, (int, float)) and not isinstance(x, bool) for v in raw.values() for x in v):
        raise problem
    return {str(k): [math.nan if x is None else float(x) for x in v] for k, v in raw.items()}


# --- building the trainer ------------------------------------------------------------------------------
def _data_shape(config: RunConfig, meta: dict[str, Any]) -> tuple[int, ...]:
    """The per-sample data shape of the run: meta.json's when the config allows it, else the config's."""
    shapes = data_shapes(config.data)
    recorded = tuple(meta.get("data_shape") or ())
    return recorded if recorded in shapes else shapes[0]


def _placeholder_data(config: RunConfig, shape: tuple[int, ...], device: torch.device):
    """A one-sample DataSource of the run's data shape, so a run can be sampled without its data set."""
    from genlab.data import DataSource

    kind = "points" if config.data.is_2d else "images"
    x = torch.zeros(1, *shape, dtype=torch.float32 if kind == "points" else torch.uint8, device=device)
    return DataSource(name=config.data.name, kind=kind, x=x, origin=PLACEHOLDER_ORIGIN)


def _build_trainer(files: RunFiles, device, load_data: bool):
    """(trainer, data_available). A data set that cannot be loaded (not downloaded here, an uploaded
    file that is gone, a path outside the data roots) gives a placeholder, so the run can still be
    sampled and explored."""
    from genlab.data import DataUnavailableError
    from genlab.trainers import make_trainer, pick_device

    config, path = files.config, files.path
    if device is None:
        try:
            device = pick_device(config.device)
        except ConfigError:  # saved on a GPU machine, loaded on one without it
            device = pick_device("auto")
    device = pick_device(device)
    placeholder = _placeholder_data(config, files.data_shape, device)
    try:
        if not load_data:
            return make_trainer(config, device=device, data=placeholder), False
        try:
            return make_trainer(config, device=device), True
        except (DataUnavailableError, ConfigError) as exc:
            if isinstance(exc, ConfigError) and not exc.field.startswith("data"):
                raise
            return make_trainer(config, device=device, data=placeholder), False
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    except (ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the model in {CONFIG_FILE} cannot be built ({exc})") from None


# --- restoring its state -------------------------------------------------------------------------------
def _restore_state(trainer, files: RunFiles, fresh: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
    """Check everything against the freshly built trainer, then load it (nothing is half-applied)."""
    path = files.path
    state = dict(fresh)
    state["networks"] = {
        net: {k[len(f"networks.{net}.") :]: v for k, v in weights.items() if k.startswith(f"networks.{net}.")}
        for net in fresh["networks"]
    }
    tensors = {}
    if files.state_tensors is not None:
        tensors = load_checked(files.state_tensors, path / STATE_TENSORS_FILE, files.meta["files"].get(STATE_TENSORS_FILE))
    saved = join_tree(files.state, tensors, str(path / STATE_JSON_FILE))

    if "step" in saved:
        if isinstance(saved["step"], bool) or not isinstance(saved["step"], int) or not 0 <= saved["step"] <= MAX_STEP:
            raise CheckpointError(f"{path / STATE_JSON_FILE}: step must be an integer in [0, {MAX_STEP:,}]")
        state["step"] = saved["step"]
    else:
        state["step"] = files.meta["step"]
    # ada: a GAN's adaptive augmentation (p, r_t); kl_dims: a VAE's running KL per dimension
    for key in ("rng", "fixed_noise", "ada", "kl_dims"):
        value = saved.get(key)
        if key in fresh and isinstance(value, torch.Tensor) and value.shape == fresh[key].shape \
                and value.dtype == fresh[key].dtype:
            state[key] = value
        # else: another device's RNG (CUDA states differ from CPU ones) or none saved: keep the fresh one
    if "optimizers" in saved:
        state["optimizers"] = checked_optimizers(trainer.optimizers, saved["optimizers"], path / STATE_JSON_FILE)
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: the saved state does not fit the model ({exc})") from None
    # the map the weights were trained through, not one fitted afresh (a run saved before there was one:
    # the identity, which it was trained with)
    recorded = files.meta.get("standardization")
    trainer.standardization = Standardization.from_json(recorded) if recorded else Standardization()
