"""The pages through Streamlit's AppTest (headless; `run_every` never fires, so tests poll with run())."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from genlab.live import CAPACITY, DIVERGED, RUNNING, TrainingRunner
from pages.shared import RUNNER_STATE_KEY
from conftest import quality_numbers

TIMEOUT = 60  # the first run imports torch and builds a trainer


@pytest.fixture
def app(repo_root, monkeypatch, tmp_path, wait_until):
    """The app on its Train page, with a small ring GAN so steps are fast; the tab's runner is closed after
    (no grace period here: a tab whose session ends is reaped at once)."""
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("GENLAB_RUNNER_GRACE_S", "0")
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    yield at
    runner = at.session_state[RUNNER_STATE_KEY]
    st.cache_resource.clear()  # ends the session (on_release -> detach), like a closed tab
    wait_until(lambda: runner._closed, timeout=30, what="the registry to close the detached runner")
    assert runner.state in ("idle", "stopped", "diverged", "error")
    runner._join(10)  # close() from the reaper may not wait; the thread ends after its current step
    assert not runner.thread_alive


def runner_of(at: AppTest) -> TrainingRunner:
    return at.session_state[RUNNER_STATE_KEY]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def shown(markdown: str) -> str:
    """What Markdown text reads as on screen: user strings in messages are escaped (pages/plain.py)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def step_count(at: AppTest) -> int:
    return int(metric(at, "Step").replace(",", ""))


def poll(at: AppTest, condition, wait_until, what: str, timeout: float = 30.0):
    """Re-run the page until `condition(at)` holds (the live view's run_every does not fire in AppTest)."""
    def check():
        at.run()
        assert not at.exception, at.exception
        return condition(at)
    return wait_until(check, timeout=timeout, interval=0.1, what=what)


def test_home_page_explains_the_objectives(repo_root):
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(l.value for l in at.latex)
    for needed in ("non-saturating", "ELBO", r"\log(1 - D(G(z)))", r"\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1",
                   "R1", "WGAN-GP", "Spectral normalization", "clip"):
        assert needed in text, needed


def test_train_page_loads_idle(app):
    assert metric(app, "Step") == "0"
    assert metric(app, "State") == "idle"
    assert not app.error
    assert app.button(key="btn.start").label == "Start"


def test_start_makes_the_step_count_grow_and_stop_stops_the_thread(app, wait_until):
    app.button(key="btn.start").click().run()
    runner = runner_of(app)
    assert runner.state == RUNNING and runner.thread_alive
    first = poll(app, lambda a: step_count(a) > 0 and step_count(a), wait_until, "a first step")
    poll(app, lambda a: step_count(a) > first, wait_until, "the step count to grow")
    assert metric(app, "State") == "running"
    app.button(key="btn.stop").click().run()
    assert not runner.thread_alive and runner.state == "stopped"
    assert metric(app, "State") == "stopped"


def test_live_slider_reaches_the_trainer_without_reset(app, wait_until):
    runner = runner_of(app)
    app.button(key="btn.start").click().run()
    poll(app, lambda a: step_count(a) >= 5, wait_until, "some steps")
    run_id, steps_before = runner.run_id, runner.step_count
    app.select_slider(key="live.r1").set_value(1.0).run()
    assert not app.exception
    assert runner.trainer.config.objective.r1_gamma == 1.0
    wait_until(lambda: "penalty/r1" in runner.snapshot().last, what="R1 in the trainer's metrics")
    assert runner.run_id == run_id and runner.step_count >= steps_before  # same run, no reset
    optimizer = runner.trainer.optimizers["discriminator"]
    assert optimizer.param_groups[0]["lr"] != 5e-4  # a value the slider must really deliver
    app.select_slider(key="live.lr-d").set_value(5e-4).run()
    assert not app.exception
    assert runner.trainer.config.optim.lr_discriminator == 5e-4 and optimizer.param_groups[0]["lr"] == 5e-4


WIDGET_KINDS = ("checkbox", "radio", "selectbox", "select_slider", "number_input")


def widget_keys(at: AppTest) -> dict[str, str]:
    """{widget key: widget kind} of every keyed widget on the page."""
    return {w.key: kind for kind in WIDGET_KINDS for w in getattr(at, kind) if w.key}


