"""genlab.threads: torch ops on the calling thread alone, without touching other threads' settings."""
from __future__ import annotations

import threading

import pytest
import torch

from genlab.threads import OPENMP, single_threaded


@pytest.mark.skipif(OPENMP is None, reason="torch does not run on an OpenMP runtime here")
def test_single_threaded_changes_only_the_calling_thread():
    def threads_in_another_thread() -> int:
        seen = []
        other = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        other.start()
        other.join()
        return seen[0]

    configured = torch.get_num_threads()
    torch.set_num_threads(2)  # the tests run on one thread (conftest): start from two, so one is a change
    try:
        before, other_before = torch.get_num_threads(), threads_in_another_thread()
        with single_threaded():
            inside, other_inside = torch.get_num_threads(), threads_in_another_thread()
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(configured)
    assert before == other_before == 2
    assert inside == 1 and other_inside == 2
    assert after == 2
