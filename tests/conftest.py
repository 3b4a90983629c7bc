"""Shared test fixtures (kept minimal: most fixtures live in the test file that needs them)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    # The tests' models are small: one intra-op thread runs them fastest, and it leaves the second
    # core to the Streamlit servers and browsers that the UI tests start.
    torch.set_num_threads(1)


def wait_until(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = ""):
    """Poll `condition` until it returns something truthy (returned) or fail after `timeout` s.
    Tests poll instead of sleeping a fixed time: the first torch step in a fresh thread can take ~1 s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(interval)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., object]:
    return wait_until