def test_widgets_cover_every_declared_knob(app):
    """Each Setup knob gets its widget where it applies, each live knob a live control, of the kind its
    declaration implies; walked through the family, data and likelihood choices that show them all."""
    from pages.knob_widgets import widget_kind
    from pages.train_form import LIVE_KNOBS, SETUP_KNOBS, live_key, setup_key

    seen = widget_keys(app)  # a GAN on the ring: GAN setup and live knobs, an MLP's depth
    assert "live.r1" in seen and "live.beta" not in seen and "setup.image-size" not in seen
    app.selectbox(key="setup.dataset").set_value("mnist").run()
    seen |= widget_keys(app)  # Download, training-set size
    app.selectbox(key="setup.dataset").set_value("shapes").run()
    app.button(key="btn.reset").click().run()
    assert not app.error, [e.value for e in app.error]
    app.selectbox(key="live.augment").set_value("translation").run()
    seen |= widget_keys(app)  # a GAN on images: its augmentation and DiffAugment's strength
    app.selectbox(key="live.augment").set_value("ada").run()
    seen |= widget_keys(app)  # ADA's target and speed
    app.radio(key="setup.family").set_value("vae").run()
    app.selectbox(key="setup.dataset").set_value("shapes").run()
    seen |= widget_keys(app)  # image size, likelihood, the encoder's and decoder's spectral norms
    app.radio(key="setup.likelihood").set_value("gaussian").run()
    app.number_input(key="setup.width").set_value(8).run()
    seen |= widget_keys(app)  # Gaussian σ
    app.button(key="btn.reset").click().run()
    assert not app.error, [e.value for e in app.error]
    seen |= widget_keys(app)  # the VAE's live controls
    assert "live.beta" in seen and "live.r1" not in widget_keys(app)
    expected = {setup_key(k): widget_kind(k) for k in SETUP_KNOBS} | {live_key(k): widget_kind(k) for k in LIVE_KNOBS}
    assert {key: kind for key, kind in seen.items() if key in expected} == expected
    assert not {key for key in seen if key.startswith(("setup.", "live."))} - set(expected) - {
        "live.refresh", "live.slow_rate"}  # nothing undeclared besides the view's speed


def test_step_buttons(app):
    runner = runner_of(app)
    app.button(key="btn.step_d").click().run()
    assert runner.step_count == 1 and "loss/g" not in runner.snapshot().last
    app.button(key="btn.step_g").click().run()
    app.button(key="btn.step").click().run()
    assert step_count(app) == 3 and metric(app, "State") == "paused"
    assert app.button(key="btn.start").label == "Resume"


def test_a_paused_runs_pictures_show_its_latest_step(app):
    """A paused run's page is drawn once per click (no live refresh follows): each Step must show that
    step's 2D scene and curves, however recently the last picture was drawn. The pictures' store here
    would hold every changed chart for ever while a run trains."""
    from genlab.viz import FigurePictures

    app.session_state["view.pictures"] = FigurePictures(cost_ratio=1e9)
    shown_per_step = []
    for _ in range(3):
        app.button(key="btn.step").click().run()
        assert metric(app, "State") == "paused"
        scene, losses = (image.proto.imgs[0].url for image in app.get("image")[:2])
        shown_per_step.append((step_count(app), scene, losses))
    assert [step for step, _, _ in shown_per_step] == [1, 2, 3]
    assert len({scene for _, scene, _ in shown_per_step}) == 3
    assert len({losses for _, _, losses in shown_per_step}) == 3


def test_slow_motion_toggle(app, wait_until):
    runner = runner_of(app)
    app.toggle(key="live.slow_motion").set_value(True).run()
    assert runner.snapshot().slow_motion_steps_per_s == 2.0
    app.select_slider(key="live.slow_rate").set_value(5.0).run()
    assert runner.snapshot().slow_motion_steps_per_s == 5.0
    app.button(key="btn.start").click().run()
    poll(app, lambda a: metric(a, "State") == "running (slow motion)", wait_until, "slow motion shown")
    app.toggle(key="live.slow_motion").set_value(False).run()
    assert runner.snapshot().slow_motion_steps_per_s is None


