"""genlab.live.registry and autosave: a tab's runner outlives its session for a grace period, is
autosaved when reaped, idle runners are bounded, and a detached runner gives up its training slot."""
from __future__ import annotations

import secrets
import time

import pytest

from genlab.config import RunConfig
from genlab.live import Autosave, CapacityError, CapacityLimiter, RunnerRegistry, TrainingRunner, autosave_name
from genlab.runs import list_runs, load_run

TINY = {"data.n_samples": 256, "model.width": 8, "model.depth": 1, "optim.batch_size": 16}


@pytest.fixture
def limiter():
    return CapacityLimiter(limit=4)


@pytest.fixture
def registry(limiter, monkeypatch):
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "3600")
    registry = RunnerRegistry(capacity=limiter)
    limiter.set_reclaimer(registry.reclaim_slot)
    yield registry
    registry.close_all()


def factory(limiter, autosave_root=None, token: str = ""):
    """make_runner for registry.attach, counting how often it is called."""
    made = []

    def make():
        runner = TrainingRunner(RunConfig(name="tiny").replace(**TINY), capacity=limiter)
        if autosave_root is not None:
            runner.enable_autosave(Autosave(autosave_root, autosave_name(token)))
        made.append(runner)
        return runner

    make.made = made
    return make


def test_a_token_finds_its_runner_again_and_another_token_gets_its_own(registry, limiter):
    make = factory(limiter)
    first = registry.attach("tab-a", make)
    again = registry.attach("tab-a", make)  # a reload of the same tab, while the old session is still there
    other = registry.attach("tab-b", make)
    assert again.runner is first.runner and other.runner is not first.runner
    assert len(make.made) == 2 and first.lease != again.lease


def test_a_detached_runner_keeps_training_through_its_grace_period(registry, limiter, wait_until):
    make = factory(limiter)
    session = registry.attach("tab", make)
    session.runner.start()
    wait_until(lambda: session.runner.step_count > 5, what="a few steps")
    registry.detach(session)  # the websocket dropped
    reached = session.runner.step_count
    wait_until(lambda: session.runner.step_count > reached + 5, what="training to go on while detached")
    back = registry.attach("tab", make)  # the tab reconnected
    assert back.runner is session.runner and not session.runner._closed and session.runner.thread_alive
    assert len(make.made) == 1


def test_after_the_grace_period_the_runner_is_autosaved_and_closed(registry, limiter, tmp_path, monkeypatch,
                                                                  wait_until):
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0.5")
    token = secrets.token_urlsafe(32)
    make = factory(limiter, tmp_path / "_autosave", token)
    session = registry.attach(token, make)
    for _ in range(7):
        session.runner.step()
    registry.detach(session)
    wait_until(lambda: session.runner._closed, timeout=30, what="the reaper")
    assert [(info.name, info.steps) for info in list_runs(tmp_path / "_autosave")] == [(autosave_name(token), 7)]
    assert load_run(autosave_name(token), root=tmp_path / "_autosave").trainer.step_count == 7
    assert token not in autosave_name(token)  # the folder name does not give the token away
    fresh = registry.attach(token, make)  # the tab comes back later: a new run (recovery offers the autosave)
    assert fresh.runner is not session.runner and fresh.runner.step_count == 0


def test_a_second_session_of_the_tab_keeps_the_runner_attached(registry, limiter, monkeypatch):
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")
    make = factory(limiter)
    old, new = registry.attach("tab", make), registry.attach("tab", make)  # a reload: the new session came first
    registry.detach(old)
    assert registry.detached_count() == 0  # still attached to the new session: never reaped, even with grace 0
    assert not new.runner._closed


def test_the_number_of_idle_runners_is_bounded(registry, limiter, monkeypatch, wait_until):
    monkeypatch.setenv("GENLAB_MAX_IDLE_RUNNERS", "2")
    make = factory(limiter)
    sessions = [registry.attach(f"tab-{i}", make) for i in range(4)]
    for session in sessions:
        registry.detach(session)
        time.sleep(0.01)  # distinct detach times: the oldest goes first
    wait_until(lambda: registry.detached_count() == 2, what="the oldest idle runners to be reaped")
    assert [s.runner._closed for s in sessions] == [True, True, False, False]


def test_a_detached_runner_gives_up_its_training_slot_to_an_open_tab(registry, limiter, wait_until):
    limiter.set_limit(1)
    make = factory(limiter)
    gone, here = registry.attach("gone", make), registry.attach("here", make)
    gone.runner.start()
    with pytest.raises(CapacityError):  # both tabs open: the cap holds
        here.runner.start()
    registry.detach(gone)
    here.runner.start()  # the tab that went away is reaped for it
    assert gone.runner._closed and here.runner.thread_alive
    here.runner.stop()


def test_an_invalid_grace_period_is_a_named_error(registry, limiter, monkeypatch):
    from genlab.config import ConfigError

    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "soon")
    with pytest.raises(ConfigError, match="GENLAB_RUNNER_GRACE_S='soon' is invalid"):
        registry.attach("tab", factory(limiter))


# ---------------------------------------------------------------------------------------------------
# autosave while training (genlab.training's CheckpointHook)
# ---------------------------------------------------------------------------------------------------
def test_training_autosaves_periodically_and_a_save_by_hand_supersedes_it(limiter, tmp_path, wait_until):
    runner = TrainingRunner(RunConfig(name="tiny").replace(**TINY), capacity=limiter)
    autosave = Autosave(tmp_path / "_autosave", "tab-x", every_s=0.2)
    runner.enable_autosave(autosave)
    runner.start()
    wait_until(lambda: (autosave.path / "meta.json").is_file(), what="an autosave while training")
    runner.pause()
    runner.save(name="kept", root=str(tmp_path))
    assert not autosave.path.exists() and (tmp_path / "kept").is_dir()
    assert runner.autosave_now() is None  # nothing unsaved: the step is saved by hand
    runner.step()  # unsaved again (the hook may already have autosaved it: it is due every 0.2 s)
    runner.autosave_now()
    assert load_run(autosave.path).trainer.step_count == runner.step_count
    runner.close()


def test_a_failing_autosave_never_stops_training(limiter, tmp_path, wait_until):
    (tmp_path / "_autosave").write_text("a file where the folder should be")
    runner = TrainingRunner(RunConfig(name="tiny").replace(**TINY), capacity=limiter)
    runner.enable_autosave(Autosave(tmp_path / "_autosave", "tab-x", every_s=0.0))
    runner.start()
    wait_until(lambda: runner.step_count > 20, what="training to go on")
    assert runner.state == "running"
    runner.close()
