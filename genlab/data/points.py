"""User-supplied 2D points: an array, a CSV file, uploaded CSV bytes or a .npy file.

Everything a user hands in is checked before training sees it; any problem raises
ConfigError("data.path", ...) with a message that names the row or the limit, so the app can show it
next to the upload widget. Points are kept as given (no rescaling).

CSV: two numeric columns separated by a comma, semicolon, tab or spaces; an optional header line;
blank lines and lines starting with '#' are ignored.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from genlab.config import ConfigError
from genlab.data.source import DataSource

FIELD = "data.path"
MIN_POINTS = 16
MAX_POINTS = 1_000_000
MAX_CSV_BYTES = 100 * 1024 * 1024  # 1e6 rows of two full-precision floats fit in about 50 MB


def points_from_array(array, device: torch.device | str = "cpu", origin: str = "an array",
                      name: str = "points") -> DataSource:
    """A DataSource of points from an (N, 2) array-like (numpy array, tensor, nested lists)."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    try:
        values = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(FIELD, origin, f"points must be numbers ({exc})") from None
    if values.ndim != 2 or values.shape[1] != 2:
        raise ConfigError(FIELD, origin, f"points must have shape (N, 2), got {values.shape}")
    _check_count(len(values), origin)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ConfigError(FIELD, origin, f"point {row + 1} is not finite ({values[row].tolist()}); remove NaN/Inf values")
    if np.abs(values).max() > 1e30:  # would overflow float32
        raise ConfigError(FIELD, origin, "coordinates must be below 1e30 in magnitude")
    x = torch.from_numpy(values.astype(np.float32)).to(device)
    return DataSource(name=name, kind="points", x=x, origin=f"{len(values)} points from {origin}")


def points_from_csv_bytes(data: bytes, device: torch.device | str = "cpu",
                          origin: str = "the uploaded CSV") -> DataSource:
    """Parse CSV bytes (e.g. an upload) into a DataSource of points."""
    if len(data) > MAX_CSV_BYTES:
        raise ConfigError(FIELD, origin, f"the CSV is larger than {MAX_CSV_BYTES // 2**20} MB")
    try:
        text = data.decode("utf-8-sig")  # -sig: drop the byte-order mark spreadsheets write
    except UnicodeDecodeError:
        raise ConfigError(FIELD, origin, "the CSV must be UTF-8 text") from None
    rows = []  # (line number, fields)
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append((number, line))
    if rows and not _is_numeric_row(rows[0][1]):
        rows = rows[1:]  # a header line
    _check_count(len(rows), origin)
    values = np.empty((len(rows), 2), dtype=np.float64)
    for i, (number, line) in enumerate(rows):
        fields = _split(line)
        if len(fields) != 2:
            raise ConfigError(FIELD, origin, f"line {number} has {len(fields)} columns, expected 2 (x, y): {line[:60]!r}")
        try:
            values[i] = float(fields[0]), float(fields[1])
        except ValueError:
            raise ConfigError(FIELD, origin, f"line {number} is not two numbers: {line[:60]!r}") from None
    return points_from_array(values, device=device, origin=origin)


def points_from_file(path: str | os.PathLike, device: torch.device | str = "cpu") -> DataSource:
    """Points from a CSV file, or an (N, 2) .npy array (loaded without pickle)."""
    path = Path(path)
    origin = str(path)
    if not path.is_file():
        raise ConfigError(FIELD, origin, "no such file; give a CSV file of x,y points")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ConfigError(FIELD, origin, f"the file is larger than {MAX_CSV_BYTES // 2**20} MB")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)  # allow_pickle=False: a .npy cannot run code
        except (ValueError, OSError) as exc:
            raise ConfigError(FIELD, origin, f"not a readable numeric .npy array ({exc})") from None
        return points_from_array(array, device=device, origin=origin)
    return points_from_csv_bytes(path.read_bytes(), device=device, origin=origin)


def _split(line: str) -> list[str]:
    for separator in (",", ";", "\t"):
        if separator in line:
            return [field.strip() for field in line.split(separator)]
    return line.split()


def _is_numeric_row(line: str) -> bool:
    try:
        [float(field) for field in _split(line)]
    except ValueError:
        return False
    return True


def _check_count(n: int, origin: str) -> None:
    if n < MIN_POINTS:
        raise ConfigError(FIELD, origin, f"needs at least {MIN_POINTS} points, found {n}")
    if n > MAX_POINTS:
        raise ConfigError(FIELD, origin, f"at most {MAX_POINTS:,} points are allowed, found {n:,}")