def test_a_kind_changes_preset_survives_stale_widget_values_until_a_page_run_draws_it(monkeypatch):
    """Streamlit stops a page run for a newer request, which carries the browser's widget values; when the
    stopped run never sent it the preset's, those stale values overwrite it (seen on a fresh server: VAE,
    Shapes and Reset clicked quickly trained the 2D preset's MLP). The preset is written again before a
    run's widgets and before a Reset reads the Setup, until a whole page run has drawn it."""
    from types import SimpleNamespace

    from genlab.config import RunConfig
    from genlab.presets import preset
    from pages import train_form

    state: dict = {"setup.family": "vae", "setup.dataset": "shapes", "setup.width": 64, "setup.arch": "mlp"}
    monkeypatch.setattr(train_form, "ss", state)
    train_form.on_kind_change()
    expected = preset("vae", "shapes")
    assert (state["setup.width"], state["setup.arch"]) == (expected["model.width"], expected["model.arch"]) == (32, "conv")
    state.update({"setup.width": 64, "setup.arch": "mlp"})  # the browser's values from before the stopped run
    train_form.restore_pending_preset()
    assert (state["setup.width"], state["setup.arch"]) == (32, "conv")
    state.update({"setup.width": 64, "setup.arch": "mlp"})
    train_form.restore_pending_preset()  # what Reset does first
    config = train_form.setup_config(SimpleNamespace(config=RunConfig(name="stale")))
    assert (config.model.width, config.model.arch) == (32, "conv")
    train_form.preset_drawn()  # a whole page run drew it: the user's own edits count from now on
    state["setup.width"] = 8
    train_form.restore_pending_preset()
    assert state["setup.width"] == 8


def test_reset_with_a_vae_on_shapes(app, wait_until):
    runner = runner_of(app)
    app.radio(key="setup.family").set_value("vae").run()
    app.selectbox(key="setup.dataset").set_value("shapes").run()
    assert app.session_state["setup.arch"] == "conv"  # image data: conv defaults
    app.number_input(key="setup.width").set_value(8).run()
    assert any("press **Reset**" in i.value for i in app.info)
    app.button(key="btn.reset").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    snap = runner.snapshot()
    assert snap.family == "vae" and snap.data_kind == "images" and snap.preview.ndim == 4
    from genlab.presets import preset

    expected = preset("vae", "shapes")  # the same starting point as the CLI's, user values on top
    assert snap.config.optim.lr_decoder == expected["optim.lr_decoder"] and snap.config.model.width == 8
    assert snap.config.model.latent_dim == expected["model.latent_dim"]
    app.button(key="btn.step").click().run()
    assert app.image, "samples are shown"
    assert app.select_slider(key="live.beta").value == 1.0  # VAE controls on the page
    app.select_slider(key="live.beta").set_value(4.0).run()
    assert runner.trainer.config.objective.beta == 4.0


def test_nan_run_pauses_and_says_which_term(app, wait_until):
    runner = runner_of(app)
    app.button(key="btn.step").click().run()
    with runner.exclusive() as trainer:
        weights = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
        trainer.data.x[:] = float("nan")
    app.button(key="btn.start").click().run()
    poll(app, lambda a: metric(a, "State") == DIVERGED, wait_until, "the run to stop as diverged")
    message = app.error[0].value
    assert "diverged" in message and runner.snapshot().diverged_term in message
    assert "What usually helps" in message and "gradient clipping" in message
    assert step_count(app) == 1
    for name, value in runner.trainer.discriminator.state_dict().items():
        assert torch.equal(value, weights[name])
    assert app.button(key="btn.start").label == "Resume"


def test_capacity_message_when_the_server_is_full(app, monkeypatch, wait_until):
    monkeypatch.setenv("GENLAB_MAX_TRAININGS", "1")
    other = TrainingRunner(runner_of(app).config)  # another tab's run holding the only slot
    try:
        other.start()
        app.button(key="btn.start").click().run()
        assert not runner_of(app).thread_alive
        assert any("limit (1; set by GENLAB_MAX_TRAININGS" in e.value for e in app.error)
        other.stop()
        app.button(key="btn.start").click().run()
        assert runner_of(app).thread_alive and not app.error
    finally:
        other.close()
    assert CAPACITY.active <= 1


def test_save_button_writes_a_run(app, tmp_path):
    app.button(key="btn.step").click().run()
    app.text_input(key="save.name").input("my-ring").run()
    app.button(key="btn.save").click().run()
    assert not app.error, [e.value for e in app.error]
    assert any("Saved step 1" in s.value for s in app.success)
    assert (tmp_path / "checkpoints" / "my-ring" / "config.json").is_file()


