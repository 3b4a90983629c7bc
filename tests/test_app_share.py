"""The Train page's setup in its URL, teachers' locks and the share panel, through Streamlit's AppTest."""
from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from genlab.presets import preset
from pages.shared import RUNNER_STATE_KEY, TAB_TOKEN_KEY

TIMEOUT = 60


@pytest.fixture
def open_link(repo_root, monkeypatch, tmp_path):
    """open_link({"r1": "1", ...}) -> an AppTest on the Train page of a fresh tab that opened that link.
    Every tab's runner is closed after the test."""
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")  # a closed tab's runner is reaped at once
    opened: list[AppTest] = []

    def open_(params: dict[str, str]) -> AppTest:
        at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
        for key, value in params.items():
            at.query_params[key] = value
        at.switch_page("pages/train.py").run()
        assert not at.exception, at.exception
        opened.append(at)
        return at

    yield open_
    runners = [at.session_state[RUNNER_STATE_KEY] for at in opened if RUNNER_STATE_KEY in at.session_state]
    st.cache_resource.clear()
    for runner in runners:
        runner._join(10)


def param(at: AppTest, key: str) -> str | None:
    """A URL parameter's value (AppTest keeps the ones it was given as lists, the page's as text)."""
    value = at.query_params.get(key)
    return value[-1] if isinstance(value, list) else value


def runner_of(at: AppTest):
    return at.session_state[RUNNER_STATE_KEY]


def test_a_link_restores_its_setup_and_keeps_the_tab_token_apart(open_link):
    at = open_link({"family": "gan", "dataset": "grid", "r1": "1", "seed": "3", "loss": "hinge", "tab": "private"})
    config = runner_of(at).config
    assert (config.data.name, config.objective.r1_gamma, config.seed, config.objective.gan_loss) == \
        ("grid", 1.0, 3, "hinge")
    assert not at.warning and not at.error
    assert at.select_slider(key="live.r1").value == 1.0  # the widgets show the link's values
    token = param(at, "tab")  # the tab's private token (pages.shared) stays in the URL beside the setup
    assert token and token == at.session_state[TAB_TOKEN_KEY]
    at.session_state["train.share_open"] = True  # the Share panel with the link
    at.run()
    link = next(c.value for c in at.code if "family=gan" in c.value)
    assert "tab=" not in link and token not in link and "r1=1" in link and "seed=3" in link and "dataset=grid" in link


def test_the_url_follows_a_live_change(open_link):
    at = open_link({})
    assert param(at, "family") == "gan" and param(at, "r1") is None
    at.select_slider(key="live.r1").set_value(10.0).run()
    assert not at.exception
    assert param(at, "r1") == "10"
    at.select_slider(key="live.r1").set_value(0.0).run()
    assert param(at, "r1") == "0"  # off, below the ring preset's light R1
    at.select_slider(key="live.r1").set_value(preset("gan", "ring")["objective.r1_gamma"]).run()
    assert param(at, "r1") is None  # back at the preset's value: not written


@pytest.mark.parametrize("params, named", [
    ({"lr-d": "zz"}, "lr-d"),
    ({"family": "dog"}, "family"),
    ({"beta": "2"}, "beta"),
    ({"lock": "r1,nonsense"}, "lock"),
    ({"lesson": "no-such-lesson"}, "lesson"),
])
def test_a_tampered_link_names_the_field_and_opens_the_default(open_link, params, named):
    at = open_link({"family": "gan", "dataset": "ring", **params})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith(f"{named}="), warnings
    config = runner_of(at).config
    assert config.model.family == "gan"
    assert config.optim.lr_discriminator == preset("gan", "ring")["optim.lr_discriminator"]


@pytest.mark.parametrize("params", [{"seed": "7"}, {"r1": "1", "refresh": "1"}])
def test_a_link_with_settings_but_no_family_opens_them_on_the_default_data(open_link, params):
    at = open_link(params)
    config, default = runner_of(at).config, preset("gan", "ring")
    assert (config.model.family, config.data.name) == ("gan", "ring")
    assert config.seed == int(params.get("seed", 0))
    assert config.objective.r1_gamma == float(params.get("r1", default["objective.r1_gamma"]))
    assert not at.warning and not at.error


def first_losses(open_link, link: dict[str, str]) -> tuple[float, float]:
    """loss/d and loss/g of the first step of a fresh tab opened on `link` (its runner closed after)."""
    at = open_link(link)
    runner = runner_of(at)
    at.button(key="btn.step").click().run()
    assert runner.step_count == 1
    table = runner.history_lists()
    st.cache_resource.clear()  # the tab goes away (AppTests share one session: the next gets a new runner)
    runner._join(10)
    return table["loss/d"][0], table["loss/g"][0]


def test_the_same_link_gives_the_same_first_losses(open_link):
    link = {"family": "gan", "dataset": "ring", "seed": "7", "r1": "0.1"}
    first = first_losses(open_link, link)
    assert first_losses(open_link, link) == first
    assert first_losses(open_link, {**link, "seed": "8"})[0] != first[0]  # the seed is what makes them equal


def share_links_and_notes(at: AppTest) -> tuple[list[str], list[str]]:
    at.session_state["train.share_open"] = True
    at.run()
    return [c.value for c in at.code if "train?" in c.value], [c.value for c in at.caption]


