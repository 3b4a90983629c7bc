"""The one schema of meta.json, checked whenever a run is read: listed, loaded, validated or imported.

meta.json may come from anyone (an uploaded run zip), so every field is checked for its type and
range before any reader uses it; a run whose meta.json breaks the schema is refused (or listed as
broken) with a message naming the field. Fields that genlab does not know are ignored.

    field              type                                          required
    format_version     integer in [1, FORMAT_VERSION]                yes
    step               integer in [0, MAX_STEP]                      yes
    family             "gan" or "vae"                                no
    data_kind          "points" or "images"                          no
    data_shape         list of 1 to 3 positive integers              no (never used to allocate)
    include_optimizer  true or false                                 no
    final_metrics      {name: finite number}, at most MAX_METRICS    no
    files              {file.safetensors: {"bytes": int, "sha256": 64 hex digits}}   no
    name, created, genlab_version, torch_version, device             strings of at most 64 characters
    command            string of at most MAX_COMMAND_CHARS characters                 no
    data_note          string of at most 1,000 characters: what an import changed     no
    standardization    {"centre": [x, y], "scale": s}: how the networks saw a user's    no (absent: the
                       points (genlab.data.standardize); finite, |·| ≤ 1e15, s > 0        identity)
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from genlab.config import FAMILIES
from genlab.data.limits import MAX_COORDINATE

FORMAT_VERSION = 1
MAX_STEP = 10**12
MAX_METRICS = 1000
MAX_COMMAND_CHARS = 64 * 1024
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULTS: dict[str, Any] = {"command": "", "created": "", "final_metrics": {}, "files": {}, "data_note": ""}


class MetaError(ValueError):
    """meta.json breaks the schema; the message names the field."""


def _integer(low: int, high: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise MetaError(f"must be an integer in [{low}, {high:,}]")
        return value
    return check


def _text(limit: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or len(value) > limit:
            raise MetaError(f"must be a string of at most {limit:,} characters")
        return value
    return check


def _choice(*choices: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise MetaError(f"must be one of {', '.join(choices)}")
        return value
    return check


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise MetaError("must be true or false")
    return value


def _shape(value: Any) -> Any:
    if (not isinstance(value, list) or not 1 <= len(value) <= 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 2**16 for n in value)):
        raise MetaError("must be a list of 1 to 3 positive integers")
    return value


def _metrics(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) > MAX_METRICS:
        raise MetaError(f"must map at most {MAX_METRICS} metric names to numbers")
    for key, number in value.items():
        if len(key) > 128:
            raise MetaError("has a metric name longer than 128 characters")
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise MetaError(f"{key!r} must be a finite number, not {number!r}"[:200])
    return value


def _standardization(value: Any) -> Any:
    if not isinstance(value, dict) or set(value) != {"centre", "scale"}:
        raise MetaError('must be {"centre": [x, y], "scale": s}')
    centre, scale = value["centre"], value["scale"]
    if not isinstance(centre, list) or len(centre) != 2 or not all(_bounded_number(c) for c in centre):
        raise MetaError(f"centre must be two finite numbers of magnitude at most {MAX_COORDINATE:g}")
    if not _bounded_number(scale) or scale <= 0:
        raise MetaError(f"scale must be a positive number of at most {MAX_COORDINATE:g}")
    return value


def _bounded_number(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
            and abs(value) <= MAX_COORDINATE)


def _files(value: Any) -> Any:
    if not isinstance(value, dict):
        raise MetaError('must map each .safetensors file to {"bytes": ..., "sha256": ...}')
    for name, entry in value.items():
        if not name.endswith(".safetensors") or len(name) > 64:
            raise MetaError(f"lists {name[:64]!r}, which is not a .safetensors file of the run")
        if (not isinstance(entry, dict) or not SHA256.match(str(entry.get("sha256", "")))
                or isinstance(entry.get("bytes"), bool) or not isinstance(entry.get("bytes"), int)
                or entry["bytes"] < 0):
            raise MetaError(f'{name}: must be {{"bytes": a size, "sha256": 64 hex digits}}')
    return value


SCHEMA: dict[str, tuple[Callable[[Any], Any], bool]] = {  # field: (check, required)
    "format_version": (_integer(1, 10**6), True),  # newer than FORMAT_VERSION: refused by the reader
    "step": (_integer(0, MAX_STEP), True),
    "family": (_choice(*FAMILIES), False),
    "data_kind": (_choice("points", "images"), False),
    "data_shape": (_shape, False),
    "include_optimizer": (_boolean, False),
    "final_metrics": (_metrics, False),
    "files": (_files, False),
    "name": (_text(64), False),
    "created": (_text(64), False),
    "genlab_version": (_text(64), False),
    "torch_version": (_text(64), False),
    "device": (_text(64), False),
    "command": (_text(MAX_COMMAND_CHARS), False),
    "data_note": (_text(1000), False),
    "standardization": (_standardization, False),
}


def check_meta(raw: Any) -> dict[str, Any]:
    """`raw` (meta.json's JSON value) checked against SCHEMA, with DEFAULTS for absent optional fields;
    MetaError naming the first field that is missing or wrong."""
    if not isinstance(raw, dict):
        raise MetaError("must be a JSON object")
    meta = {**DEFAULTS, **raw}
    for field, (check, required) in SCHEMA.items():
        if field not in raw:
            if required:
                raise MetaError(f"{field} is missing")
            continue
        try:
            check(raw[field])
        except MetaError as exc:
            raise MetaError(f"{field} {exc}") from None
    return meta