def test_save_never_replaces_a_folder_that_is_not_a_run(app, tmp_path):
    classifier = tmp_path / "checkpoints" / "classifiers" / "fashion_mnist" / "weights.safetensors"
    classifier.parent.mkdir(parents=True)
    classifier.write_bytes(b"the FID features")
    app.button(key="btn.step").click().run()
    app.text_input(key="save.name").input("classifiers").run()
    app.button(key="btn.save").click().run()
    assert not app.warning and not app.success  # no "Replace it?": it is not a run
    assert any("not a saved run" in e.value and "classifiers\\-copy" in e.value for e in app.error), \
        [e.value for e in app.error]
    assert classifier.read_bytes() == b"the FID features"


def test_open_run_from_the_runs_page_continues_it(app, tmp_path):
    from genlab.runs import save_run
    from genlab.config import RunConfig
    from genlab.trainers import make_trainer

    config = RunConfig(name="saved", seed=3).replace(**{"data.n_samples": 1000, "model.width": 16,
                                                        "optim.batch_size": 32, "objective.r1_gamma": 1.0})
    trainer = make_trainer(config)
    history = {"step": [], "loss/d": []}
    for _ in range(7):
        metrics = trainer.step()
        history["step"].append(metrics["step"])
        history["loss/d"].append(metrics["loss/d"])
    path = save_run(trainer, history, root=tmp_path / "checkpoints", name="my-saved-ring")

    app.session_state["open_run"] = str(path)  # what the Runs page's "Continue training" sets
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("Opened **my-saved-ring** at step 7" in shown(s.value) and "press Start" in s.value for s in app.success)
    runner = runner_of(app)
    assert runner.trainer.step_count == 7 and step_count(app) == 7
    assert "open_run" not in app.session_state
    assert app.number_input(key="setup.width").value == 16 and app.number_input(key="setup.seed").value == 3
    assert app.select_slider(key="live.r1").value == 1.0
    assert app.text_input(key="save.name").value == "my-saved-ring"
    assert not app.info, "the Setup widgets show the loaded run's config (no 'press Reset' hint)"
    app.button(key="btn.step").click().run()
    assert runner.step_count == 8 and len(runner.history_lists()["step"]) == 8
    app.button(key="btn.save").click().run()  # a saved run of that name: Save asks first
    assert any("already exists" in w.value for w in app.warning) and not app.success
    assert json.loads((path / "meta.json").read_text())["step"] == 7
    app.button(key="btn.save_overwrite").click().run()
    assert any("Saved step 8" in s.value for s in app.success)
    assert json.loads((path / "meta.json").read_text())["step"] == 8
    app.button(key="btn.step").click().run()
    app.button(key="btn.save").click().run()  # saved by this tab already: replaced without asking again
    assert any("Saved step 9" in s.value for s in app.success) and not app.warning


def test_save_cancelled_leaves_the_other_run(app, tmp_path):
    app.button(key="btn.step").click().run()
    app.text_input(key="save.name").input("taken").run()
    app.button(key="btn.save").click().run()
    saved_id = runner_of(app).run_id
    app.button(key="btn.reset").click().run()  # a new run: the name in the box is someone else's now
    assert runner_of(app).run_id != saved_id
    app.text_input(key="save.name").input("taken").run()
    app.button(key="btn.save").click().run()
    assert any("already exists" in w.value for w in app.warning)
    app.button(key="btn.save_cancel").click().run()
    assert not app.warning and not app.success
    assert json.loads((tmp_path / "checkpoints" / "taken" / "meta.json").read_text())["step"] == 1


def test_a_shipped_run_opens_as_a_copy_and_is_never_overwritten(app, tmp_path, repo_root):
    import shutil

    shipped = tmp_path / "checkpoints" / "ring-gan"
    shutil.copytree(repo_root / "checkpoints" / "ring-gan", shipped)
    before = (shipped / "weights.safetensors").read_bytes()
    app.session_state["open_run"] = str(shipped)
    app.run()
    assert app.text_input(key="save.name").value == "ring-gan-copy"
    app.text_input(key="save.name").input("ring-gan").run()
    app.button(key="btn.save").click().run()
    assert any("ships with genlab" in e.value and "ring-gan-copy" in shown(e.value) for e in app.error)
    assert (shipped / "weights.safetensors").read_bytes() == before
    app.text_input(key="save.name").input("ring-gan-copy").run()
    app.button(key="btn.save").click().run()
    assert (tmp_path / "checkpoints" / "ring-gan-copy" / "meta.json").is_file()


