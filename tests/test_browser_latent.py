"""The Latent explorer in a real headless Chromium (Playwright) against a real `streamlit run` server.

Opens the explorer on a shipped pretrained run (checkpoints/shapes-beta-vae, or the first shipped run
there is; tiny stand-ins with the same names when none is shipped yet), moves the interpolation slider
with the keyboard, checks that the decoded image changed (screenshots compared pixel by pixel; saved
in test-artifacts/), downloads the GIF and checks that it is a valid multi-frame GIF.
Skipped, with the reason, only where Playwright or a Chromium binary is missing.
"""
from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, playwright_and_chromium, streamlit_server

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
SHIPPED_ROOT = Path(os.environ.get("GENLAB_SHIPPED_RUNS", REPO_ROOT / "checkpoints"))
PREFERRED = ("shapes-beta-vae", "fashion-vae", "fashion-gan")  # image runs: the frame is a picture
LOAD_TIMEOUT_MS = 120_000  # first visit: torch import, model and data loading
TIMEOUT_MS = 30_000


sync_api, CHROMIUM = playwright_and_chromium()
expect = sync_api.expect



def _runs_folder(tmp_path_factory) -> tuple[Path, str]:
    """(checkpoint folder, run to open): the shipped runs when present (only read), else a stand-in."""
    from genlab.runs import CheckpointError, validate_run_dir

    for name in PREFERRED:
        try:
            validate_run_dir(SHIPPED_ROOT / name, strict=False)
            return SHIPPED_ROOT, name
        except CheckpointError:
            continue
    import torch

    from genlab.runs import save_run
    from genlab.config import RunConfig
    from genlab.trainers import make_trainer

    root = tmp_path_factory.mktemp("checkpoints")
    raw = {"name": "shapes-beta-vae", "data": {"name": "shapes", "n_samples": 256, "image_size": 28},
           "model": {"family": "vae", "arch": "mlp", "latent_dim": 3, "width": 16, "depth": 1},
           "objective": {"beta": 4.0}, "optim": {"batch_size": 16, "lr_encoder": 1e-3, "lr_decoder": 1e-3}}
    torch.manual_seed(0)
    trainer = make_trainer(RunConfig.from_dict(json.loads(json.dumps(raw))), device="cpu")
    for _ in range(5):
        trainer.step()
    save_run(trainer, {}, root=root)
    return root, "shapes-beta-vae"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` on a free port, the Latent explorer's URL first."""
    root, run = _runs_folder(tmp_path_factory)
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    with streamlit_server("app.py", log_path, GENLAB_CHECKPOINT_DIR=str(root), PYTHONPATH=pythonpath) as url:
        yield f"{url}/latent", run, log_path


@pytest.fixture(scope="module")
def page(server):
    url, _, _ = server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        context = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True)
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.goto(url)
        yield tab
        context.close()
        browser.close()


def wait_idle(page, timeout: int = TIMEOUT_MS) -> None:
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_be_visible(timeout=timeout)


def frame_picture(page, t: str) -> np.ndarray:
    """Screenshot of the decoded image whose caption says `t`, as an RGB array (also saved as an artifact)."""
    from PIL import Image

    image = page.get_by_test_id("stImage").filter(has_text=f"decoded at t = {t}").locator("img")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    ARTIFACTS.mkdir(exist_ok=True)
    png = image.screenshot(path=str(ARTIFACTS / f"latent-frame-t{t}.png"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_explorer_slider_changes_the_image_and_the_gif_downloads(page, server):
    from PIL import Image

    _, run, log_path = server
    wait_idle(page, LOAD_TIMEOUT_MS)
    assert not page.get_by_test_id("stException").count(), log_path.read_text()
    # this tab is the fresh server's first visit, straight to /latent: app.py's navigation, not Streamlit's
    # pages-folder fallback (which would list the helper modules; see pages/shared.py use_app_navigation)
    navigation = page.get_by_test_id("stSidebarNav")
    expect(navigation.get_by_role("link", name=re.compile("Train$"))).to_be_visible()
    expect(navigation.get_by_role("link", name=re.compile("shared|train view"))).to_have_count(0)
    expect(page.get_by_role("combobox", name="Run")).to_have_value(re.compile(rf"^{re.escape(run)} — "))
    before = frame_picture(page, "0.00")

    slider = page.get_by_role("slider", name="t (0 = A, 1 = B)")
    slider.focus()
    started = time.monotonic()
    for _ in range(40):
        slider.press("ArrowRight")
    expect(page.get_by_test_id("stImage").filter(has_text="decoded at t = 0.40")).to_be_visible()
    wait_idle(page)
    elapsed = time.monotonic() - started
    after = frame_picture(page, "0.40")
    page.screenshot(path=str(ARTIFACTS / "latent-explorer.png"), full_page=True)
    assert before.shape == after.shape
    changed = np.abs(before - after).max(axis=2) > 8
    assert changed.mean() > 0.001, "moving the slider did not change the decoded image"
    print(f"40 key presses to the new frame: {elapsed * 1000:.0f} ms in the browser")

    with page.expect_download() as download_info:
        page.get_by_test_id("stDownloadButton").filter(has_text="Download GIF").get_by_role("button").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".gif")
    target = ARTIFACTS / download.suggested_filename
    download.save_as(str(target))
    data = target.read_bytes()
    assert data[:6] in (b"GIF87a", b"GIF89a")
    with Image.open(io.BytesIO(data)) as gif:
        assert gif.format == "GIF" and gif.n_frames > 1
        assert gif.info.get("loop") == 0  # loops forever
    assert not page.get_by_test_id("stException").count()
