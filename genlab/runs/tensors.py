"""Reading a run's .safetensors files: the header checked completely before any tensor exists.

A safetensors file is an 8-byte little-endian header length, a JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}} and the tensor data.
`parse_header` accepts a header only when every entry is well-formed and the entries tile the data
exactly (no gaps, no overlaps, sizes equal to shape × dtype), so the tensors that `load_checked`
later creates take exactly the bytes of the file. `check_matches` compares names, shapes and dtypes
with the tensors a model expects, so a mismatched or complex-valued file is refused before loading;
`load_checked` verifies the checksum recorded in meta.json and refuses NaN or infinite values.
"""
from __future__ import annotations

import hashlib
import math
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes

from genlab import safe_json
from genlab.runs.format import CheckpointError

DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8, "F16": 2,
               "BF16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1, "C64": 8}
TORCH_DTYPES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.int32: "I32",
                torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32",
                torch.float64: "F64", torch.complex64: "C64"}
MAX_HEADER_BYTES = 16 * 2**20
MAX_DIMS = 8


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        return 'must be {"dtype", "shape", "data_offsets"}'
    if entry["dtype"] not in DTYPE_BYTES:
        return f"has an unknown dtype {str(entry['dtype'])[:20]!r}"
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(_is_count(n) for n in shape):
        return "has a malformed shape (a list of at most 8 non-negative integers)"
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(n) for n in offsets):
        return "has malformed data_offsets (two non-negative integers)"
    if offsets[1] - offsets[0] != math.prod(shape) * DTYPE_BYTES[entry["dtype"]]:
        return "has data_offsets that do not match its shape and dtype"
    return None


def parse_header(head: bytes, file_size: int, where: str | Path) -> tuple[dict[str, dict[str, Any]], int]:
    """({name: entry}, offset where the tensor data starts) from the first bytes of a safetensors file of
    `file_size` bytes (`head` must hold the header); CheckpointError for anything malformed."""
    if file_size < 8 or len(head) < 8:
        raise CheckpointError(f"{where}: truncated or not a safetensors file ({file_size} bytes)")
    if head[:1] == b"\x80" or head[:2] == b"PK":
        raise CheckpointError(f"{where}: is a pickle / torch.save file, not safetensors; refusing to load it")
    (header_len,) = struct.unpack("<Q", head[:8])
    if header_len > MAX_HEADER_BYTES:
        raise CheckpointError(f"{where}: damaged or not a safetensors file (header of {header_len:,} bytes)")
    if 8 + header_len > file_size or len(head) < 8 + header_len:
        raise CheckpointError(f"{where}: truncated (its header needs {header_len} bytes, the file has {file_size - 8})")
    try:
        header = safe_json.loads(head[8 : 8 + header_len], f"{where}: header")
    except safe_json.JSONError as exc:
        raise CheckpointError(f"{exc}; damaged or not a safetensors file") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: damaged safetensors header (not a JSON object)")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{where}: damaged safetensors header (__metadata__ must map names to strings)")
    for name, entry in header.items():
        problem = _entry_problem(entry)
        if problem:
            raise CheckpointError(f"{where}: damaged safetensors header: tensor {name[:80]!r} {problem}")
    end = 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        if begin != end:
            raise CheckpointError(f"{where}: damaged safetensors header: tensor {name[:80]!r} overlaps another "
                                  "or leaves a gap")
        end = stop
    body = file_size - 8 - header_len
    if end != body:
        what = "truncated" if end > body else "damaged"
        raise CheckpointError(f"{where}: {what} (tensor data needs {end} bytes, the file has {body})")
    return header, 8 + header_len


def check_safetensors(data: bytes, where: str | Path) -> dict[str, dict[str, Any]]:
    """The checked header of a whole safetensors file held in `data` (no tensor is created)."""
    return parse_header(data, len(data), where)[0]


def check_matches(header: dict[str, dict[str, Any]], expected: dict[str, torch.Tensor], where: str | Path,
                  what: str) -> None:
    """CheckpointError unless `header` holds exactly the tensors of `expected`, same shapes and dtypes."""
    def listed(keys: list[str]) -> str:
        return ", ".join(k[:100] for k in keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")

    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    common = sorted(set(expected) & set(header))
    wrong_shape = [f"{k} is {tuple(header[k]['shape'])}, the model needs {tuple(expected[k].shape)}"
                   for k in common if tuple(header[k]["shape"]) != tuple(expected[k].shape)]
    wrong_type = [f"{k} is {header[k]['dtype']}, the model needs {TORCH_DTYPES.get(expected[k].dtype)}"
                  for k in common if header[k]["dtype"] != TORCH_DTYPES.get(expected[k].dtype)]
    parts = [f"{label}: {listed(keys)}" for label, keys in (
        ("missing tensors", missing), ("unexpected tensors", unexpected), ("wrong shapes", wrong_shape),
        ("wrong dtypes", wrong_type)) if keys]
    if parts:
        raise CheckpointError(f"{where}: {what} does not match the model its config builds — " + "; ".join(parts))


def load_checked(data: bytes, where: str | Path, checksum: dict[str, Any] | None) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (bytes whose header was checked), after its meta.json checksum;
    a NaN or infinite value is refused."""
    if checksum is not None and hashlib.sha256(data).hexdigest() != checksum.get("sha256"):
        raise CheckpointError(f"{where}: changed or damaged after it was saved (its checksum differs from meta.json)")
    try:
        tensors = load_safetensors_bytes(data)
    except Exception as exc:  # noqa: BLE001 - safetensors' own checks; the header was checked already
        raise CheckpointError(f"{where}: damaged safetensors file ({type(exc).__name__})") from None
    for name, tensor in tensors.items():
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{where}: tensor {name} holds NaN or infinite values; refusing to load it")
    return tensors
