"""Untrusted 2D points: hostile CSVs (streamed, refused at the first bad line, memory bounded) and
hostile .npy files (header checked before anything is allocated, never unpickled)."""
from __future__ import annotations

import io
import pickle
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from genlab.config import ConfigError
from genlab.data import limits, points, points_from_csv_bytes, points_from_file


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(tmp_path))


def rows(n: int, start: int = 0) -> bytes:
    return "".join(f"{i * 0.5},{-i * 0.25}\n" for i in range(start, start + n)).encode()


# --- CSV -----------------------------------------------------------------------------------------------

HOSTILE_CSV = {
    # name: (payload, words in the one-line error)
    "over_the_byte_cap": (lambda: b"0" * (limits.MAX_CSV_BYTES + 1), "larger than 64 MB"),
    "one_row_too_many": (lambda: b"0,0\n" * (limits.MAX_POINTS + 1),
                         "at most 1,000,000 points are allowed; line 1,000,001"),
    "long_line": (lambda: rows(20) + b"1" * 300 + b",2\n", "line 21 is longer than 256 characters"),
    "endless_line": (lambda: rows(20) + b"7" * (3 * 2**20), "line 21 is longer than 256 characters"),
    "nan_with_line_number": (lambda: b"# comment\n" + rows(20) + b"nan,1\n", "line 22 is not finite"),
    "inf": (lambda: rows(20) + b"1,-inf\n", "line 21 is not finite"),
    "huge_coordinate": (lambda: rows(20) + b"1e31,0\n", "line 21 has a coordinate above 1e+15"),
    "overflowing_coordinate": (lambda: rows(20) + b"0,-2e22\n", "line 21 has a coordinate above 1e+15"),
    "text_in_a_row": (lambda: rows(30) + b"1.0,abc\n" + rows(30), "line 31 is not two numbers"),
    "three_columns": (lambda: rows(5) + b"1,2,3\n", "line 6 has 3 columns"),
    "numeric_first_line_with_three_columns": (lambda: b"1,2,3\n" + rows(20), "line 1 has 3 columns"),
    "one_column": (lambda: rows(5) + b"42\n", "line 6 has 1 columns"),
    "second_header": (lambda: b"x,y\n" + rows(5) + b"x,y\n", "line 7 is not two numbers"),
    "latin1_in_the_middle": (lambda: rows(40) + "é,1\n".encode("latin-1"), "UTF-8 text (line 41"),
    "utf16": (lambda: "x,y\n1,2\n".encode("utf-16"), "UTF-8 text (line 1"),
    "nul_bytes": (lambda: rows(20) + b"\x00\x00,1\n", "line 21 is not two numbers"),
    "too_few": (lambda: rows(15), "needs at least 16 points, found 15"),
    "only_comments": (lambda: b"# nothing\n" * 50, "needs at least 16 points, found 0"),
}


@pytest.mark.parametrize("kind", HOSTILE_CSV)
def test_hostile_csv_is_refused_with_a_one_line_error(kind):
    payload, words = HOSTILE_CSV[kind]
    with pytest.raises(ConfigError) as info:
        points_from_csv_bytes(payload())
    assert info.value.field == "data.path" and words in str(info.value) and "\n" not in str(info.value)


