"""AppTest for the Latent explorer and Runs pages: load, pick a (shipped) run, move the slider, manage runs.

The pages read runs from $GENLAB_CHECKPOINT_DIR. The tests point it at a scratch folder holding copies
of the shipped pretrained runs (checkpoints/ring-gan, shapes-beta-vae, ...) when they are there, else
tiny stand-ins with the same names trained for a few steps, so that renaming, deleting and uploading
never touch the repository's checkpoints.
"""
from __future__ import annotations

import io
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from genlab.config import RunConfig
from genlab.runs import CheckpointError, export_zip, save_run, validate_run_dir
from genlab.trainers import make_trainer

REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("ring-gan", "shapes-beta-vae", "fashion-vae", "fashion-gan")
TIMEOUT = 120  # a first run imports torch and loads a model and its data
STAND_INS = {
    "shapes-beta-vae": {
        "data": {"name": "shapes", "n_samples": 256, "image_size": 28},
        "model": {"family": "vae", "arch": "mlp", "latent_dim": 3, "width": 16, "depth": 1},
        "objective": {"beta": 4.0},
        "optim": {"batch_size": 16, "lr_encoder": 1e-3, "lr_decoder": 1e-3},
    },
    "ring-gan": {
        "data": {"name": "ring", "n_samples": 256},
        "model": {"family": "gan", "arch": "mlp", "latent_dim": 2, "width": 8, "depth": 1},
        "optim": {"batch_size": 16},
    },
}


def shipped_runs() -> list[str]:
    found = []
    for name in SHIPPED:
        try:
            validate_run_dir(REPO_ROOT / "checkpoints" / name, strict=False)
            found.append(name)
        except CheckpointError:
            pass
    return found


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """A checkpoint folder with copies of the shipped runs (or stand-ins); the pages read it via the env var."""
    root = tmp_path_factory.mktemp("checkpoints")
    names = shipped_runs()
    if names:
        for name in names:
            shutil.copytree(REPO_ROOT / "checkpoints" / name, root / name)
    else:
        for name, raw in STAND_INS.items():
            torch.manual_seed(0)
            trainer = make_trainer(RunConfig.from_dict({"name": name, **json.loads(json.dumps(raw))}), device="cpu")
            history = {}
            for _ in range(4):
                for key, value in trainer.step().items():
                    history.setdefault(key, []).append(value)
            save_run(trainer, history, root=root)
            names.append(name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CHECKPOINT_DIR", str(root))
        yield root, names


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def frame_url(at: AppTest) -> str | None:
    for image in at.image:
        if any(c.startswith("decoded at t") for c in image.captions):
            return image.value[0]
    return None


def png_picture(left: bool) -> bytes:
    """A dark-on-light drawing of a bar on the left or right (the page inverts it for these data sets)."""
    from PIL import Image

    picture = Image.new("L", (40, 40), 255)
    picture.paste(0, (4, 8, 16, 32) if left else (24, 8, 36, 32))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# Latent explorer
# ------------------------------------------------------------------------------------------------
def test_latent_page_loads_picks_each_run_and_moves_the_slider(runs_root):
    _, names = runs_root
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "latent.py"), default_timeout=TIMEOUT)
    at.run()
    no_exceptions(at)
    options = at.selectbox(key="latent.run").options  # shown as "<name> — <model> on <data>, <steps> steps"
    assert all(any(o.startswith(f"{name} — ") for o in options) for name in names), options
    for name in names:
        at.selectbox(key="latent.run").set_value(name).run()
        no_exceptions(at)
        urls = []
        for t in (0.0, 0.5, 1.0):
            at.slider(key="latent.t").set_value(t).run()
            no_exceptions(at)
            urls.append(frame_url(at))
        # media URLs are content hashes: a new URL is a new picture (for 2D data, the decoded point moved)
        assert all(urls) and len(set(urls)) == 3, f"{name}: the decoded image did not change: {urls}"
        assert len(at.get("download_button")) == 2  # the GIF and the strip
        for view in ("Traversals", "Latent map"):
            at.segmented_control(key="latent.view").set_value(view).run()
            no_exceptions(at)
            assert len(at.get("download_button")) == 1, view  # the grid as PNG
        at.segmented_control(key="latent.view").set_value("Interpolation").run()


