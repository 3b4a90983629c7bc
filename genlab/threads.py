"""Run small torch workloads on the calling thread alone (OpenMP's per-thread setting, through ctypes).

Decoding one latent is ~1 ms of work. Split over torch's intra-op threads, each op ends in a barrier
that waits for every thread to be scheduled: on 2 cores shared with a training run (or other
processes) one decode measured 200-400 ms instead of 1 ms. torch has no per-thread API for this;
OpenMP does (omp_set_num_threads acts on the calling thread's next parallel regions).
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Iterator

import torch

# where torch keeps the OpenMP runtime it ships with, by platform
_RUNTIME_PATTERNS = ("libgomp*.so*", "libiomp5*.so*", "libomp*.so*", "libomp*.dylib", "libiomp5*.dylib")
_SYSTEM_RUNTIME = "libgomp.so.1"  # a system OpenMP that torch linked against


def _load(path: str) -> ctypes.CDLL | None:
    """The OpenMP runtime at `path` with the two calls used here typed, or None if it is not one."""
    try:
        lib = ctypes.CDLL(path)
        lib.omp_set_num_threads.argtypes = [ctypes.c_int]
        lib.omp_get_max_threads.restype = ctypes.c_int
        return lib
    except (OSError, AttributeError):
        return None


def openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP library torch runs its intra-op threads on, or None (another backend, or not found)."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    folder = os.path.join(os.path.dirname(torch.__file__), "lib")
    candidates = [path for pattern in _RUNTIME_PATTERNS for path in sorted(glob.glob(os.path.join(folder, pattern)))]
    for path in candidates + [_SYSTEM_RUNTIME]:
        lib = _load(path)
        if lib is not None:
            return lib
    return None


OPENMP = openmp_runtime()


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch ops in the block on the calling thread only; other threads keep their setting.

    torch.set_num_threads would also change the default of threads started later (e.g. a training
    thread) and MKL's global count, so this sets OpenMP's count for the calling thread only. Without
    an OpenMP runtime the block runs unchanged.
    """
    if OPENMP is None:
        yield
        return
    torch.get_num_threads()  # torch's lazy per-thread init first, so it cannot undo the setting below
    previous = OPENMP.omp_get_max_threads()
    OPENMP.omp_set_num_threads(1)
    try:
        yield
    finally:
        OPENMP.omp_set_num_threads(previous)
