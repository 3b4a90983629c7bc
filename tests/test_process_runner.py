"""ProcessRunner: what hosting a run in a worker process adds to the runner interface (tests/test_runner.py
runs the shared commands on both runners): a worker that dies, a server that goes away, data and errors
crossing the pipe."""
from __future__ import annotations

import multiprocessing.forkserver
import os
import re
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from genlab.config import ConfigError, RunConfig
from genlab.data.points import points_from_array
from genlab.live import ERROR, IDLE, RUNNING, Autosave, CapacityLimiter
from genlab.live.pool import FORKING
from genlab.live.process_runner import ProcessRunner, WorkerGone
from genlab.live.worker import WORKER_NICENESS

pytestmark = pytest.mark.slow  # each test starts worker processes (a fresh interpreter imports torch)

RING = RunConfig(name="ring-test", seed=0).replace(**{"data.n_samples": 2000, "model.width": 32,
                                                      "optim.batch_size": 64})


@pytest.fixture
def capacity():
    return CapacityLimiter(limit=2)


@pytest.fixture
def runner(capacity):
    runner = ProcessRunner(RING, capacity=capacity)
    yield runner
    runner.close()
    assert capacity.active == 0


def test_a_killed_worker_shows_an_error_and_reset_starts_a_new_one(runner, capacity, wait_until):
    runner.start()
    seen = wait_until(lambda: (snap := runner.snapshot()).step >= 5 and snap, what="training in the worker")
    assert capacity.holds(runner)
    old_run = runner.run_id
    os.kill(runner._worker.process.pid, signal.SIGKILL)  # e.g. the kernel's out-of-memory killer

    snap = runner.snapshot()
    assert snap.state == ERROR and "stopped unexpectedly (exit code -9" in snap.message
    assert "Autosaved runs" in snap.message and "Reset" in snap.message
    assert snap.step == seen.step and snap.config == RING  # the page keeps the last picture it got of the run
    assert runner.state == ERROR and not runner.thread_alive
    assert not capacity.holds(runner)  # its slot is free for other tabs
    with pytest.raises(WorkerGone, match="press Reset"):
        runner.start()
    assert not capacity.holds(runner)

    runner.reset()
    assert runner.run_id > old_run and runner.state == IDLE and runner.step_count == 0
    runner.start()
    wait_until(lambda: runner.step_count >= 5, what="training in the new worker")


def test_a_worker_whose_server_went_away_autosaves_and_exits(runner, tmp_path, wait_until):
    from genlab.runs import load_run

    runner.enable_autosave(Autosave(tmp_path, "tab-gone"))
    runner.start()
    wait_until(lambda: runner.step_count >= 20, what="training")
    worker = runner._worker
    worker.connection.close()  # what the worker sees when the server process dies
    worker.process.join(timeout=60)
    assert worker.process.exitcode == 0
    loaded = load_run("tab-gone", root=tmp_path)
    assert loaded.trainer.step_count >= 20


def test_uploaded_data_and_config_errors_cross_the_pipe(runner, wait_until):
    far_away = points_from_array(np.random.default_rng(0).normal((3.0, -3.0), 0.05, size=(300, 2)), origin="far.csv")
    runner.reset(RING.replace(**{"data.name": "points", "data.path": "far.csv"}), data=far_away)
    runner.step()
    scene = wait_until(lambda: runner.snapshot(want_scene=True).scene, what="the 2D scene")
    assert np.allclose(scene.real.mean(axis=0), (3.0, -3.0), atol=0.1)  # the worker trains on these points
    runner.reset(RING.replace(seed=1))  # another config: a built-in set again
    assert np.abs(wait_until(lambda: runner.snapshot(want_scene=True).scene).real.mean(axis=0)).max() < 0.5

    with pytest.raises(ConfigError) as info:
        runner.set_live(**{"objective.r1_gamma": -1.0})
    assert info.value.field == "objective.r1_gamma" and info.value.value == -1.0  # the error itself, not a copy


def test_the_cap_is_kept_in_the_server(capacity, wait_until):
    runners = [ProcessRunner(RING.replace(seed=seed), capacity=capacity) for seed in range(3)]
    try:
        for runner in runners[:2]:
            runner.start()
        with pytest.raises(Exception, match="already running 2 training"):
            runners[2].start()
        assert runners[2].state == IDLE  # the worker never heard of the refused Start
        runners[0].stop()
        runners[2].start()
        wait_until(lambda: runners[2].state == RUNNING and runners[2].step_count > 0)
    finally:
        for runner in runners:
            runner.close()
    assert capacity.active == 0


def test_close_without_waiting_ends_the_worker_in_the_background(capacity, wait_until):
    runner = ProcessRunner(RING, capacity=capacity)
    runner.start()
    process = runner._worker.process
    # Streamlit's session-end hook must not block its event loop: hold the shut-down until close() has
    # returned; had close() waited for it, the hold would only end by running out
    release, held_to_the_end = threading.Event(), []
    shut_down = runner._shut_down

    def held_shut_down(timeout):
        held_to_the_end.append(not release.wait(60))
        shut_down(timeout)

    runner._shut_down = held_shut_down
    runner.close(timeout=0)
    assert process.is_alive()  # nothing has told it to end yet
    release.set()
    wait_until(lambda: not process.is_alive(), timeout=60, what="the worker to exit")
    assert held_to_the_end == [False]
    assert capacity.active == 0
    with pytest.raises(RuntimeError, match="closed"):
        runner.start()