def test_latent_page_vae_controls_dataset_endpoints_traversals_and_map(runs_root):
    _, names = runs_root
    vae = next(n for n in ("shapes-beta-vae", "fashion-vae") if n in names)
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "latent.py"), default_timeout=TIMEOUT)
    at.session_state["explore_run"] = vae  # how the Runs page opens a run here
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="latent.run").value == vae
    at.radio(key="latent.source").set_value("Dataset images").run()
    no_exceptions(at)
    at.number_input(key="latent.index_b").set_value(5).run()
    at.radio(key="latent.method").set_value("linear").run()
    at.slider(key="latent.t").set_value(0.3).run()
    no_exceptions(at)
    assert frame_url(at)
    # two uploaded pictures, encoded
    at.radio(key="latent.source").set_value("Uploaded images").run()
    assert any("Upload two pictures" in i.value for i in at.info)
    at.file_uploader(key="latent.upload_a").set_value(("a.png", png_picture(left=True), "image/png")).run()
    at.file_uploader(key="latent.upload_b").set_value(("b.png", png_picture(left=False), "image/png")).run()
    at.slider(key="latent.t").set_value(0.0).run()
    start = frame_url(at)
    at.slider(key="latent.t").set_value(1.0).run()
    no_exceptions(at)
    assert start and frame_url(at) and frame_url(at) != start
    at.file_uploader(key="latent.upload_b").set_value(("c.png", b"not a picture", "image/png")).run()
    assert any("Cannot use this picture" in e.value for e in at.error)
    # traversal rows are labelled by KL, most informative first
    at.segmented_control(key="latent.view").set_value("Traversals").run()
    no_exceptions(at)
    labels = [m.value for m in at.markdown if m.value.startswith("**z")]
    kls = [float(label.split("KL ")[1].split(" ")[0].rstrip("*")) for label in labels]
    assert kls and kls == sorted(kls, reverse=True)
    at.slider(key="latent.trav.range").set_value((-2.0, 2.0)).run()
    at.slider(key="latent.trav.steps").set_value(5).run()
    no_exceptions(at)
    at.segmented_control(key="latent.view").set_value("Latent map").run()
    no_exceptions(at)
    colours = at.selectbox(key="latent.map.colour").options
    at.selectbox(key="latent.map.colour").set_value(colours[0]).run()
    at.checkbox(key="latent.map.thumbs").check().run()
    at.slider(key="latent.grid.n").set_value(4).run()
    no_exceptions(at)


def test_latent_page_without_runs_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CHECKPOINT_DIR", str(tmp_path))
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "latent.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    assert "No saved runs" in at.info[0].value


# ------------------------------------------------------------------------------------------------
# Runs page
# ------------------------------------------------------------------------------------------------
def test_runs_page_table_compare_and_open(runs_root):
    root, names = runs_root
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "runs.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert set(names) <= set(table["name"]) and {"model", "dataset", "settings", "steps", "final metrics"} <= set(table)
    at.multiselect(key="runs.compare").set_value(names[:2]).run()
    no_exceptions(at)
    assert at.selectbox(key="runs.metric").options  # curves to overlay
    assert len([c for image in at.image for c in image.captions]) == 2  # samples side by side
    at.selectbox(key="runs.manage").set_value(names[0]).run()
    at.button(key="runs.open").click().run()
    assert Path(at.session_state["open_run"]) == root / names[0]  # what the Train page reads


