"""Save a trainer and its metrics history as a run folder, atomically (see genlab.runs.format)."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import shutil
import struct
import time
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors_bytes

from genlab import atomic
from genlab.runs.format import (
    COMMAND_FILE,
    CONFIG_FILE,
    DEFAULT_ROOT,
    FORMAT_VERSION,
    META_FILE,
    METRICS_CSV_FILE,
    METRICS_JSON_FILE,
    PREVIEW_FILE,
    STATE_JSON_FILE,
    STATE_TENSORS_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    is_run_folder,
    flatten_networks,
    split_tree,
)
from genlab.runs.listing import check_name
from genlab.runs.meta import MAX_COMMAND_CHARS
from genlab.runs.shipped import refuse_if_shipped

PREVIEW_POINTS = 1000


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> bytes:
    """The safetensors file of `tensors`, with its header's metadata keys in sorted order.

    The safetensors writer orders the metadata map by a per-process random hash, so two saves of the same
    weights could differ in their bytes; the header is rewritten with sorted keys (the same JSON, so the
    same length) so that identical training gives byte-identical files.
    """
    data = save_safetensors_bytes(tensors, metadata=metadata)
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    canonical = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(canonical) > length:  # cannot happen for the same JSON; never write a header that overlaps the data
        raise CheckpointError("safetensors header grew when sorted")
    return data[:8] + canonical.ljust(length) + data[8 + length:]


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
    is complete on disk; a run that ships with genlab is never replaced (genlab.runs.shipped). `include_optimizer=False` leaves out optimizer moments (a smaller file that can
    still be sampled and resumed, with fresh optimizer state). `command` is recorded for CLI runs.
    """
    name = check_name(name if name is not None else trainer.config.name)
    root = prepare_root(root)
    refuse_if_shipped(root / name, "overwritten")
    with atomic.folder_lock(root, exclusive=False):  # not between the two renames of another save's replace
        occupied = ((root / name).exists() or (root / name).is_symlink()) and not is_run_folder(root / name)
    if occupied:
        raise CheckpointError(f"{root / name}: is not a saved run, and saving never replaces anything else; "
                              "save under another name")
    command = (command or "")[-MAX_COMMAND_CHARS:]  # the latest commands, when a run was resumed very often

    config = trainer.config if trainer.config.name == name else trainer.config.replace(name=name)
    state = trainer.state_dict()
    weights = flatten_networks(state["networks"])
    rest = {k: v for k, v in state.items() if k != "networks" and (include_optimizer or k != "optimizers")}
    state_tensors: dict[str, torch.Tensor] = {}
    skeleton = split_tree(rest, "state", state_tensors)

    files: dict[str, bytes] = {
        CONFIG_FILE: config.to_json().encode(),
        WEIGHTS_FILE: safetensors_bytes(weights, {"format": "pt", "genlab": "weights"}),
        STATE_TENSORS_FILE: safetensors_bytes(state_tensors, {"format": "pt", "genlab": "state"}),
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
        "command": command,
        "family": config.model.family,
        "data_kind": trainer.data.kind,
        "data_origin": trainer.data.origin,
        **({"parent": trainer.transfer.as_meta()} if getattr(trainer, "transfer", None) else {}),
        "data_shape": list(trainer.data_shape),
        **({} if trainer.standardization.is_identity else {"standardization": trainer.standardization.to_json()}),
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
    try:
        tmp.mkdir()
        for fname, data in files.items():
            atomic.write_bytes(tmp / fname, data)
        atomic.replace_dir(tmp, root / name)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"{root / name}: cannot be saved ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root / name


def prepare_root(root: str | os.PathLike) -> Path:
    """The folder of runs `root`, created if needed; CheckpointError when it is a file or not writable
    (checked before a long training, not when its result is saved)."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = atomic.scratch_dir(root, "probe")
        probe.mkdir()
        probe.rmdir()
        atomic.remove_stale_scratch(root)
    except OSError as exc:
        problem = "is a file, not a folder" if root.is_file() else f"is not writable ({exc.strerror or exc})"
        raise CheckpointError(f"cannot save runs in {root}: it {problem}") from None
    return root


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
