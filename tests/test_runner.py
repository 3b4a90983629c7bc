"""TrainingRunner: the background training thread, its commands, snapshots and the capacity cap; the tests
of the page-facing interface also run on ProcessRunner (the same run in a worker process)."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from genlab.config import ConfigError, RunConfig
from genlab.live import (
    DIVERGED,
    IDLE,
    PAUSED,
    RUNNING,
    STOPPED,
    CapacityError,
    CapacityLimiter,
    OpenedRun,
    TrainingRunner,
    threads_per_training,
)
from genlab.live.process_runner import ProcessRunner

SMALL = {"data.n_samples": 2000, "model.width": 32, "optim.batch_size": 64}
RING = RunConfig(name="ring-test", seed=0).replace(**SMALL)


@pytest.fixture
def capacity():
    return CapacityLimiter(limit=4)


@pytest.fixture
def make_runner(capacity):
    runners: list[TrainingRunner] = []

    def make(config: RunConfig = RING, **kwargs) -> TrainingRunner:
        runner = TrainingRunner(config, capacity=kwargs.pop("capacity", capacity), **kwargs)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()
    assert not any(r.thread_alive for r in runners)


@pytest.fixture(params=[TrainingRunner, pytest.param(ProcessRunner, marks=pytest.mark.slow)],
                ids=["thread", "process"])
def make_any_runner(request, capacity):
    """make_runner for the tests of what pages use: once with each runner class."""
    runners = []

    def make(config: RunConfig = RING, **kwargs):
        runner = request.param(config, capacity=kwargs.pop("capacity", capacity), **kwargs)
        runners.append(runner)
        assert runner.wait_ready(timeout=120), "the run's worker process did not start"
        return runner

    yield make
    for runner in runners:
        runner.close()
    assert capacity.active == 0


# --- commands ----------------------------------------------------------------------------------------
def test_start_pause_resume_stop(make_any_runner, wait_until):
    runner = make_any_runner()
    assert runner.state == IDLE and runner.snapshot().preview is not None
    runner.start()
    wait_until(lambda: runner.step_count >= 20, what="training steps")
    snap = runner.snapshot()
    assert snap.state == RUNNING and snap.elapsed_s > 0
    assert "loss/d" in snap.history and "loss/g" in snap.history
    wait_until(lambda: runner.snapshot().steps_per_s > 0, what="a steps/s estimate")

    runner.pause()
    wait_until(lambda: runner.state == PAUSED)
    paused_at = runner.step_count
    threading.Event().wait(0.3)
    assert runner.step_count <= paused_at + 1  # at most the step in flight when Pause arrived
    assert runner.snapshot().steps_per_s == 0

    runner.resume()
    wait_until(lambda: runner.step_count > paused_at + 10, what="steps after resume")
    runner.stop()
    assert runner.state == STOPPED and not runner.thread_alive
    stopped_at = runner.step_count
    threading.Event().wait(0.2)
    assert runner.step_count == stopped_at
    runner.start()  # Start after Stop continues the same run
    wait_until(lambda: runner.step_count > stopped_at, what="steps after restart")


def test_the_first_steps_settings_are_kept_through_later_live_changes(make_any_runner, tmp_path):
    runner = make_any_runner()
    runner.set_live(**{"objective.r1_gamma": 2.0})  # before the first step: the run starts with it
    assert runner.start_config.objective.r1_gamma == 2.0
    runner.step()
    runner.set_live(**{"objective.r1_gamma": 5.0, "optim.updates": "simultaneous"})
    assert runner.config.objective.r1_gamma == 5.0 and runner.config.optim.updates == "simultaneous"
    assert runner.start_config.objective.r1_gamma == 2.0 and runner.start_config.optim.updates == "alternating"
    runner.reset()  # a fresh run starts with the settings it is given
    assert runner.start_config.objective.r1_gamma == 5.0
    runner.step()
    runner.save("kept", root=tmp_path)
    runner.open_saved("kept", root=tmp_path)
    assert runner.start_config is None  # a saved run's first step is not on record


def test_manual_steps_and_gan_only_kinds(make_any_runner):
    runner = make_any_runner()
    metrics = runner.step("d")
    assert "loss/d" in metrics and "loss/g" not in metrics
    metrics = runner.step("g")
    assert "loss/g" in metrics and "loss/d" not in metrics
    metrics = runner.step()
    assert {"loss/d", "loss/g"} <= set(metrics)
    assert runner.step_count == 3 and runner.state == PAUSED and not runner.thread_alive
    assert runner.snapshot().preview_step == 3
    with pytest.raises(ValueError):
        runner.step("x")


def test_vae_has_no_d_only_step(make_any_runner):
    runner = make_any_runner(RING.replace(**{"model.family": "vae", "objective.likelihood": "gaussian"}))
    with pytest.raises(ValueError, match="GANs only"):
        runner.step("d")
    assert "loss/kl" in runner.step()


def test_live_change_reaches_trainer_mid_run(make_runner, wait_until):
    runner = make_runner()
    runner.start()
    wait_until(lambda: runner.step_count >= 5)
    run_id, before = runner.run_id, runner.step_count
    runner.set_live(**{"objective.r1_gamma": 1.0, "optim.lr_discriminator": 1e-4})
    assert runner.trainer.config.objective.r1_gamma == 1.0
    assert runner.trainer.optimizers["discriminator"].param_groups[0]["lr"] == 1e-4
    wait_until(lambda: "penalty/r1" in runner.snapshot().last, what="an R1 penalty in the metrics")
    assert runner.run_id == run_id and runner.step_count > before  # no reset
    assert runner.live_values()["objective.r1_gamma"] == 1.0


def test_bad_live_change_raises_and_changes_nothing(make_any_runner):
    runner = make_any_runner()
    with pytest.raises(ConfigError, match="r1_gamma"):
        runner.set_live(**{"objective.r1_gamma": -1.0})
    with pytest.raises(ConfigError, match="needs Reset"):
        runner.set_live(**{"model.width": 64})
    assert runner.config.objective.r1_gamma == 0.0


def test_slow_motion_limits_speed(make_any_runner, wait_until):
    runner = make_any_runner()
    runner.set_slow_motion(5.0)
    runner.start()
    wait_until(lambda: runner.step_count >= 1)
    start = runner.step_count
    threading.Event().wait(1.0)
    assert runner.step_count - start <= 8
    assert runner.snapshot().slow_motion_steps_per_s == pytest.approx(5.0)
    assert runner.slow_motion_steps_per_s == pytest.approx(5.0)  # what the sidebar reads
    runner.set_slow_motion(None)
    assert runner.slow_motion_steps_per_s is None
    wait_until(lambda: runner.step_count > start + 30, what="full speed again")


def test_reset_builds_a_new_run_and_keeps_old_one_on_error(make_any_runner, wait_until):
    runner = make_any_runner()
    runner.step()
    with pytest.raises(ConfigError):
        runner.reset(RING.replace(**{"model.arch": "conv"}))  # conv on 2D data is invalid
    assert runner.step_count == 1  # untouched
    runner.reset(RING.replace(**{"model.family": "vae", "objective.likelihood": "gaussian"}))
    snap = runner.snapshot()
    assert snap.family == "vae" and snap.step == 0 and snap.state == IDLE and not snap.history


# --- snapshots -----------------------------------------------------------------------------------------
def test_snapshot_is_a_read_only_copy(make_any_runner):
    runner = make_any_runner()
    for _ in range(3):
        runner.step()
    snap = runner.snapshot()
    steps, values = snap.history["loss/d"]
    with pytest.raises(ValueError):
        values[0] = 0.0
    with pytest.raises(TypeError):
        snap.history["x"] = (steps, values)  # type: ignore[index]
    with pytest.raises(ValueError):
        snap.preview[0, 0] = 1.0
    runner.step()
    assert len(snap.history["loss/d"][0]) == 3  # the old snapshot did not change


def test_2d_scene_only_when_asked(make_any_runner, wait_until):
    runner = make_any_runner()
    runner.step()
    assert runner.snapshot().scene is None
    scene = wait_until(lambda: runner.snapshot(want_scene=True).scene)
    assert scene.heat.shape == (len(scene.grid_y), len(scene.grid_x))
    assert np.all((scene.heat >= 0) & (scene.heat <= 1)) and scene.heat_label == "D(x)"
    assert scene.field_xy.shape == scene.field_uv.shape and scene.field_uv.shape[1] == 2
    assert scene.real.shape[1] == 2 and scene.fake.shape == scene.real.shape
    x0, x1, y0, y1 = scene.extent
    assert x0 < -1 < 1 < x1 and y0 < -1 < 1 < y1  # the ring (radius 1) is inside the view
    runner.start()  # while running, the thread refreshes it
    wait_until(lambda: runner.snapshot(want_scene=True).scene.step > scene.step, what="a newer scene")


def test_a_paused_runs_pictures_show_the_step_it_stopped_at(make_any_runner, wait_until):
    """While training, the preview and the scene are drawn at most every PREVIEW_INTERVAL_S; a page drawn
    once after Pause must not show a picture from steps before, so the first snapshot brings them up."""
    runner = make_any_runner()
    runner.start()
    wait_until(lambda: runner.snapshot(want_scene=True).scene is not None and runner.step_count >= 50)
    runner.pause()
    wait_until(lambda: runner.state == PAUSED)
    snap = runner.snapshot(want_scene=True)
    assert snap.preview_step == snap.step and snap.scene.step == snap.step
    runner.step()
    snap = runner.snapshot()  # no scene asked for: the preview alone comes up to the step
    assert snap.preview_step == snap.step


def test_image_runs_have_image_previews(make_any_runner):
    config = RunConfig(name="shapes").replace(**{
        "data.name": "shapes", "data.n_samples": 256, "model.family": "vae", "model.arch": "conv",
        "model.width": 8, "optim.batch_size": 16,
    })
    runner = make_any_runner(config)
    runner.step()
    snap = runner.snapshot(want_scene=True)
    assert snap.data_kind == "images" and snap.scene is None
    assert snap.preview.ndim == 4 and snap.preview.min() >= 0 and snap.preview.max() <= 1


# --- divergence ------------------------------------------------------------------------------------------
def test_nan_run_pauses_with_message_and_rolls_back(make_runner, wait_until):
    runner = make_runner()
    runner.start()
    wait_until(lambda: runner.step_count >= 10)
    runner.pause()
    wait_until(lambda: runner.state == PAUSED)
    with runner.exclusive() as trainer:
        trainer.data.x[:] = float("nan")  # every real batch is now NaN
    step_before = runner.step_count
    runner.resume()
    wait_until(lambda: runner.state == DIVERGED, what="the divergence")
    snap = runner.snapshot()
    assert snap.diverged_term.startswith("loss/d") or snap.diverged_term.startswith("grad_norm/d")
    assert snap.diverged_term in snap.message
    assert "learning rate" in snap.message and "paused" in snap.message
    assert snap.step <= step_before and f"rolled back to step {snap.step}" in snap.message
    for net in runner.trainer.networks.values():  # back to the last snapshot's good weights
        assert all(torch.isfinite(value).all() for value in net.state_dict().values())
    assert runner.thread_alive  # paused, not gone: fix a setting and Resume
    with runner.exclusive() as trainer:
        trainer.data.x.copy_(torch.randn_like(trainer.data.x))
    runner.resume()
    wait_until(lambda: runner.step_count > step_before + 5, what="training after the fix")


# --- many users --------------------------------------------------------------------------------------------
def test_two_runs_train_at_once(make_any_runner, wait_until):
    a, b = make_any_runner(), make_any_runner(RING.replace(seed=1))
    a.start()
    b.start()
    wait_until(lambda: a.step_count >= 20 and b.step_count >= 20, what="both runs progressing")
    a_at, b_at = a.step_count, b.step_count
    wait_until(lambda: a.step_count > a_at and b.step_count > b_at, what="both still progressing")


def test_capacity_cap_refuses_with_a_clear_message(make_any_runner, wait_until):
    capacity = CapacityLimiter(limit=2)
    a, b, c = (make_any_runner(capacity=capacity) for _ in range(3))
    a.start()
    b.start()
    assert capacity.active == 2
    with pytest.raises(CapacityError, match=r"limit \(2; set by GENLAB_MAX_TRAININGS") as info:
        c.start()
    assert "Stop a run in another tab" in str(info.value)
    assert c.state == IDLE and not c.thread_alive
    a.pause()  # a paused run keeps its slot
    with pytest.raises(CapacityError):
        c.start()
    a.close()  # a closed tab frees its slot
    assert capacity.active == 1
    c.start()
    wait_until(lambda: c.step_count > 0)


def test_capacity_limit_from_environment(monkeypatch):
    limiter = CapacityLimiter()
    monkeypatch.setenv("GENLAB_MAX_TRAININGS", "3")
    assert limiter.limit == 3
    monkeypatch.setenv("GENLAB_MAX_TRAININGS", "0")
    with pytest.raises(ConfigError):
        limiter.limit
    monkeypatch.delenv("GENLAB_MAX_TRAININGS")
    import os

    assert limiter.limit == (os.cpu_count() or 1)
    monkeypatch.setenv("GENLAB_TORCH_THREADS", "3")
    assert threads_per_training(limiter) == 3
    monkeypatch.delenv("GENLAB_TORCH_THREADS")
    assert threads_per_training(CapacityLimiter(limit=1)) == (os.cpu_count() or 1)


def test_close_stops_the_thread(make_runner, wait_until):
    runner = make_runner()
    runner.start()
    wait_until(lambda: runner.step_count > 0)
    thread = runner._thread
    runner.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        runner.start()


def test_save_writes_a_loadable_run(make_any_runner, tmp_path):
    checkpoints = pytest.importorskip("genlab.runs")
    runner = make_any_runner()
    for _ in range(12):
        runner.step()
    path = runner.save(name="saved-ring", root=str(tmp_path))
    assert (path / "config.json").is_file()
    loaded = checkpoints.load_run("saved-ring", root=tmp_path)
    assert loaded.trainer.step_count == 12
    assert loaded.history["step"][-1] == 12.0 and len(loaded.history["loss/d"]) == 12


def test_load_continues_a_saved_run(make_runner, tmp_path):
    checkpoints = pytest.importorskip("genlab.runs")
    first = make_runner()
    for _ in range(10):
        first.step()
    checkpoints.save_run(first.trainer, first.history_lists(), root=tmp_path, name="to-continue")
    loaded = checkpoints.load_run(tmp_path / "to-continue")
    assert loaded.data_available and loaded.trainer.step_count == 10

    runner = make_runner(RING.replace(seed=5, **{"model.width": 16}))  # some other run, replaced by the load
    runner.step()
    run_id = runner.run_id
    runner.load(loaded.trainer, loaded.history)
    assert runner.run_id != run_id and runner.state == IDLE
    assert runner.config == loaded.config and runner.config.model.width == 32
    snap = runner.snapshot()
    assert snap.step == 10 and snap.last["step"] == 10.0 and snap.preview is not None
    assert snap.history["loss/d"][0].tolist() == list(range(1, 11))  # the saved curve, not a restart
    for _ in range(3):
        runner.step()
    assert runner.step_count == 13
    table = runner.history_lists()
    assert table["step"] == [float(s) for s in range(1, 14)] and len(table["loss/d"]) == 13
    assert table["loss/d"][:10] == pytest.approx(loaded.history["loss/d"], nan_ok=True)
    runner.start()  # trains on from the saved step
    runner.stop()
    assert runner.step_count >= 13


def test_open_saved_continues_a_saved_run(make_any_runner, tmp_path):
    first = make_any_runner()
    for _ in range(6):
        first.step()
    path = first.save(name="reopen", root=str(tmp_path))
    runner = make_any_runner(RING.replace(seed=5, **{"model.width": 16}))
    run_id = runner.run_id
    assert runner.open_saved(path) == OpenedRun("reopen", 6, "ring", True)
    assert runner.run_id != run_id and runner.step_count == 6 and runner.config.model.width == 32
    runner.step()
    assert runner.history_lists()["step"] == [float(s) for s in range(1, 8)]  # the saved curve goes on
    with pytest.raises(ValueError, match="missing"):  # CheckpointError: nothing changes
        runner.open_saved(tmp_path / "missing")
    assert runner.step_count == 7
    assert make_any_runner().open_saved("reopen", root=str(tmp_path)).step == 6  # by name under a root


# --- quality metrics ---------------------------------------------------------------------------------
def test_running_ring_gan_records_quality_metrics_and_evaluates_now(make_any_runner, wait_until):
    runner = make_any_runner()
    runner.start()
    wait_until(lambda: "quality/modes_covered" in runner.snapshot().history, timeout=30,
               what="cheap quality metrics in the history")
    snap = runner.snapshot()
    steps, values = snap.history["quality/modes_covered"]
    assert steps[-1] >= 100 and 0 <= values[-1] <= 8 and snap.last_metric_error == ""
    assert snap.state == RUNNING  # measuring did not stop training
    results = runner.evaluate_now(n_samples=200).history_row
    assert {"eval/modes_covered", "eval/high_quality_fraction"} <= set(results)
    assert "eval/modes_covered" in runner.history_lists()  # recorded (it goes into metrics.json)
    runner.stop()


def test_a_failing_quality_metric_does_not_stop_training(make_runner, wait_until, monkeypatch):
    from genlab import evaluation

    def broken(trainer):
        raise RuntimeError("boom")

    monkeypatch.setattr(evaluation, "cheap_metrics", broken)
    runner = make_runner()
    runner.start()
    wait_until(lambda: runner.snapshot().last_metric_error, timeout=30, what="the metric error noted")
    assert "boom" in runner.snapshot().last_metric_error and runner.state == RUNNING
    runner.stop()


def test_start_until_pauses_at_that_step(make_any_runner, wait_until):
    runner = make_any_runner()
    runner.start(until=7)
    wait_until(lambda: runner.state == PAUSED, what="the pause at step 7")
    assert runner.step_count == 7 and runner.thread_alive
    assert runner.history_lists()["step"] == [float(s) for s in range(1, 8)]
    runner.resume()  # on from there, no longer bounded
    wait_until(lambda: runner.step_count > 12, what="steps after the pause")


def test_an_unexpected_error_is_shown_and_logged(make_runner, wait_until, caplog):
    runner = make_runner()

    def broken():
        raise RuntimeError("boom")

    runner.trainer.step = broken
    with caplog.at_level("ERROR", logger="genlab.live.runner"):
        runner.start()
        wait_until(lambda: runner.state == "error", what="the error state")
        runner._join(10)
    assert runner.snapshot().message == "Training stopped by an error: RuntimeError: boom"
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)  # the traceback, server-side
    assert not runner.thread_alive