def test_the_page_draws_before_the_worker_is_ready_and_commands_wait_for_it(capacity, wait_until):
    from genlab.live.pool import SPARES
    from genlab.live.process_runner import PREPARING

    SPARES.close()  # no spare ready: this runner's worker starts from scratch (seconds)
    runner = ProcessRunner(RING, capacity=capacity)
    try:
        assert not runner.ready  # the constructor returned while the worker still imports torch
        snap = runner.snapshot()
        assert (snap.state, snap.step, snap.preview, snap.message) == (IDLE, 0, None, PREPARING)
        assert (runner.state, runner.step_count, runner.config, runner.data_kind) == (IDLE, 0, RING, "points")
        runner.start()  # waits for the worker, then trains
        assert runner.ready
        wait_until(lambda: runner.step_count >= 5, what="training in the worker")
        assert runner.snapshot().preview is not None
    finally:
        runner.close()


def test_a_setup_that_fails_in_the_worker_shows_an_error_and_reset_recovers(capacity, wait_until):
    # a folder outside the data roots: valid as a config, refused when the worker loads the data
    refused = RING.replace(**{"data.name": "folder", "data.path": "/nonexistent/images"})
    runner = ProcessRunner(refused, capacity=capacity)
    try:
        assert runner.wait_ready(timeout=120)
        snap = runner.snapshot()
        assert snap.state == ERROR and "could not be set up" in snap.message and "outside the folders" in snap.message
        with pytest.raises(WorkerGone, match="press Reset"):
            runner.start()
        assert not capacity.holds(runner)
        runner.reset(RING)
        runner.start()
        wait_until(lambda: runner.step_count >= 5, what="training after Reset")
    finally:
        runner.close()
    assert capacity.active == 0


def test_a_runner_closed_while_its_worker_starts_leaves_no_process(capacity, wait_until):
    import multiprocessing

    from genlab.live.pool import SPARES

    SPARES.close()
    before = set(multiprocessing.active_children())
    runner = ProcessRunner(RING, capacity=capacity)
    runner.close(timeout=0)  # a tab closed at once
    assert not runner.ready
    wait_until(lambda: runner.ready, timeout=120, what="the worker's setup to end")
    wait_until(lambda: not (set(multiprocessing.active_children()) - before - {SPARES._spare and SPARES._spare.process}),
               timeout=60, what="the closed runner's worker to exit")
    with pytest.raises(RuntimeError, match="closed"):
        runner.start()


def memory_mib(pid: int) -> dict[str, int]:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return {key: int(kib) // 1024 for key, kib in re.findall(r"^(\w+):\s+(\d+) kB", rollup, re.M)}


@pytest.mark.skipif(not FORKING, reason="workers fork from a fork server on Linux only; elsewhere they are spawned")
def test_workers_fork_from_a_server_with_torch_loaded_share_its_memory_and_yield_the_cores(runner, wait_until):
    runner.start()
    wait_until(lambda: runner.step_count >= 20, what="training in the worker")
    worker = runner._worker.process.pid
    fork_server = multiprocessing.forkserver._forkserver._forkserver_pid
    parent = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert parent == fork_server
    assert "libtorch_cpu" in Path(f"/proc/{fork_server}/maps").read_text()  # the preload ran there
    # a spawned worker holds its own ≈ 360 MiB of torch (about half its resident memory); a forked one
    # shares it with the fork server until it writes to it
    memory = memory_mib(worker)
    assert memory["Private_Clean"] + memory["Private_Dirty"] < 0.3 * memory["Rss"], memory
    assert os.getpriority(os.PRIO_PROCESS, worker) == min(19, os.nice(0) + WORKER_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, fork_server) == min(19, os.nice(0) + WORKER_NICENESS)


def test_a_worker_reads_the_servers_genlab_settings_as_they_are_when_it_starts(monkeypatch, tmp_path, capacity):
    """A forked worker's environment is the fork server's, from when that started: the server's GENLAB_*
    variables must reach the worker anyway (here: a data root added afterwards)."""
    from genlab.live.pool import ensure_fork_server

    if FORKING:
        ensure_fork_server()
    root = tmp_path / "my-data"
    root.mkdir()
    rows = np.random.default_rng(0).normal(size=(300, 2))
    (root / "points.csv").write_text("\n".join(f"{x},{y}" for x, y in rows))
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(root))
    config = RING.replace(**{"data.name": "points", "data.path": str(root / "points.csv")})
    runner = ProcessRunner(config, capacity=capacity)
    try:
        assert runner.wait_ready(timeout=120)
        assert runner.state != "error", runner.snapshot().message
        runner.step()
        assert runner.step_count == 1
    finally:
        runner.close()
