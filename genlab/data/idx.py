"""A small reader for the IDX format of MNIST / Fashion-MNIST (raw or gzip-compressed).

Format (big-endian): two zero bytes, a type code, the number of dimensions d, then d uint32 sizes,
then the values. The header is checked and the payload must have exactly the announced size, so a
truncated or corrupt file is refused with its name instead of producing garbage images.
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

from genlab.data.source import DataUnavailableError

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 2**31  # far above any real IDX file; refuses absurd headers before allocating


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (gzip detected from its first bytes, not its name)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            return _read_idx_stream(f, path)
    except DataUnavailableError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        # gzip raises BadGzipFile (an OSError) or EOFError for damaged archives.
        raise DataUnavailableError(f"cannot read IDX file {path}: {exc}. Replace it with a good copy.") from exc


def _read_idx_stream(f, path: str) -> np.ndarray:
    def corrupt(why: str) -> DataUnavailableError:
        return DataUnavailableError(f"{path} is not a valid IDX file ({why}). Replace it with a good copy.")

    header = f.read(4)
    if len(header) != 4:
        raise corrupt("file too short")
    zero1, zero2, type_code, ndim = header
    if zero1 != 0 or zero2 != 0 or type_code not in IDX_TYPES or not 1 <= ndim <= 4:
        raise corrupt(f"bad magic number 0x{header.hex()}")
    raw_dims = f.read(4 * ndim)
    if len(raw_dims) != 4 * ndim:
        raise corrupt("header cut short")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if expected > MAX_IDX_BYTES:
        raise corrupt(f"announces {expected} bytes of data")
    payload = f.read(expected + 1)  # one byte more than announced reveals trailing garbage
    if len(payload) != expected:
        size = "more" if len(payload) > expected else len(payload)
        raise corrupt(f"header announces {expected} bytes of data for shape {dims}, the file holds {size}")
    # astype copies into a writable array in native byte order (frombuffer's view is read-only).
    return np.frombuffer(payload, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))
