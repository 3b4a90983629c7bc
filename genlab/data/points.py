"""User-supplied 2D points: an array, a CSV file, uploaded CSV bytes or a .npy file.

Everything a user hands in is checked before training sees it; any problem raises
ConfigError("data.path", ...) with a message that names the line or the limit (genlab.data.limits), so
the app can show it next to the upload widget. Points are kept as given (no rescaling).

CSV: two numeric columns separated by a comma, semicolon, tab or spaces; an optional header line;
blank lines and lines starting with '#' are ignored. The text is parsed as a stream, line by line, into
a growing array of floats, and refused at the first bad line or as soon as it holds more than
MAX_POINTS points: memory follows the accepted rows, not the file.

.npy: read without pickle; the header's dtype and shape are checked, and the data's size compared
with the file's, before the array is allocated.
"""
from __future__ import annotations

import array
import codecs
import io
import os
from typing import BinaryIO, Iterator

import numpy as np
import torch

from genlab.config import ConfigError
from genlab.data.limits import MAX_COORDINATE, MAX_CSV_BYTES, MAX_CSV_LINE_CHARS, MAX_POINTS, MIN_POINTS
from genlab.data.roots import check_in_roots
from genlab.data.source import DataSource

FIELD = "data.path"
CSV_BLOCK_BYTES = 2**16  # a CSV is decoded and parsed this many bytes at a time
NPY_KINDS = "iuf"  # signed and unsigned integers, floats
NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def points_from_array(array_like, device: torch.device | str = "cpu", origin: str = "an array",
                      name: str = "points") -> DataSource:
    """A DataSource of points from an (N, 2) array-like (numpy array, tensor, nested lists)."""
    if isinstance(array_like, torch.Tensor):
        array_like = array_like.detach().cpu().numpy()
    try:
        values = np.asarray(array_like, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(FIELD, origin, f"points must be numbers ({exc})") from None
    if values.ndim != 2 or values.shape[1] != 2:
        raise ConfigError(FIELD, origin, f"points must have shape (N, 2), got {values.shape}")
    _check_count(len(values), origin)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ConfigError(FIELD, origin, f"point {row + 1} is not finite ({values[row].tolist()}); remove NaN/Inf values")
    if np.abs(values).max() > MAX_COORDINATE:
        raise ConfigError(FIELD, origin, f"coordinates must be below {MAX_COORDINATE:g} in magnitude; rescale the points")
    x = torch.from_numpy(values.astype(np.float32)).to(device)
    return DataSource(name=name, kind="points", x=x, origin=f"{len(values)} points from {origin}")


def points_from_csv_bytes(data: bytes, device: torch.device | str = "cpu",
                          origin: str = "the uploaded CSV") -> DataSource:
    """Parse CSV bytes (e.g. an upload) into a DataSource of points."""
    if len(data) > MAX_CSV_BYTES:
        raise ConfigError(FIELD, origin, f"the CSV is larger than {MAX_CSV_BYTES // 2**20} MB")
    return points_from_array(_parse_csv(io.BytesIO(data), origin), device=device, origin=origin)


def points_from_file(path: str | os.PathLike, device: torch.device | str = "cpu") -> DataSource:
    """Points from a CSV file, or an (N, 2) .npy array, inside the allowed data roots."""
    origin = os.fspath(path)
    path = check_in_roots(path)
    if not path.is_file():
        raise ConfigError(FIELD, origin, "no such file; give a CSV file of x,y points")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ConfigError(FIELD, origin, f"the file is larger than {MAX_CSV_BYTES // 2**20} MB")
    with open(path, "rb") as f:
        if path.suffix.lower() == ".npy":
            return points_from_array(_read_npy(f, origin), device=device, origin=origin)
        data = f.read(MAX_CSV_BYTES + 1)  # the file may have grown since stat
    return points_from_csv_bytes(data, device=device, origin=origin)


def _read_npy(stream: BinaryIO, origin: str) -> np.ndarray:
    """An (N, 2) numeric array from a .npy stream, its header checked before the data is read."""
    def refuse(why: str) -> ConfigError:
        return ConfigError(FIELD, origin, f"not a usable .npy array of points: {why}")

    try:
        version = np.lib.format.read_magic(stream)
        read_header = NPY_HEADER_READERS.get(version)
        if read_header is None:
            raise ValueError(f"format version {version} is not supported (save it with numpy.save)")
        shape, fortran_order, dtype = read_header(stream)
    except ValueError as exc:
        raise refuse(str(exc)) from None
    if dtype.kind not in NPY_KINDS or dtype.itemsize > 8:
        raise refuse(f"dtype {dtype} is not an integer or float type of at most 64 bits")
    if len(shape) != 2 or shape[1] != 2:
        raise refuse(f"shape {shape} is not (N, 2)")
    _check_count(shape[0], origin)
    expected = shape[0] * 2 * dtype.itemsize
    payload = stream.read(expected + 1)  # one byte more than announced reveals trailing data
    if len(payload) != expected:
        held = "more" if len(payload) > expected else f"{len(payload):,}"
        raise refuse(f"the header announces {expected:,} bytes of data, the file holds {held}")
    return np.frombuffer(payload, dtype=dtype).reshape(shape, order="F" if fortran_order else "C")


def _line_blocks(stream: BinaryIO, origin: str) -> Iterator[tuple[int, list[str]]]:
    """(number of the first line, lines) for each block of CSV_BLOCK_BYTES, decoded as UTF-8.

    A line cut by the end of a block is carried into the next one; the carry is what bounds memory,
    so a line longer than MAX_CSV_LINE_CHARS is refused as soon as it is seen.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # -sig: drop the BOM spreadsheets write
    carry, number = "", 1
    while True:
        block = stream.read(CSV_BLOCK_BYTES)
        try:
            text = carry + decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            line = number + block[: max(exc.start, 0)].count(b"\n")
            raise ConfigError(FIELD, origin, f"the CSV must be UTF-8 text (line {line} is not)") from None
        lines = text.splitlines(keepends=True)
        carry = ""
        if block and lines and _unfinished(lines[-1]):
            carry = lines.pop()
            if len(carry) > MAX_CSV_LINE_CHARS:
                raise _too_long(number + len(lines), origin)
        if lines:
            yield number, lines
            number += len(lines)
        if not block:
            return


def _unfinished(line: str) -> bool:
    """Whether a line has no line break yet, or ends in a '\r' whose '\n' may open the next block."""
    return line.endswith("\r") or line.splitlines()[0] == line


def _parse_csv(stream: BinaryIO, origin: str) -> np.ndarray:
    """(N, 2) float64 from CSV bytes, refused at the first bad line (see the module docstring)."""
    coordinates = array.array("d")
    header_allowed = True  # only the first line that is neither blank nor a comment may be a header
    for first_number, lines in _line_blocks(stream, origin):
        start, numbers = len(coordinates), []
        for number, line in enumerate(lines, first_number):
            if len(line) > MAX_CSV_LINE_CHARS:
                raise _too_long(number, origin)
            line = line.strip()
            if not line or line[0] == "#":
                continue
            fields = _split(line)
            try:
                if len(fields) != 2:
                    raise ValueError
                x, y = float(fields[0]), float(fields[1])
            except ValueError:
                if header_allowed and not _all_numbers(fields):
                    header_allowed = False
                    continue
                raise _bad_line(line, fields, number, origin) from None
            header_allowed = False
            if len(coordinates) >= 2 * MAX_POINTS:
                raise ConfigError(FIELD, origin,
                                  f"at most {MAX_POINTS:,} points are allowed; line {number:,} would be one more")
            coordinates.append(x)
            coordinates.append(y)
            numbers.append(number)
        _check_values(np.frombuffer(coordinates[start:], dtype=np.float64).reshape(-1, 2), numbers, origin)
    _check_count(len(coordinates) // 2, origin)
    return np.frombuffer(coordinates, dtype=np.float64).reshape(-1, 2)


def _split(line: str) -> list[str]:
    """The fields of a line; float() ignores the spaces around each."""
    for separator in (",", ";", "\t"):
        if separator in line:
            return line.split(separator)
    return line.split()


def _all_numbers(fields: list[str]) -> bool:
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return True


def _too_long(number: int, origin: str) -> ConfigError:
    return ConfigError(FIELD, origin, f"line {number} is longer than {MAX_CSV_LINE_CHARS} characters")


def _bad_line(line: str, fields: list[str], number: int, origin: str) -> ConfigError:
    if len(fields) != 2:
        return ConfigError(FIELD, origin, f"line {number} has {len(fields)} columns, expected 2 (x, y): {line[:60]!r}")
    return ConfigError(FIELD, origin, f"line {number} is not two numbers: {line[:60]!r}")


def _check_values(points: np.ndarray, numbers: list[int], origin: str) -> None:
    """Refuse the first point (by its line number) that is not finite or too large for float32."""
    finite = np.isfinite(points).all(axis=1)
    bad = ~finite | (np.abs(points) > MAX_COORDINATE).any(axis=1)
    if bad.any():
        row = int(np.argmax(bad))
        if not finite[row]:
            why = f"is not finite ({points[row].tolist()}); remove NaN/Inf values"
        else:
            why = f"has a coordinate above {MAX_COORDINATE:g} in magnitude; rescale the points"
        raise ConfigError(FIELD, origin, f"line {numbers[row]} {why}")


def _check_count(n: int, origin: str) -> None:
    if n < MIN_POINTS:
        raise ConfigError(FIELD, origin, f"needs at least {MIN_POINTS} points, found {n}")
    if n > MAX_POINTS:
        raise ConfigError(FIELD, origin, f"at most {MAX_POINTS:,} points are allowed, found {n:,}")