def test_runs_page_rename_delete_with_confirmation_and_upload(runs_root):
    root, names = runs_root
    source = names[0]
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "runs.py"), default_timeout=TIMEOUT).run()
    # upload: a valid zip under a new name, then a zip with a pickle inside
    data = export_zip(source, root)
    at.file_uploader(key="runs.upload").set_value(("run.zip", data, "application/zip")).run()
    at.text_input(key="runs.import_name").set_value("uploaded").run()
    at.button(key="runs.import").click().run()
    no_exceptions(at)
    assert any("Imported **uploaded**" in s.value for s in at.success), [e.value for e in at.error]
    assert (root / "uploaded" / "weights.safetensors").is_file()

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = [(i.filename, zf.read(i)) for i in zf.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in entries + [(f"{source}/model.pkl", pickle.dumps({"x": 1}))]:
            zf.writestr(name, content)
    at.file_uploader(key="runs.upload").set_value(("evil.zip", buffer.getvalue(), "application/zip")).run()
    at.text_input(key="runs.import_name").set_value("evil").run()
    at.button(key="runs.import").click().run()
    assert any("Upload refused" in e.value and "pickle" in e.value for e in at.error)
    assert not (root / "evil").exists()

    # rename
    at.selectbox(key="runs.manage").set_value("uploaded").run()
    at.text_input(key="runs.new_name").set_value("renamed").run()
    at.button(key="runs.rename").click().run()
    no_exceptions(at)
    assert (root / "renamed").is_dir() and not (root / "uploaded").exists()
    at.text_input(key="runs.new_name").set_value("../outside").run()
    at.button(key="runs.rename").click().run()
    rename_panel = next(e for e in at.expander if e.label == "Rename")
    assert any("Not renamed" in e.value for e in rename_panel.error)  # under the button, not atop the page
    assert at.session_state["runs.rename_open"]  # the panel stays open to try another name

    # delete: the button is disabled until the confirmation box is ticked
    assert at.selectbox(key="runs.manage").value == "renamed"
    assert at.button(key="runs.delete").disabled
    at.checkbox(key="runs.confirm_delete").check().run()
    at.button(key="runs.delete").click().run()
    no_exceptions(at)
    assert not (root / "renamed").exists() and (root / source).is_dir()
    assert "renamed" not in list(at.dataframe[0].value["name"])


def test_map_selection_event_reaches_the_samples():
    from types import SimpleNamespace

    import numpy as np

    from genlab import viz
    from pages import latent as explorer  # importing a page defines its functions; it does not run it

    coords, labels = torch.arange(10.0).reshape(5, 2), np.array([1, 0, 1, 0, 1])
    figure = viz.latent_map_figure(coords, labels, "label", ("even", "odd"))
    # trace 0 holds samples 1 and 3 (label 0), trace 1 holds 0, 2 and 4
    event = SimpleNamespace(selection=SimpleNamespace(points=[
        {"curve_number": 1, "point_index": 2}, {"curve_number": 0, "point_index": 0}, {"curve_number": 7},
    ]))
    assert viz.selected_indices(explorer.selected_points(event), figure) == [1, 4]
    assert explorer.selected_points(None) == [] and explorer.selected_points(SimpleNamespace()) == []


def test_runs_page_compares_one_family_and_keeps_shipped_runs(runs_root):
    from genlab.runs import is_shipped

    root, names = runs_root
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "runs.py"), default_timeout=TIMEOUT).run()
    no_exceptions(at)
    families = dict(zip(at.dataframe[0].value["name"], at.dataframe[0].value["model"]))
    chosen = at.multiselect(key="runs.compare").value
    assert len(chosen) == 2 and len({families[n].split()[0] for n in chosen}) == 1  # a GAN is not compared with a VAE
    shipped = [n for n in names if is_shipped(root / n)]
    if not shipped:
        pytest.skip("no shipped runs in this checkout")
    at.selectbox(key="runs.manage").set_value(shipped[0]).run()
    assert any("read-only" in t.value for t in at.text) and str(root) not in " ".join(t.value for t in at.text)
    assert at.button(key="runs.rename").disabled
    at.checkbox(key="runs.confirm_delete").check().run()
    assert at.button(key="runs.delete").disabled
    assert (root / shipped[0]).is_dir()