def test_open_run_errors_are_shown(app, tmp_path, monkeypatch):
    from genlab import runs as checkpoints

    runner = runner_of(app)
    run_id = runner.run_id
    app.session_state["open_run"] = str(tmp_path / "no-such-run")
    app.run()
    assert not app.exception
    assert any("Could not open the run" in e.value and "no-such-run" in shown(e.value) for e in app.error)
    assert runner.run_id == run_id

    app.button(key="btn.step").click().run()
    path = runner.save(name="elsewhere", root=str(tmp_path / "checkpoints"))
    real_load = checkpoints.load_run

    def load_without_data(*args, **kwargs):  # as on a machine without the run's data set
        loaded = real_load(*args, **kwargs)
        loaded.data_available = False
        return loaded

    monkeypatch.setattr(checkpoints, "load_run", load_without_data)
    app.session_state["open_run"] = str(path)
    app.run()
    assert not app.exception and not app.error
    assert any("not available here" in w.value and "not trained" in w.value for w in app.warning)
    assert runner.run_id == run_id  # the current run is left alone


def test_2d_view_and_charts_render(app, wait_until):
    runner = runner_of(app)
    for _ in range(12):
        app.button(key="btn.step").click().run()
    assert not app.get("plotly_chart")  # pictures until asked for interactive charts
    app.toggle(key="view.interactive").set_value(True).run()
    assert runner.snapshot().scene is not None  # the page asked for the 2D scene
    assert not app.exception
    # plotly charts are not first-class AppTest elements; they are in the element tree as protos
    kinds = {getattr(node, "type", None) for node in app.get("plotly_chart")}
    assert kinds, "plotly charts rendered"
    assert np.isfinite(runner.snapshot().scene.heat).all()


def test_steps_shown_window_survives_refreshes(app):
    runner = runner_of(app)
    for _ in range(20):
        runner.step()
    app.run()
    app.segmented_control(key="view.window").set_value("500").run()
    for _ in range(3):  # live refreshes keep the choice
        app.run()
        assert app.segmented_control(key="view.window").value == "500"
    assert not app.exception


def _zip_of_images(count: int = 20) -> bytes:
    import io
    import zipfile

    from PIL import Image

    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(count):
            image = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(image, format="PNG")
            archive.writestr(f"img/{i}.png", image.getvalue())
    return buffer.getvalue()


def test_uploaded_points_csv(app):
    runner = runner_of(app)
    app.selectbox(key="setup.dataset").set_value("points").run()
    app.button(key="btn.reset").click().run()
    assert any("upload a CSV file first" in e.value for e in app.error)  # no upload yet: old run kept
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{x:.4f},{y:.4f}" for x, y in rng.normal(size=(200, 2)) * [3.0, 0.5])
    app.file_uploader(key="setup.upload.points").upload("blob.csv", ("x,y\n" + rows).encode(), "text/csv").run()
    app.button(key="btn.reset").click().run()
    assert not app.error, [e.value for e in app.error]
    snap = runner.snapshot()
    assert snap.config.data.name == "points" and len(runner.trainer.data) == 200
    app.button(key="btn.step").click().run()
    scene = runner.snapshot(want_scene=True).scene
    assert scene is not None and scene.extent[1] - scene.extent[0] > 6  # the view fits the wide blob


def test_uploaded_zip_of_images(app):
    runner = runner_of(app)
    app.selectbox(key="setup.dataset").set_value("folder").run()
    app.selectbox(key="setup.image-size").set_value(28).run()
    app.number_input(key="setup.width").set_value(8).run()
    app.file_uploader(key="setup.upload.folder").upload("pics.zip", _zip_of_images(), "application/zip").run()
    app.button(key="btn.reset").click().run()
    assert not app.error, [e.value for e in app.error]
    # 20 images: a seeded 10 % is held out (genlab.data.split), the rest is trained on
    assert runner.trainer.data.x.shape == (18, 3, 28, 28)
    assert runner.trainer.heldout_data().x.shape == (2, 3, 28, 28)
    app.button(key="btn.step").click().run()
    assert app.image