def test_after_a_live_change_the_panel_links_this_run_as_it_started(open_link):
    at = open_link({"family": "gan", "dataset": "ring", "seed": "7"})
    at.select_slider(key="live.lr-g").set_value(1e-3).run()  # before the first step: the run starts with it
    at.button(key="btn.step").click().run()
    links, notes = share_links_and_notes(at)
    assert len(links) == 1 and "lr-g=0.001" in links[0]
    assert any(n.startswith("First step of this run: loss/d") and "Same link, same numbers" in n for n in notes)
    shown_first = next(n for n in notes if n.startswith("First step of this run"))

    at.select_slider(key="live.r1").set_value(5.0).run()
    at.radio(key="live.updates").set_value("simultaneous").run()
    assert not at.exception
    links, notes = share_links_and_notes(at)
    now, as_started = links
    assert "r1=5" in now and "updates=simultaneous" in now
    assert "r1=" not in as_started and "updates=" not in as_started and "lr-g=0.001" in as_started
    changed = next(n for n in notes if n.startswith("Changed while this run trained"))
    assert "R1 γ" in changed and "G and D updates" in changed and "learning rate" not in changed
    assert shown_first in notes  # the first step's numbers now go with the second link

    replay = open_link(dict(part.split("=") for part in as_started.split("?", 1)[1].split("&")))
    replay.button(key="btn.step").click().run()
    table = runner_of(replay).history_lists()
    assert f"loss/d {table['loss/d'][0]:.6g}" in shown_first and f"loss/g {table['loss/g'][0]:.6g}" in shown_first


def test_a_teachers_link_locks_and_hides_controls(open_link):
    at = open_link({"family": "gan", "dataset": "ring", "lock": "r1,seed", "hide": "r2,gp"})
    assert at.select_slider(key="live.r1").disabled
    assert at.number_input(key="setup.seed").disabled
    assert not at.select_slider(key="live.lr-d").disabled
    keys = {w.key for w in at.select_slider}
    assert "live.r2" not in keys and "live.gp" not in keys and "live.r1" in keys
    at.session_state["train.share_open"] = True  # the Share panel draws its content only when open
    at.run()
    assert [c for c in at.code if "lock=r1" in c.value]  # the panel is drawn, with this link
    assert not [m for m in at.multiselect if m.key == "share.lock"]  # students get no teacher controls
    assert param(at, "lock") == "r1,seed"


def test_a_teacher_makes_a_student_link(open_link):
    at = open_link({"family": "gan", "dataset": "ring", "r1": "1"})
    assert not [m for m in at.multiselect if m.key == "share.lock"]  # closed: not drawn at all
    at.session_state["train.share_open"] = True
    at.run()
    at.multiselect(key="share.lock").set_value(["r1"]).run()
    at.multiselect(key="share.hide").set_value(["live"]).run()
    student = [c.value for c in at.code if "lock=r1" in c.value]
    assert len(student) == 1 and "hide=live" in student[0] and "r1=1" in student[0]
    # closing the panel and opening it again keeps the teacher's choices
    at.session_state["train.share_open"] = False
    at.run()
    at.session_state["train.share_open"] = True
    at.run()
    assert at.multiselect(key="share.lock").value == ["r1"] and at.multiselect(key="share.hide").value == ["live"]


def test_a_link_with_a_drawing_trains_on_that_drawing(open_link):
    from genlab.drawing_codec import drawing_path, parse_drawing_path

    path = drawing_path([(0.0, 2.0), (2.0, 0.0), (-2.0, 0.0)], 0.2)
    at = open_link({"family": "gan", "dataset": "points", "drawing": path.removeprefix("drawn:")})
    assert not at.warning and not at.error, [w.value for w in at.warning]
    runner = runner_of(at)
    assert runner.config.data.path == path and runner.trainer.data.kind == "points"
    anchors, spread = parse_drawing_path(runner.config.data.path)
    assert len(anchors) == 3 and spread == 0.2
    assert param(at, "drawing") == path.removeprefix("drawn:")  # the page's own URL keeps the drawing


def test_a_teacher_in_a_lesson_makes_a_student_link_that_keeps_the_lessons_controls(open_link):
    """A lesson's own list of shown controls made the teacher's tab look like a student's: no Lock / Hide."""
    at = open_link({"lesson": "mode-collapse"})
    at.session_state["train.share_open"] = True
    at.run()
    at.multiselect(key="share.lock").set_value(["r1"]).run()
    student_link = next(c.value for c in at.code if "lock=r1" in c.value)
    assert "lesson=mode-collapse" in student_link and "show=" in student_link  # the lesson's list stays
    student = open_link(dict(part.split("=", 1) for part in student_link.split("?", 1)[1].split("&")))
    assert student.select_slider(key="live.r1").disabled
    student.session_state["train.share_open"] = True
    student.run()
    assert not [m for m in student.multiselect if m.key == "share.lock"]  # the student's tab: no teacher panel


def test_the_live_view_says_when_the_cool_down_scales_the_learning_rates(open_link):
    at = open_link({"family": "gan", "dataset": "ring", "steps": "4"})  # the preset cools the last 70 %
    assert not [c for c in at.caption if "Learning rates in use" in c.value]
    for _ in range(5):
        at.button(key="btn.step").click().run()
    notes = [c.value for c in at.caption if "Learning rates in use" in c.value]
    assert len(notes) == 1 and "× 0.1 (" in notes[0] and "ended at step 4" in notes[0], notes


@pytest.mark.slow
def test_evaluate_now_on_a_vae_measures_nll_up_to_k_10_and_says_where_k_100_is(open_link):
    at = open_link({"family": "vae", "dataset": "shapes", "width": "8"})
    at.button(key="btn.step").click().run()
    at.session_state["train.evaluate_open"] = True
    at.run()
    at.button(key="btn.evaluate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [m.label for m in at.metric]
    assert "NLL (importance sampling, k = 10)" in labels and not [label for label in labels if "k = 100" in label]
    assert any("also gives k = 100" in c.value for c in at.caption)
