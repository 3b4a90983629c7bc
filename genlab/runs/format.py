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

Safety: tensors are read with safetensors only, JSON with json only; nothing here unpickles. Every read
is bounded in size and checked (safetensors headers, checksums), so a damaged or hostile file gives a
CheckpointError that names the file and the problem.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes

from genlab.config import ConfigError, RunConfig

FORMAT_VERSION = 1
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
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_RUN_BYTES = 512 * 1024 * 1024
SAFETENSORS_DTYPES = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64",
                      "F8_E4M3", "F8_E5M2", "C64"}


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


def read_file(path: Path, limit: int = MAX_RUN_BYTES) -> bytes:
    if path.is_symlink():
        raise CheckpointError(f"{path}: is a symbolic link; run files must be regular files")
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    size = path.stat().st_size
    if size > limit:
        raise CheckpointError(f"{path}: file is too large ({size} bytes, limit {limit})")
    return path.read_bytes()


def read_json(path: Path) -> Any:
    data = read_file(path, MAX_JSON_BYTES)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: JSON nested too deeply") from None


def check_safetensors(data: bytes, where: str | Path) -> dict[str, Any]:
    """Validate a safetensors file's structure without creating tensors; returns its header.

    Gives a clear error for a pickle or other file in disguise, a truncated file and a damaged header.
    """
    if len(data) < 8:
        raise CheckpointError(f"{where}: truncated or not a safetensors file ({len(data)} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    header = None
    if header_len <= len(data) - 8:
        try:
            header = json.loads(data[8 : 8 + header_len])
        except (json.JSONDecodeError, UnicodeDecodeError):
            header = None
    if header is None:
        if data[:1] == b"\x80" or data[:2] == b"PK":
            raise CheckpointError(f"{where}: is a pickle / torch.save file, not safetensors; refusing to load it")
        if header_len > len(data) - 8 and data[8:9] == b"{":
            raise CheckpointError(
                f"{where}: truncated (its header needs {header_len} bytes, the file has {len(data) - 8})"
            )
        raise CheckpointError(f"{where}: damaged or not a safetensors file (no valid header)")
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: damaged safetensors header")
    body = len(data) - 8 - header_len
    end = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if (
            not isinstance(entry, dict)
            or entry.get("dtype") not in SAFETENSORS_DTYPES
            or not isinstance(entry.get("shape"), list)
            or not isinstance(entry.get("data_offsets"), list)
            or len(entry["data_offsets"]) != 2
        ):
            raise CheckpointError(f"{where}: damaged safetensors header entry for {key!r}")
        end = max(end, int(entry["data_offsets"][1]))
    if end > body:
        raise CheckpointError(f"{where}: truncated (tensor data needs {end} bytes, file has {body})")
    return header


def load_tensors(path: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors run file, after its header and its checksum in meta.json are checked."""
    data = read_file(path)
    check_safetensors(data, path)
    expected = meta.get("files", {}).get(path.name)
    if expected and hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise CheckpointError(f"{path}: changed or damaged after it was saved (its checksum differs from {META_FILE})")
    try:
        return load_safetensors_bytes(data)
    except Exception as exc:  # safetensors' own checks (e.g. overlapping offsets)
        raise CheckpointError(f"{path}: damaged safetensors file ({exc})") from None


def read_meta(path: Path) -> dict[str, Any]:
    """meta.json of the run folder `path`, refused when it is not an object or from a newer format."""
    meta = read_json(path / META_FILE)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path / META_FILE}: must be a JSON object")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path / META_FILE}: missing or invalid format_version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: saved in checkpoint format {version}, this genlab reads up to {FORMAT_VERSION}; upgrade genlab"
        )
    return meta


def read_config(path: Path) -> RunConfig:
    text = read_file(path / CONFIG_FILE, MAX_JSON_BYTES).decode("utf-8", errors="replace")
    try:
        return RunConfig.from_json(text)
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{path / CONFIG_FILE}: JSON nested too deeply") from None


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
