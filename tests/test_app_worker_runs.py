"""The Train page with its run in a worker process, as the app hosts runs (the other AppTests use the
thread runner, GENLAB_RUNNER=thread, set in conftest.py): what reaches the worker and comes back."""
from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from genlab.live import REGISTRY
from genlab.live.process_runner import ProcessRunner
from pages.shared import RUNNER_STATE_KEY

pytestmark = pytest.mark.slow  # a worker process per test

TIMEOUT = 60


@pytest.fixture
def train_page(repo_root, monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_RUNNER", "process")
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    REGISTRY.close_all()
    st.cache_resource.clear()


def test_evaluate_now_measures_a_run_in_a_worker(train_page, wait_until):
    at = train_page
    runner = at.session_state[RUNNER_STATE_KEY]
    assert isinstance(runner, ProcessRunner)
    assert runner.wait_ready(timeout=120)
    at.button(key="btn.step").click().run()
    wait_until(lambda: runner.step_count >= 1, what="the worker's step")
    at.session_state["train.evaluate_open"] = True
    at.run()
    button = at.button(key="btn.evaluate")
    assert not button.disabled
    button.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [m.label for m in at.metric]
    assert "Modes covered" in labels and "High-quality fraction" in labels
    assert "eval/modes_covered" in runner.history_lists()