def test_detector_findings_and_quality_metrics_are_shown(app, monkeypatch):
    from genlab.metrics.detectors import Finding
    from pages import train_view

    seen = {}

    def fake_detect(history, config, diverged_term=None, quality=None):
        seen["history"] = history
        return [Finding("posterior_collapse", "critical", "Posterior collapse", "KL = 0.001 nats.", "Lower β.", 5),
                Finding("mode_collapse", "warning", "Mode collapse", "Modes covered fell from 8 to 2.", "Try R1.", 5)]

    monkeypatch.setattr(train_view, "detect_for_config", fake_detect)
    runner = runner_of(app)
    app.button(key="btn.step").click().run()
    assert not app.exception, app.exception
    assert "loss/d" in seen["history"]
    assert any("Posterior collapse" in e.value and "Lower β" in e.value for e in app.error)
    assert any("Mode collapse" in w.value and "Try R1" in w.value for w in app.warning)
    # the live quality numbers appear once the run has them
    runner._record_at_current_step({"quality/modes_covered": 6.0, "quality/modes_total": 8.0})
    app.run()
    assert quality_numbers(app) == {"Modes covered (≥ N/4K samples each)": "6 / 8"}


def test_quality_row_is_one_table_of_the_latest_values_in_the_declared_order():
    from pages.train_view import quality_row

    assert quality_row({}) == ""
    history = {"quality/high_quality_fraction": ([1, 2], [0.5, 0.954]), "quality/modes_covered": ([2], [7.0]),
               "quality/modes_total": ([2], [8.0]), "quality/reverse_kl": ([1], [])}  # no reading yet: left out
    header, rule, values = quality_row(history).splitlines()
    assert [cell.strip() for cell in header.strip("|").split("|")] == ["Modes covered (≥ N/4K samples each)",
                                                                       "High-quality samples"]
    assert rule == "|:---:|:---:|"
    assert [cell.strip() for cell in values.strip("|").split("|")] == ["7 / 8", "95%"]
    first, second = quality_row(history, per_row=1).split("\n\n")  # beside a lesson: tables of fewer columns
    assert "Modes covered" in first and "High-quality" not in first and second.splitlines()[-1] == "| 95% |"


def test_evaluate_now_button_shows_metrics(app):
    app.button(key="btn.step").click().run()
    assert not [b for b in app.button if b.key == "btn.evaluate"]  # the panel is drawn only while open
    app.session_state["train.evaluate_open"] = True
    app.run()
    app.button(key="btn.evaluate").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    labels = [m.label for m in app.metric]
    assert "Modes covered" in labels and "High-quality fraction" in labels
    assert "Recall (k = 3)" in labels and "Reverse KL to uniform (nats)" in labels  # as the live table names them
    assert not [label for label in labels if "_" in label], labels  # no raw metric names
    assert "eval/modes_covered" in runner_of(app).history_lists()
    assert any(c.value.startswith("Not measured (fid): FID/KID are for images") for c in app.caption)


def test_data_folder_field_says_where_files_go_and_finds_them(app, tmp_path, monkeypatch):
    import gzip

    data_root = tmp_path / "mydata"
    monkeypatch.setenv("GENLAB_DATA_ROOTS", str(data_root))
    app.selectbox(key="setup.dataset").set_value("mnist").run()
    assert not app.exception
    notes = " ".join(shown(c.value) for c in app.caption)
    assert "train-images-idx3-ubyte" in notes and "Found on this machine" not in notes
    app.text_input(key="setup.data-folder").input("/etc").run()
    assert "outside the folders data may be read from" in " ".join(shown(c.value) for c in app.caption)

    folder = data_root / "mnist-copy"
    folder.mkdir(parents=True)
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    header = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in images.shape)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress((0x801).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(3)))
    app.text_input(key="setup.data-folder").input(str(folder)).run()
    app.button(key="setup.data_refresh").click().run()
    assert any("Found on this machine" in shown(c.value) for c in app.caption)
    app.button(key="btn.reset").click().run()
    assert not app.error, [e.value for e in app.error]
    assert runner_of(app).config.data.path == str(folder) and runner_of(app).config.data.name == "mnist"


def test_save_refuses_a_name_that_is_a_path(app, tmp_path):
    (tmp_path / "checkpoints").mkdir(exist_ok=True)
    app.text_input(key="save.name").input("../checkpoints").run()
    app.button(key="btn.save").click().run()
    assert any("invalid run name" in shown(e.value) for e in app.error) and not app.warning