def test_a_refused_csv_costs_memory_for_the_accepted_rows_only(monkeypatch):
    """Before: the 100 MiB limit let a CSV of 26 million rows cost 5 GB and 15 s before refusal. Now
    the parse stops at the row cap, holding the accepted rows and one block of text. (The cap is
    lowered here to keep the test fast under tracemalloc; the ratio is what counts.)"""
    monkeypatch.setattr(points, "MAX_POINTS", 100_000)
    payload = b"0,0\n" * 3_200_000  # 12.8 MB, 32 times the rows allowed
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="at most 100,000 points are allowed; line 100,001"):
            points_from_csv_bytes(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    accepted = 100_000 * 2 * 8  # float64 x and y of the rows kept until the refusal
    assert peak < 4 * accepted < len(payload)


LINE_ENDINGS = {
    "lf": b"\n",
    "crlf": b"\r\n",
    "cr": b"\r",  # old Mac spreadsheets
}


@pytest.mark.parametrize("ending", LINE_ENDINGS)
@pytest.mark.parametrize("block", [1, 7, 64, 2**20])
def test_block_boundaries_do_not_change_the_points(monkeypatch, ending, block):
    """The stream is decoded block by block: a line, a CRLF or a UTF-8 character cut by a block's end
    must read the same as in one piece."""
    lines = ["\ufeffx;y", "# ünïcödé comment", ""] + [f"{i / 3:.17g} ; {-i * 7.5e-3}" for i in range(40)]
    payload = LINE_ENDINGS[ending].join(line.encode() for line in lines) + LINE_ENDINGS[ending]
    monkeypatch.setattr(points, "CSV_BLOCK_BYTES", block)
    data = points_from_csv_bytes(payload)
    expected = np.array([[i / 3, -i * 7.5e-3] for i in range(40)], dtype=np.float32)
    assert np.array_equal(data.x.numpy(), expected)


def test_errors_name_the_same_line_whatever_the_block_size(monkeypatch):
    payload = rows(10).replace(b"\n", b"\r\n") + b"1,zz\r\n"
    for block in (1, 3, 2**20):
        monkeypatch.setattr(points, "CSV_BLOCK_BYTES", block)
        with pytest.raises(ConfigError, match="line 11 is not two numbers"):
            points_from_csv_bytes(payload)


# --- .npy ----------------------------------------------------------------------------------------------

def npy(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def npy_claiming(shape: tuple, descr: str = "<f8") -> bytes:
    """A version 1.0 .npy header announcing `shape` and `descr`, with no data behind it."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


class Exploit:  # unpickling this would create the marker file
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


HOSTILE_NPY = {
    # name: (payload from tmp_path, words in the error)
    "pickled_objects": (lambda tmp: npy(np.array([[Exploit(tmp / "pwned"), 1]] * 20, dtype=object), allow_pickle=True),
                        "dtype object"),
    "trillion_rows": (lambda tmp: npy_claiming((10**12, 2)), "at most 1,000,000 points"),
    "three_columns": (lambda tmp: npy(np.zeros((20, 3))), "shape (20, 3) is not (N, 2)"),
    "three_dimensions": (lambda tmp: npy(np.zeros((20, 2, 1))), "shape (20, 2, 1) is not (N, 2)"),
    "complex": (lambda tmp: npy(np.zeros((20, 2), dtype=np.complex128)), "dtype complex128"),
    "strings": (lambda tmp: npy(np.full((20, 2), "1.0")), "dtype <U3"),
    "long_double": (lambda tmp: npy(np.zeros((20, 2), dtype=np.longdouble)), "at most 64 bits"),
    "truncated": (lambda tmp: npy(np.zeros((20, 2)))[:-8], "announces 320 bytes of data, the file holds 312"),
    "trailing": (lambda tmp: npy(np.zeros((20, 2))) + b"\x00", "the file holds more"),
    "not_npy": (lambda tmp: b"x,y\n1,2\n", "not a usable .npy array"),
    "future_version": (lambda tmp: b"\x93NUMPY\x09\x00" + npy(np.zeros((20, 2)))[8:],
                       "version (9, 0) is not supported"),
    "nan": (lambda tmp: npy(np.full((20, 2), np.nan)), "point 1 is not finite"),
}


@pytest.mark.parametrize("kind", HOSTILE_NPY)
def test_hostile_npy_is_refused_before_allocating(tmp_path, kind):
    make, words = HOSTILE_NPY[kind]
    path = tmp_path / "points.npy"
    path.write_bytes(make(tmp_path))
    with pytest.raises(ConfigError) as info:
        points_from_file(path)
    assert info.value.field == "data.path" and words in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("dtype", ["<f8", ">f4", "<i2", "u1"])
@pytest.mark.parametrize("fortran", [False, True])
def test_npy_points_of_any_numeric_dtype_and_order_load_exactly(tmp_path, dtype, fortran):
    values = (np.arange(40).reshape(20, 2) * 3).astype(dtype)
    path = tmp_path / "points.npy"
    path.write_bytes(npy(np.asfortranarray(values) if fortran else values))
    assert np.array_equal(points_from_file(path).x.numpy(), values.astype(np.float32))


def test_pickle_is_never_loaded_from_a_csv_named_file(tmp_path):
    path = tmp_path / "points.csv"
    path.write_bytes(pickle.dumps(Exploit(tmp_path / "pwned")))
    with pytest.raises(ConfigError):
        points_from_file(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("loss, penalty", [("nonsaturating", "objective.r1_gamma"), ("wasserstein", "objective.gp_lambda")])
def test_the_largest_accepted_coordinates_train_without_overflow(loss, penalty):
    """An upload is refused above MAX_COORDINATE; at it, a training step must not overflow float32
    (above about 1e19 it did, and the run then died at its first step with advice about learning rates)."""
    from genlab.data.limits import MAX_COORDINATE
    from genlab.presets import config_for
    from genlab.trainers import make_trainer
    from genlab.training import run

    edge = np.random.default_rng(0).choice([-1.0, 1.0], size=(256, 2)) * MAX_COORDINATE
    data = points.points_from_array(edge, origin="edge.csv")
    config = config_for("gan", "points", dotted={"data.path": "edge.csv", "objective.gan_loss": loss, penalty: 1.0})
    result = run(make_trainer(config, data=data, device="cpu"), until=5)
    assert result.error is None, result.error
