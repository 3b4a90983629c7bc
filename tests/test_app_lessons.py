"""The Lessons page and the lesson panel on the Train page, through Streamlit's AppTest."""
from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from genlab.lessons import LESSONS_DIR, load_lessons
from pages.shared import RUNNER_STATE_KEY

TIMEOUT = 60


@pytest.fixture
def lessons_page(repo_root, monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")  # a closed tab's runner is reaped at once
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    yield at
    runner = at.session_state[RUNNER_STATE_KEY] if RUNNER_STATE_KEY in at.session_state else None
    st.cache_resource.clear()
    if runner is not None:
        runner._join(10)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_lessons_page_lists_every_shipped_lesson_with_its_link(lessons_page):
    lessons, _ = load_lessons(LESSONS_DIR)
    assert [s.value for s in lessons_page.subheader] == [lesson.title for lesson in lessons]
    links = [c.value for c in lessons_page.code]
    assert all(any(link.endswith(f"train?lesson={lesson.id}") for link in links) for lesson in lessons)
    assert not lessons_page.error


def test_opening_a_lesson_loads_its_setup_and_its_first_step_ticks(lessons_page, wait_until):
    at = lessons_page
    at.button(key="open.saturation").click().run()
    assert [t.value for t in at.title] == ["Train"]
    at.switch_page("pages/train.py").run()  # AppTest's later runs would go back to the page it was given
    assert not at.exception, at.exception
    runner = at.session_state[RUNNER_STATE_KEY]
    config = runner.config
    assert (config.objective.gan_loss, config.optim.n_critic, config.seed) == ("minimax", 5, 1)
    assert at.query_params.get("lesson") in ("saturation", ["saturation"])
    assert "▶️ **Step 1.**" in markdown(at)
    keys = {w.key for w in at.select_slider}
    assert "live.lr-d" in keys and "live.r1" not in keys  # the lesson shows only what it needs
    at.button(key="btn.step").click().run()

    def ticked():
        at.button(key="btn.step").click().run()
        assert not at.exception, at.exception
        return "✅ **Step 1.**" in markdown(at)
    wait_until(ticked, timeout=60, interval=0.1, what="step 1 to tick")
    assert "▶️ **Step 2.**" in markdown(at)
    at.button(key="lesson.next.1").click().run()
    assert "▶️ **Step 3.**" in markdown(at)
    at.button(key="lesson.do.2").click().run()  # "Do it": the non-saturating loss, a fresh run
    assert runner.config.objective.gan_loss == "nonsaturating" and runner.step_count == 0
    at.button(key="lesson.close").click().run()
    at.run()
    assert "Step 1." not in markdown(at)


def test_a_skipped_step_is_marked_skipped_not_done(lessons_page):
    at = lessons_page
    at.button(key="open.circling").click().run()
    at.switch_page("pages/train.py").run()
    at.button(key="btn.step").click().run()  # step 1 needs 500 steps of swinging: not met after one
    assert "▶️ **Step 1.**" in markdown(at)
    at.button(key="lesson.skip.0").click().run()
    assert not at.exception, at.exception
    text = markdown(at)
    assert "⏭️ **Step 1.**" in text and "✅ **Step 1.**" not in text and "▶️ **Step 2.**" in text
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Skipped at step 1, not met: `range(loss/d over 500 steps) > 0.2`") for c in captions)
    assert not any(c.startswith("Done at step") for c in captions)


def test_a_reload_keeps_the_lessons_progress_and_opening_it_again_starts_over(lessons_page, repo_root):
    at = lessons_page
    at.button(key="open.circling").click().run()
    at.switch_page("pages/train.py").run()
    at.button(key="btn.step").click().run()
    at.button(key="lesson.skip.0").click().run()
    assert "▶️ **Step 2.**" in markdown(at)
    reloaded = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    for key, value in at.query_params.items():  # the tab's URL: its token, the lesson and the run's setup
        reloaded.query_params[key] = value[-1] if isinstance(value, list) else value
    reloaded.switch_page("pages/train.py").run()
    assert not reloaded.exception, reloaded.exception
    assert reloaded.session_state[RUNNER_STATE_KEY] is at.session_state[RUNNER_STATE_KEY]
    text = markdown(reloaded)
    assert "⏭️ **Step 1.**" in text and "▶️ **Step 2.**" in text
    reloaded.switch_page("pages/lessons.py").run()
    reloaded.button(key="open.circling").click().run()  # opened again from the Lessons page: from the start
    reloaded.switch_page("pages/train.py").run()
    assert "▶️ **Step 1.**" in markdown(reloaded)
