"""Shared test fixtures (kept minimal: most fixtures live in the test file that needs them)."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

TINY_RING_GAN = {  # a run config small enough to build and train for a few steps in milliseconds
    "name": "tiny",
    "data": {"name": "ring", "n_samples": 256},
    "model": {"family": "gan", "arch": "mlp", "latent_dim": 2, "width": 8, "depth": 1},
    "optim": {"batch_size": 16},
}
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def pytest_configure(config):
    # The tests' models are small: one intra-op thread runs them fastest, and it leaves the second
    # core to the Streamlit servers and browsers that the UI tests start.
    torch.set_num_threads(1)
    # AppTests reach into the tab's runner (its trainer, exclusive()): they run it in a thread. The app's
    # default, a worker process per run, is tested by tests/test_process_runner.py and the live browser tests.
    os.environ["GENLAB_RUNNER"] = "thread"


def wait_until(condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = ""):
    """Poll `condition` until it returns something truthy (returned) or fail after `timeout` s.
    Tests poll instead of sleeping a fixed time: the first torch step in a fresh thread can take ~1 s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(interval)


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., object]:
    return wait_until


def find_chromium() -> str | None:
    """A Chromium binary ($GENLAB_CHROMIUM first); never one that a tool downloads."""
    for path in (os.environ.get("GENLAB_CHROMIUM", ""),) + CHROMIUM_CANDIDATES:
        if path and Path(path).is_file():
            return path
    return shutil.which("chromium") or shutil.which("chromium-browser")


def playwright_and_chromium():
    """(playwright.sync_api, Chromium path) for a browser test module, or skip the module saying why."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium binary found (apt-get install chromium); browser tests skipped", allow_module_level=True)
    return sync_api, chromium


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def streamlit_command(script: str, port: int) -> list[str]:
    """`streamlit run <script>` headless on a loopback port, without file watcher or usage stats."""
    return [sys.executable, "-m", "streamlit", "run", script, "--server.headless=true", f"--server.port={port}",
            "--server.address=127.0.0.1", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false"]


def wait_for_health(url: str, process: subprocess.Popen, timeout_s: float, poll_s: float = 0.2) -> bool:
    """Poll <url>/_stcore/health: True once it answers 200, False if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(poll_s)


@contextlib.contextmanager
def streamlit_server(script: str, log_path: Path, **env: str) -> Iterator[str]:
    """`streamlit run <script>` on a free loopback port with extra environment variables; yields
    its base URL once /_stcore/health answers, and stops the server afterwards."""
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(streamlit_command(script, port), cwd=REPO_ROOT, env=dict(os.environ, **env),
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_health(url, process, timeout_s=60):
            pytest.fail(f"streamlit did not start:\n{log_path.read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def app_page(tmp_path_factory, path: str, timeout_ms: int) -> Iterator[object]:
    """One Chromium tab on the app's page `path` (e.g. "dirac"), served from a fresh runs folder."""
    sync_api, chromium = playwright_and_chromium()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    with streamlit_server("app.py", log_path, GENLAB_CHECKPOINT_DIR=str(tmp_path_factory.mktemp("runs"))) as url:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            context = browser.new_context(viewport={"width": 1400, "height": 1300})
            tab = context.new_page()
            tab.set_default_timeout(timeout_ms)
            tab.goto(f"{url}/{path}")
            try:
                yield tab
            finally:
                context.close()
                browser.close()


def turn_on_interactive_charts(page, tries: int = 10) -> None:
    """Tick the live view's "Interactive charts" toggle. While the live fragment re-runs, the old and the
    new toggle can both be on the page for a moment, and a click on the old one is lost: click the first
    until it shows ticked. Streamlit's toggle is a visually hidden switch input inside a label that carries
    the state as data-selected, so the label is what is clicked and read."""
    from playwright.sync_api import Error

    toggle = page.locator("label", has=page.get_by_role("switch", name="Interactive charts")).first
    for _ in range(tries):
        try:
            if toggle.get_attribute("data-selected", timeout=5000) == "true":
                return
            toggle.click(timeout=5000)
        except Error:  # detached by a re-run between finding and clicking it
            pass
        page.wait_for_timeout(500)
    assert toggle.get_attribute("data-selected") == "true", "the Interactive charts toggle did not stay on"


def open_expander(page, label: str, tries: int = 10) -> None:
    """Open the expander whose label contains `label`. A click that lands while an earlier re-run (a
    widget just committed) is still on its way can be undone when that run's page arrives: click
    until the panel shows open with no run in flight."""
    from playwright.sync_api import Error

    details = page.get_by_test_id("stExpander").filter(has_text=label).locator("details").first
    for _ in range(tries):
        try:
            wait_idle(page, timeout_ms=120_000)
            if details.evaluate("element => element.open", timeout=5000):
                return
            details.locator("summary").click(timeout=5000)
        except Error:  # detached by a re-run between finding and clicking it
            pass
        page.wait_for_timeout(500)
    assert details.evaluate("element => element.open"), f"the {label!r} panel did not stay open"


def quality_numbers(at) -> dict[str, str]:
    """The Train page's live quality numbers in an AppTest, {label: value}, read from the markdown table
    of labels over values that pages.train_view draws ({} before the run has any)."""
    for block in at.markdown:
        lines = block.value.splitlines()
        if len(lines) == 3 and lines[1].startswith("|:---:|"):
            labels, values = ([cell.strip() for cell in line.strip().strip("|").split("|")] for line in (lines[0], lines[2]))
            return dict(zip(labels, values))
    return {}


QUALITY_CELL_JS = """([label, pattern]) => [...document.querySelectorAll('table')].some(table => {
    const column = [...table.querySelectorAll('th')].findIndex(th => th.innerText.trim() === label);
    const cell = column < 0 ? null : table.querySelectorAll('tbody tr td')[column];
    return cell !== null && cell !== undefined && new RegExp(pattern).test(cell.innerText.trim());
})"""


def wait_for_quality(page, label: str, pattern: str = ".", timeout_ms: int = 120_000) -> None:
    """Wait until the Train page's quality table shows, under `label`, a value matching the regex `pattern`."""
    page.wait_for_function(QUALITY_CELL_JS, arg=[label, pattern], timeout=timeout_ms, polling=250)


def wait_idle(page, timeout_ms: int = 30_000) -> None:
    """Wait until the app's script has finished its run (Streamlit marks the app 'notRunning')."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=timeout_ms)
