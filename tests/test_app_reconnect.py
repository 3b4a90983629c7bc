"""A tab's run in the app (AppTest) across a disconnect, a reload and the server letting it go: the tab
token in the URL finds the run again, is private to its tab, and an autosaved run is offered back."""
from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from genlab.live import REGISTRY, RUNNING
from pages.shared import RUNNER_STATE_KEY, TAB_PARAM, TOKEN_PATTERN

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "3600")
    yield tmp_path / "checkpoints"
    REGISTRY.close_all()  # the tabs of these tests are gone; their runners go too
    st.cache_resource.clear()


def open_train(token: str | None = None) -> AppTest:
    """A tab on the Train page; with `token`, the same tab reloaded (its URL carries the token)."""
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT)
    if token is not None:
        at.query_params[TAB_PARAM] = token
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def poll(at: AppTest, condition, wait_until, what: str):
    def check():
        at.run()
        assert not at.exception
        return condition(at)
    return wait_until(check, timeout=30, interval=0.1, what=what)


def test_the_tab_token_is_in_the_url_and_private_to_the_tab(env):
    first, second = open_train(), open_train()
    tokens = [at.query_params[TAB_PARAM] for at in (first, second)]
    assert all(TOKEN_PATTERN.match(t) and len(t) == 43 for t in tokens) and tokens[0] != tokens[1]
    assert first.session_state[RUNNER_STATE_KEY] is not second.session_state[RUNNER_STATE_KEY]
    reloaded = open_train(tokens[0])
    assert reloaded.session_state[RUNNER_STATE_KEY] is first.session_state[RUNNER_STATE_KEY]
    assert reloaded.query_params[TAB_PARAM] == tokens[0]


def test_a_disconnect_does_not_end_the_run_and_a_reload_finds_it(env, wait_until):
    at = open_train()
    runner = at.session_state[RUNNER_STATE_KEY]
    at.button(key="btn.start").click().run()
    first = poll(at, lambda a: runner.step_count > 5 and runner.step_count, wait_until, "a few steps")
    st.cache_resource.clear()  # what Streamlit does on every websocket disconnect
    assert not runner._closed and runner.state == RUNNING
    poll(at, lambda a: runner.step_count > first, wait_until, "training to go on")  # the tab reconnects
    assert at.session_state[RUNNER_STATE_KEY] is runner
    reloaded = open_train(at.query_params[TAB_PARAM])
    assert reloaded.session_state[RUNNER_STATE_KEY] is runner and runner.thread_alive
    runner.stop()


def test_a_run_the_server_let_go_is_offered_back_and_recovered(env, monkeypatch, wait_until):
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")
    at = open_train()
    token, runner = at.query_params[TAB_PARAM], at.session_state[RUNNER_STATE_KEY]
    for _ in range(5):
        at.button(key="btn.step").click().run()
    assert runner.step_count == 5
    st.cache_resource.clear()  # the tab went away; with no grace period the run is autosaved and closed
    wait_until(lambda: runner._closed, what="the run to be reaped")

    back = open_train(token)  # the same tab, later
    offer = [m.value for m in back.markdown if "Recover the run you were training" in m.value]
    assert offer and "at step 5?" in offer[0]
    assert any("autosaved run(s) of earlier visits" in c.value for c in open_train().caption)  # a new tab
    back.button(key="recovery.recover").click().run()
    assert not back.exception
    recovered = back.session_state[RUNNER_STATE_KEY]
    assert recovered is not runner and recovered.step_count == 5
    assert any("Recovered the run at step 5" in s.value for s in back.success)
    assert not any("Recover the run you were training" in m.value for m in back.markdown)


def test_discarding_the_offer_deletes_the_autosave(env, monkeypatch, wait_until):
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")
    at = open_train()
    token, runner = at.query_params[TAB_PARAM], at.session_state[RUNNER_STATE_KEY]
    at.button(key="btn.step").click().run()
    st.cache_resource.clear()
    wait_until(lambda: runner._closed, what="the run to be reaped")
    back = open_train(token)
    back.button(key="recovery.discard").click().run()
    assert not back.exception and not any("Recover the run" in m.value for m in back.markdown)
    assert not any((env / "_autosave").iterdir())
