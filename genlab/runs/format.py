"""The on-disk format of a run, and the checked readers every other module of genlab.runs goes through.

A run is a folder `<root>/<run-name>/`:

    config.json                 the RunConfig (RunConfig.to_json)
    meta.json                   format version, genlab version, step, time, command, data shape, checksums
    weights.safetensors         every network tensor, keyed "networks.<network>.<state_dict key>"
    training_state.safetensors  optimizer tensors ("optimizers.<name>.state.<i>.<key>"), RNG state, fixed noise
    training_state.json         everything else the trainer needs to resume (step, param groups), with
                                {"__tensor__": key} where a tensor of training_state.safetensors belongs
    metrics.json, metrics.csv   the metrics history ({"loss/d": [...], ...}) as JSON and as a table
    preview.png                 a grid of samples (images) or a scatter of samples over data (2D)
    COMMAND.txt                 the command that made the run (CLI runs only)

Safety: tensors are read with safetensors only (genlab.runs.tensors), JSON with genlab.safe_json only;
nothing here unpickles. Every read is bounded in size (genlab.runs.sizes) and checked (meta.json against
its schema in genlab.runs.meta, safetensors headers, checksums), so a damaged or hostile file gives a
CheckpointError that names the file and the problem.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genlab import safe_json
from genlab.config import ConfigError, RunConfig
from genlab.runs.meta import FORMAT_VERSION, MetaError, check_meta

DEFAULT_ROOT = "checkpoints"

CONFIG_FILE = "config.json"
META_FILE = "meta.json"
WEIGHTS_FILE = "weights.safetensors"
STATE_TENSORS_FILE = "training_state.safetensors"
STATE_JSON_FILE = "training_state.json"
METRICS_JSON_FILE = "metrics.json"
METRICS_CSV_FILE = "metrics.csv"
PREVIEW_FILE = "preview.png"
COMMAND_FILE = "COMMAND.txt"
README_FILE = "README.md"
RUN_FILES = (
    CONFIG_FILE,
    META_FILE,
    WEIGHTS_FILE,
    STATE_TENSORS_FILE,
    STATE_JSON_FILE,
    METRICS_JSON_FILE,
    METRICS_CSV_FILE,
    PREVIEW_FILE,
    COMMAND_FILE,
    README_FILE,
)
REQUIRED_FILES = (CONFIG_FILE, META_FILE, WEIGHTS_FILE)
# Files that must never be opened: pickles (torch.save, pickle, joblib) can run code when loaded.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib", ".tar")
MAX_JSON_BYTES = 64 * 1024 * 1024  # any JSON file of a run; genlab.runs.sizes bounds each file more tightly
MAX_RUN_BYTES = 2 * 1024**3  # a whole run, whatever its model (genlab.runs.sizes: what its model needs)


class CheckpointError(ValueError):
    """A run cannot be saved, found or loaded; the message names the run/file and what is wrong."""


# --- bounded, checked reading ----------------------------------------------------------------------------
def is_pickle(path: Path) -> bool:
    """True if the file starts like a pickle or a torch.save zip archive (never unpickled to find out)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head[:1] == b"\x80" or head[:2] == b"PK"


def is_run_folder(path: Path) -> bool:
    """Whether `path` is a run's folder (it has a meta.json, even a broken one), and not a link, a file or
    another folder of the root (the FID classifiers, a user's own files), which saving never replaces."""
    return not path.is_symlink() and path.is_dir() and (path / META_FILE).is_file()


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of a run file of at most `limit` bytes; CheckpointError naming the file otherwise."""
    if path.is_symlink():
        raise CheckpointError(f"{path}: is a symbolic link; run files must be regular files")
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise CheckpointError(f"{path}: file is too large (more than {limit:,} bytes)")
    return data


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> Any:
    try:
        return safe_json.loads(read_file(path, limit), str(path))
    except safe_json.JSONError as exc:
        raise CheckpointError(str(exc)) from None


def read_meta(path: Path) -> dict[str, Any]:
    """meta.json of the run folder `path`, checked against its schema (genlab.runs.meta)."""
    try:
        meta = check_meta(read_json(path / META_FILE))
    except MetaError as exc:
        raise CheckpointError(f"{path / META_FILE}: {exc}") from None
    if meta["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: saved in checkpoint format {meta['format_version']}, this genlab reads up to {FORMAT_VERSION}; "
            "upgrade genlab"
        )
    return meta


def read_config(path: Path) -> RunConfig:
    text = read_file(path / CONFIG_FILE, MAX_JSON_BYTES).decode("utf-8", errors="replace")
    try:
        return RunConfig.from_json(text)
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None


def check_required(path: Path) -> None:
    missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
    if missing:
        pickles = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        note = f" ({', '.join(pickles)} found: pickle files are never loaded)" if pickles else ""
        raise CheckpointError(f"{path}: not a complete run, missing {', '.join(missing)}{note}")


# --- nested state as JSON + tensors (no pickle) ------------------------------------------------------------
def split_tree(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able skeleton of `obj`; each tensor moves to `tensors[key]` and leaves {"__tensor__": key}."""
    if isinstance(obj, torch.Tensor):
        if key in tensors:
            raise CheckpointError(f"cannot save state: two tensors would share the key {key!r}")
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: split_tree(v, f"{key}.{k}", tensors) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise CheckpointError(f"cannot save state: key {k!r} at {key} is not a string or number")
            items.append([k, split_tree(v, f"{key}.{k}", tensors)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [split_tree(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [split_tree(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(f"cannot save state: {key} holds a {type(obj).__name__}, which is not a tensor or JSON value")


def join_tree(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """Inverse of split_tree; a reference to a tensor that is not there is a CheckpointError."""
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            key = obj["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"{where}: tensor {key!r} is missing from {STATE_TENSORS_FILE}")
            return tensors[key]
        if set(obj) == {"__dict__"}:
            items = obj["__dict__"]
            if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
                raise CheckpointError(f"{where}: malformed mapping (expected [key, value] pairs)")
            return {_dict_key(k, where): join_tree(v, tensors, where) for k, v in items}
        if set(obj) == {"__tuple__"}:
            if not isinstance(obj["__tuple__"], list):
                raise CheckpointError(f"{where}: malformed tuple (expected a list)")
            return tuple(join_tree(v, tensors, where) for v in obj["__tuple__"])
        return {k: join_tree(v, tensors, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [join_tree(v, tensors, where) for v in obj]
    return obj


def _dict_key(key: Any, where: str) -> Any:
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key
    raise CheckpointError(f"{where}: malformed dictionary key {key!r}")


def flatten_networks(networks: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """{"networks.<network>.<key>": tensor on the CPU}: how weights.safetensors names each tensor."""
    flat = {}
    for net, state in networks.items():
        for key, value in state.items():
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"cannot save network {net}: {key} is a {type(value).__name__}, not a tensor")
            flat[f"networks.{net}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
    return flat
