"""The one bounded JSON reader for everything genlab reads from outside: configs (`--config`,
RunConfig.from_json), every JSON file of a run, and the JSON header of a safetensors file.

`json.loads` alone trusts its input: a 5,000-digit integer raises a ValueError about Python's digit
limit, deep nesting a RecursionError, `1e400` quietly becomes infinity and `NaN` is accepted. Here
each of those is a JSONError (a ValueError) whose one-line message names the source and the problem,
and a result is at most MAX_DEPTH levels deep, so code that walks it recursively cannot overflow.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

MAX_DEPTH = 64  # genlab's own files nest at most ~8 levels (a training state skeleton)
MAX_NUMBER_CHARS = 40  # a float64 needs at most 24 characters, an int64 20 digits


class JSONError(ValueError):
    """JSON that genlab refuses to read; the message names the source and what is wrong."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JSONError(f"a number has {len(text):,} digits (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JSONError(f"a number has {len(text):,} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise JSONError(f"the number {text} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise JSONError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iterative: deep values cannot overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node if isinstance(child, (dict, list)))
    return deepest


def loads(data: bytes | str, where: str, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in `data` (text or UTF-8 bytes), or JSONError "<where>: <problem>"."""
    if max_bytes is not None and len(data) > max_bytes:
        raise JSONError(f"{where}: too large ({len(data):,} bytes, at most {max_bytes:,})")
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant)
    except JSONError as exc:
        raise JSONError(f"{where}: {exc}") from None
    except RecursionError:
        raise JSONError(f"{where}: nested too deeply (at most {max_depth} levels)") from None
    except UnicodeDecodeError:
        raise JSONError(f"{where}: not UTF-8 text") from None
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise JSONError(f"{where}: not valid JSON ({exc})") from None
    if _depth(value) > max_depth:
        raise JSONError(f"{where}: nested too deeply (at most {max_depth} levels)")
    return value


def load_file(path: str | os.PathLike, max_bytes: int, where: str | None = None) -> Any:
    """The JSON value in the file at `path`, at most `max_bytes` long (checked before reading)."""
    path = Path(path)
    where = where or str(path)
    try:
        if path.is_dir():
            raise JSONError(f"{where}: is a folder, not a JSON file")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise JSONError(f"{where}: no such file") from None
    except OSError as exc:
        raise JSONError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise JSONError(f"{where}: too large (more than {max_bytes:,} bytes)")
    return loads(data, where)
