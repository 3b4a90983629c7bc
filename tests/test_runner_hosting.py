"""Choosing where runs train (GENLAB_RUNNER) and what crosses the pipe to a worker process, without starting one."""
from __future__ import annotations

import pickle

import pytest
import torch

from genlab.config import ConfigError
from genlab.data.points import points_from_array
from genlab.live import TrainingRunner, runner_class, runner_kind
from genlab.live.process_runner import ProcessRunner
from genlab.live.worker import REQUESTS, answer, portable_error


def test_runner_kind_from_the_environment(monkeypatch):
    monkeypatch.setenv("GENLAB_RUNNER", "thread")
    assert runner_kind() == "thread" and runner_class() is TrainingRunner
    monkeypatch.setenv("GENLAB_RUNNER", " Process ")
    assert runner_kind() == "process" and runner_class() is ProcessRunner
    monkeypatch.setenv("GENLAB_RUNNER", "fork")
    with pytest.raises(ConfigError, match="GENLAB_RUNNER='fork' is invalid: must be 'process' or 'thread'"):
        runner_class()
    monkeypatch.delenv("GENLAB_RUNNER")
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert runner_kind() == "thread"  # one core: a worker process would only add memory
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert runner_kind() == "process"


def test_config_errors_pickle_with_their_parts():
    error = pickle.loads(pickle.dumps(ConfigError("objective.beta", -1.0, "must be >= 0")))
    assert (error.field, error.value, error.allowed) == ("objective.beta", -1.0, "must be >= 0")
    assert str(error) == "objective.beta=-1.0 is invalid: must be >= 0"


def test_an_error_of_another_type_crosses_as_its_type_and_message():
    class Local(Exception):  # e.g. a class defined in a function, which cannot be pickled
        pass

    crossed = portable_error(Local("boom"))
    assert type(crossed) is RuntimeError and str(crossed) == "Local: boom"
    kept = ValueError("bad")
    assert portable_error(kept) is kept


def test_a_worker_answers_only_the_runner_requests():
    with pytest.raises(ValueError, match="does not answer 'exclusive'"):
        answer(object(), "exclusive", (), {})
    with pytest.raises(ValueError, match="does not answer '__class__'"):
        answer(object(), "__class__", (), {})
    assert {"start", "snapshot", "open_saved", "close"} <= REQUESTS and "load" not in REQUESTS


def test_a_data_source_moves_with_its_heldout_part():
    source = points_from_array(torch.randn(40, 2).numpy())
    assert source.to("cpu") is source
    source.heldout = points_from_array(torch.randn(20, 2).numpy())
    meta = source.to("meta")
    assert meta.x.device.type == "meta" and meta.heldout.x.device.type == "meta" and len(meta.heldout) == 20
    assert source.x.device.type == "cpu"  # a copy moved, not the original


def test_the_server_can_spawn_a_worker_before_importing_torch(repo_root):
    import subprocess
    import sys

    code = "import sys, genlab.live.pool, genlab.live.hosting; print(sorted({'torch', 'streamlit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=repo_root).stdout.strip()
    assert out == "[]"


def test_a_spawned_worker_importing_app_py_does_not_start_the_app(repo_root):
    """multiprocessing's spawn imports the parent's main module (under Streamlit: app.py) as "__mp_main__"."""
    import subprocess
    import sys

    code = ("import runpy, sys; runpy.run_path('app.py', run_name='__mp_main__'); "
            "print(sorted({'streamlit', 'pages', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=repo_root).stdout.strip()
    assert out == "[]"
