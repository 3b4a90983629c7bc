"""Save, list, reload and check runs: safetensors + JSON, written atomically, never unpickled.

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

Safety: tensors are read with safetensors only, JSON with json only; nothing here unpickles. A pickle
(.pt/.pkl/...) is refused by name and by content. Everything read is checked before it reaches a model:
safetensors headers, checksums, tensor names and shapes against the model the config builds, so a
damaged or mismatched run gives a CheckpointError that names the file and the problem.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from genlab import atomic
from genlab.config import ConfigError, RunConfig, check_run_name

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
PREVIEW_POINTS = 1000
SAFETENSORS_DTYPES = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64",
                      "F8_E4M3", "F8_E5M2", "C64"}


class CheckpointError(ValueError):
    """A run cannot be saved, found or loaded; the message names the run/file and what is wrong."""


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
class RunInfo:
    name: str
    path: Path
    family: str = ""
    dataset: str = ""
    arch: str = ""
    steps: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # the settings that tell runs apart
    final_metrics: dict[str, float] = field(default_factory=dict)
    has_preview: bool = False
    created: str = ""
    command: str = ""
    size_bytes: int = 0
    error: str | None = None  # set (and the rest partly empty) when the run is broken

    @property
    def ok(self) -> bool:
        return self.error is None


# --- names and paths -----------------------------------------------------------------------------------
def check_name(name: Any) -> str:
    """A run name that is safe as one folder name, or CheckpointError saying exactly what is wrong."""
    if not isinstance(name, str):
        raise CheckpointError(f"invalid run name {name!r}: must be a string")
    if name == "":
        raise CheckpointError("invalid run name '': the name is empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise CheckpointError(f"invalid run name {name!r}: contains control characters")
    if "/" in name or "\\" in name or name in (".", "..") or os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        raise CheckpointError(f"invalid run name {name!r}: must be a plain folder name, not a path")
    try:
        return check_run_name(name)
    except ConfigError as exc:
        raise CheckpointError(f"invalid run name {name!r}: {exc.allowed}") from None


def _looks_like_path(name_or_path: str | os.PathLike) -> bool:
    if isinstance(name_or_path, os.PathLike):
        return True
    return ("/" in name_or_path or "\\" in name_or_path or name_or_path.endswith(PICKLE_SUFFIXES)) and os.path.exists(
        name_or_path
    )


def resolve_run(name_or_path: str | os.PathLike, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """The folder of a run given by name (under `root`) or by path (a pathlib.Path, or an existing path).

    Plain strings are names and are validated, so a name typed into the app cannot escape `root`.
    """
    if _looks_like_path(name_or_path):
        path = Path(name_or_path)
        if path.is_file():
            if path.name in RUN_FILES:
                path = path.parent  # a file inside a run folder means that folder
            elif path.suffix.lower() in PICKLE_SUFFIXES or _is_pickle(path):
                raise CheckpointError(
                    f"{path}: refusing to load a pickle file (pickles can run code); "
                    f"genlab runs are folders with {', '.join(REQUIRED_FILES)}"
                )
            else:
                raise CheckpointError(f"{path}: not a run folder (expected a folder with {', '.join(REQUIRED_FILES)})")
        if not path.exists():
            atomic.recover_dir(path)
        if not path.is_dir():
            raise CheckpointError(f"{path}: no such run folder")
        return path
    name = check_name(str(name_or_path))
    root = Path(root)
    path = root / name
    if not path.is_dir():
        atomic.recover_dir(path)
    if not path.is_dir():
        known = [info.name for info in list_runs(root) if info.ok]
        hint = f"; runs in {root}: {', '.join(known)}" if known else f"; {root} has no runs"
        raise CheckpointError(f"unknown run {name!r}{hint}")
    return path


# --- encoding nested state as JSON + tensors (no pickle) ------------------------------------------------
def _split_tree(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able skeleton of `obj`; each tensor moves to `tensors[key]` and leaves {"__tensor__": key}."""
    if isinstance(obj, torch.Tensor):
        if key in tensors:
            raise CheckpointError(f"cannot save state: two tensors would share the key {key!r}")
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _split_tree(v, f"{key}.{k}", tensors) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise CheckpointError(f"cannot save state: key {k!r} at {key} is not a string or number")
            items.append([k, _split_tree(v, f"{key}.{k}", tensors)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_split_tree(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_split_tree(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(f"cannot save state: {key} holds a {type(obj).__name__}, which is not a tensor or JSON value")


def _join_tree(obj: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """Inverse of _split_tree; a reference to a tensor that is not there is a CheckpointError."""
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
            return {_dict_key(k, where): _join_tree(v, tensors, where) for k, v in items}
        if set(obj) == {"__tuple__"}:
            if not isinstance(obj["__tuple__"], list):
                raise CheckpointError(f"{where}: malformed tuple (expected a list)")
            return tuple(_join_tree(v, tensors, where) for v in obj["__tuple__"])
        return {k: _join_tree(v, tensors, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_tree(v, tensors, where) for v in obj]
    return obj


def _dict_key(key: Any, where: str) -> Any:
    if isinstance(key, (str, int, float, bool)) or key is None:
        return key
    raise CheckpointError(f"{where}: malformed dictionary key {key!r}")


def _flatten_networks(networks: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    flat = {}
    for net, state in networks.items():
        for key, value in state.items():
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"cannot save network {net}: {key} is a {type(value).__name__}, not a tensor")
            flat[f"networks.{net}.{key}"] = value.detach().to("cpu", copy=True).contiguous()
    return flat


# --- saving ---------------------------------------------------------------------------------------------
def save_run(
    trainer,
    history: dict[str, list[float]] | None = None,
    root: str | os.PathLike = DEFAULT_ROOT,
    name: str | None = None,
    include_optimizer: bool = True,
    command: str | None = None,
) -> Path:
    """Save `trainer` (and its metrics `history`) as `<root>/<name>/`, atomically; returns the folder.

    `name` defaults to the config's name. An existing run of that name is replaced only once the new one
    is complete on disk. `include_optimizer=False` leaves out optimizer moments (a smaller file that can
    still be sampled and resumed, with fresh optimizer state). `command` is recorded for CLI runs.
    """
    name = check_name(name if name is not None else trainer.config.name)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale_scratch(root)

    config = trainer.config if trainer.config.name == name else trainer.config.replace(name=name)
    state = trainer.state_dict()
    weights = _flatten_networks(state["networks"])
    rest = {k: v for k, v in state.items() if k != "networks" and (include_optimizer or k != "optimizers")}
    state_tensors: dict[str, torch.Tensor] = {}
    skeleton = _split_tree(rest, "state", state_tensors)

    files: dict[str, bytes] = {
        CONFIG_FILE: config.to_json().encode(),
        WEIGHTS_FILE: save_safetensors_bytes(weights, metadata={"format": "pt", "genlab": "weights"}),
        STATE_TENSORS_FILE: save_safetensors_bytes(state_tensors, metadata={"format": "pt", "genlab": "state"}),
        STATE_JSON_FILE: json.dumps(skeleton, indent=1).encode(),
        PREVIEW_FILE: _preview_png(trainer),
    }
    history = {k: [float(x) for x in v] for k, v in (history or {}).items()}
    if history:
        # strict JSON: a step where a metric was not recorded is null (NaN is not JSON)
        strict = {k: [x if math.isfinite(x) else None for x in v] for k, v in history.items()}
        files[METRICS_JSON_FILE] = json.dumps(strict, separators=(",", ":"), allow_nan=False).encode()
        files[METRICS_CSV_FILE] = _history_csv(history)
    if command:
        files[COMMAND_FILE] = (command.rstrip("\n") + "\n").encode()
    meta = {
        "format_version": FORMAT_VERSION,
        "genlab_version": _genlab_version(),
        "torch_version": torch.__version__,
        "name": name,
        "step": int(state["step"]),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command or "",
        "family": config.model.family,
        "data_kind": trainer.data.kind,
        "data_shape": list(trainer.data_shape),
        "device": str(trainer.device),
        "include_optimizer": bool(include_optimizer),
        "final_metrics": _final_metrics(history),
        "files": {
            fname: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for fname, data in files.items()
            if fname.endswith(".safetensors")
        },
    }
    files[META_FILE] = json.dumps(meta, indent=2).encode()  # written last: its presence marks completeness

    tmp = atomic.scratch_dir(root, name)
    tmp.mkdir()
    try:
        for fname, data in files.items():
            atomic.write_bytes(tmp / fname, data)
        atomic.replace_dir(tmp, root / name)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root / name


def _genlab_version() -> str:
    import genlab

    return str(getattr(genlab, "__version__", "0.0.0"))


def _final_metrics(history: dict[str, list[float]]) -> dict[str, float]:
    """Last finite value of each loss/quality curve (what `list` shows), not per-layer statistics."""
    final = {}
    for key, values in history.items():
        if key == "step" or "/" in key and key.split("/")[0] in ("weight_norm", "spectral_norm", "kl"):
            continue
        for value in reversed(values):
            if math.isfinite(value):
                final[key] = value
                break
    return final


def _history_csv(history: dict[str, list[float]]) -> bytes:
    """One row per recorded entry, one column per metric ("step" first); shorter columns end blank."""
    keys = sorted(history, key=lambda k: (k != "step", k))
    rows = max((len(v) for v in history.values()), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys)
    for i in range(rows):
        writer.writerow([_csv_number(history[k][i]) if i < len(history[k]) else "" for k in keys])
    return out.getvalue().encode()


def _csv_number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else f"{value:.7g}"


def _preview_png(trainer) -> bytes:
    """Samples from the trainer's fixed noise; for 2D data, many more samples drawn over real data."""
    from genlab.pictures import samples_png

    if trainer.data.kind == "images":
        return samples_png(trainer.preview(64), nrow=8)
    g = torch.Generator().manual_seed(0)  # a private generator: saving must not move the run's RNG
    z = torch.randn(PREVIEW_POINTS, trainer.latent_dim, generator=g)
    samples = trainer.generate(z).cpu()
    reference = trainer.data.x[torch.randint(len(trainer.data), (PREVIEW_POINTS,), generator=g).to(trainer.data.x.device)]
    return samples_png(samples, reference=reference.cpu())


# --- reading and checking -------------------------------------------------------------------------------
def _is_pickle(path: Path) -> bool:
    """True if the file starts like a pickle or a torch.save zip archive (never unpickled to find out)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head[:1] == b"\x80" or head[:2] == b"PK"


def _read_file(path: Path, limit: int = MAX_RUN_BYTES) -> bytes:
    if path.is_symlink():
        raise CheckpointError(f"{path}: is a symbolic link; run files must be regular files")
    if not path.is_file():
        raise CheckpointError(f"{path}: file is missing")
    size = path.stat().st_size
    if size > limit:
        raise CheckpointError(f"{path}: file is too large ({size} bytes, limit {limit})")
    return path.read_bytes()


def _read_json(path: Path) -> Any:
    data = _read_file(path, MAX_JSON_BYTES)
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


def _load_tensors(path: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    data = _read_file(path)
    check_safetensors(data, path)
    expected = meta.get("files", {}).get(path.name)
    if expected and hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        raise CheckpointError(f"{path}: changed or damaged after it was saved (its checksum differs from {META_FILE})")
    try:
        return load_safetensors_bytes(data)
    except Exception as exc:  # safetensors' own checks (e.g. overlapping offsets)
        raise CheckpointError(f"{path}: damaged safetensors file ({exc})") from None


def _read_meta(path: Path) -> dict[str, Any]:
    meta = _read_json(path / META_FILE)
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


def _read_config(path: Path) -> RunConfig:
    text = _read_file(path / CONFIG_FILE, MAX_JSON_BYTES).decode("utf-8", errors="replace")
    try:
        return RunConfig.from_json(text)
    except ConfigError as exc:
        raise CheckpointError(f"{path / CONFIG_FILE}: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{path / CONFIG_FILE}: JSON nested too deeply") from None


def _check_required(path: Path) -> None:
    missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
    if missing:
        pickles = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        note = f" ({', '.join(pickles)} found: pickle files are never loaded)" if pickles else ""
        raise CheckpointError(f"{path}: not a complete run, missing {', '.join(missing)}{note}")


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
    return DataSource(name=config.data.name, kind=kind, x=x, origin="placeholder: the data set is not available")


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


def _restore_state(trainer, path: Path, meta: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
    """Check everything against the freshly built trainer, then load it (nothing is half-applied)."""
    fresh = trainer.state_dict()
    problem = _describe_mismatch(WEIGHTS_FILE, _flatten_networks(fresh["networks"]), weights)
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
        skeleton = _read_json(path / STATE_JSON_FILE)
        if not isinstance(skeleton, dict):
            raise CheckpointError(f"{path / STATE_JSON_FILE}: must be a JSON object")
        if (path / STATE_TENSORS_FILE).exists():
            tensors = _load_tensors(path / STATE_TENSORS_FILE, meta)
    try:
        saved = _join_tree(skeleton, tensors, str(path / STATE_JSON_FILE))
    except RecursionError:
        raise CheckpointError(f"{path / STATE_JSON_FILE}: nested too deeply") from None

    if "step" in saved:
        if isinstance(saved["step"], bool) or not isinstance(saved["step"], int) or saved["step"] < 0:
            raise CheckpointError(f"{path / STATE_JSON_FILE}: step must be a non-negative integer")
        state["step"] = saved["step"]
    else:
        state["step"] = int(meta.get("step", 0))
    for key in ("rng", "fixed_noise"):
        value = saved.get(key)
        if isinstance(value, torch.Tensor) and value.shape == fresh[key].shape and value.dtype == fresh[key].dtype:
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


def read_history(path: Path) -> dict[str, list[float]]:
    if not (path / METRICS_JSON_FILE).exists():
        return {}
    raw = _read_json(path / METRICS_JSON_FILE)
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise CheckpointError(f"{path / METRICS_JSON_FILE}: must map metric names to lists of numbers")
    try:
        return {str(k): [math.nan if x is None else float(x) for x in v] for k, v in raw.items()}
    except (TypeError, ValueError):
        raise CheckpointError(f"{path / METRICS_JSON_FILE}: must map metric names to lists of numbers") from None


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
    _check_required(path)
    meta = _read_meta(path)
    config = _read_config(path)
    weights = _load_tensors(path / WEIGHTS_FILE, meta)  # checked before any model is built
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
        if (path / PREVIEW_FILE).exists() and not _read_file(path / PREVIEW_FILE).startswith(b"\x89PNG\r\n\x1a\n"):
            raise CheckpointError(f"{path / PREVIEW_FILE}: not a PNG image")
    loaded = load_run(path, device="cpu", load_data=False)
    return _info_from(path, loaded.config, loaded.meta)


# --- listing --------------------------------------------------------------------------------------------
def _settings(config: RunConfig) -> dict[str, Any]:
    m, o, opt = config.model, config.objective, config.optim
    settings: dict[str, Any] = {"latent_dim": m.latent_dim, "width": m.width}
    if m.arch == "mlp":
        settings["depth"] = m.depth
    if m.family == "gan":
        settings["loss"] = o.gan_loss
        if getattr(opt, "ema_decay", 0):
            settings["ema_decay"] = opt.ema_decay
        regularizers = ("l1_g", "l2_g", "l1_d", "l2_d", "weight_clip", "gp_lambda", "r1_gamma", "r2_gamma", "grad_clip")
    else:
        settings.update(likelihood=o.likelihood, beta=o.beta)
        if o.capacity:
            settings["capacity"] = o.capacity
        regularizers = ("l1_g", "l2_g", "l1_d", "l2_d", "grad_clip")
    settings.update({r: getattr(o, r) for r in regularizers if getattr(o, r)})
    if m.spectral_norm_d:
        settings["spectral_norm_d"] = True
    if m.spectral_norm_g:
        settings["spectral_norm_g"] = True
    settings.update(batch_size=opt.batch_size, lr_g=opt.lr_g, lr_d=opt.lr_d)
    return settings


def _info_from(path: Path, config: RunConfig, meta: dict[str, Any]) -> RunInfo:
    return RunInfo(
        name=path.name,
        path=path,
        family=config.model.family,
        dataset=config.data.name,
        arch=config.model.arch,
        steps=int(meta.get("step", 0)),
        settings=_settings(config),
        final_metrics=dict(meta.get("final_metrics") or {}),
        has_preview=(path / PREVIEW_FILE).is_file(),
        created=str(meta.get("created", "")),
        command=str(meta.get("command", "")),
        size_bytes=sum(p.stat().st_size for p in path.iterdir() if p.is_file()),
    )


def run_info(path: str | os.PathLike) -> RunInfo:
    """Quick facts about one run from its JSON files only (no tensors read); errors as CheckpointError."""
    path = Path(path)
    _check_required(path)
    meta = _read_meta(path)
    config = _read_config(path)
    check_safetensors_size = (path / WEIGHTS_FILE).stat().st_size
    if check_safetensors_size < 8:
        raise CheckpointError(f"{path / WEIGHTS_FILE}: truncated ({check_safetensors_size} bytes)")
    return _info_from(path, config, meta)


def _looks_like_run(path: Path) -> bool:
    """A folder holding any run file (or a pickle posing as one) is a run, possibly broken; others
    (e.g. checkpoints/classifiers/ of the metrics) are not listed."""
    try:
        return any(p.name in RUN_FILES or p.suffix.lower() in PICKLE_SUFFIXES for p in path.iterdir())
    except OSError:
        return True


def list_runs(root: str | os.PathLike = DEFAULT_ROOT) -> list[RunInfo]:
    """Every run folder under `root`, sorted by name; a broken run is listed with `error` set."""
    root = Path(root)
    if not root.is_dir():
        return []
    for entry in list(root.iterdir()):  # a save that died between its two renames: put the old run back
        if entry.name.startswith(atomic.OLD_PREFIX):
            match = re.match(rf"^{re.escape(atomic.OLD_PREFIX)}(?P<name>.+)-\d+-[0-9a-f]+$", entry.name)
            if match:
                atomic.recover_dir(root / match["name"])
    runs = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "_")) or not entry.is_dir() or not _looks_like_run(entry):
            continue
        try:
            runs.append(run_info(entry))
        except CheckpointError as exc:
            runs.append(RunInfo(name=entry.name, path=entry, error=str(exc)))
        except OSError as exc:
            runs.append(RunInfo(name=entry.name, path=entry, error=f"{entry}: cannot be read ({exc})"))
    return runs
