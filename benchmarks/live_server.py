"""What the browser benchmarks share: a `streamlit run app.py` server, headless Chromium, and the
Train page driven the way a student drives it (pick a run, Start, Pause, Resume).

Not a benchmark itself: imported by browser_cost.py and soak.py (run them as `python benchmarks/X.py`).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GENLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOAD_TIMEOUT_MS = 120_000  # the first visit to Train imports torch and builds a trainer
SCENARIOS = {  # name -> (model radio label, data-set option prefix); None: the page's default run
    "ring-gan": None,
    "shapes-vae": ("VAE", "Shapes"),
}


@dataclass
class Server:
    process: subprocess.Popen
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def serve(env: dict[str, str] | None = None, log_path: Path | None = None) -> Iterator[Server]:
    """`streamlit run app.py` on a free loopback port (runs saved to a temporary folder); stopped after,
    also when this benchmark is stopped with SIGTERM (`kill`, `timeout`): the server would outlive it."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as checkpoints:
        full_env = dict(os.environ, GENLAB_CHECKPOINT_DIR=checkpoints, PYTHONPATH=str(REPO), **(env or {}))
        log = open(log_path, "w") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}",
             "--server.address=127.0.0.1", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false"],
            cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                        break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the streamlit server did not start") from None
                    time.sleep(0.2)
            yield Server(process, url)
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            process.kill()  # nothing happens when it has exited already
            if log is not subprocess.DEVNULL:
                log.close()


def write_json(path: Path | None, figures: dict) -> None:
    """The figures as indented JSON at `path` (nothing when None)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=1))


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class PageProblems:
    """Everything that went wrong in a tab on the server at `url`: failed requests, HTTP errors,
    console errors, uncaught page errors, to that server or any other host (the app fetches nothing
    from elsewhere: it must work in a classroom without internet, as on this machine)."""

    url: str
    failed: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.http_errors.append(f"{r.status} {r.url}"))
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))

    def all(self) -> list[str]:
        return self.failed + self.http_errors + self.console_errors


def state_value(page, state: str):
    """The State metric's value when it shows `state` (a prefix: "running" also matches slow motion)."""
    label = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"^State$"))
    values = page.get_by_test_id("stMetric").filter(has=label).get_by_test_id("stMetricValue")
    return values.filter(has_text=re.compile(rf"^{state}")).first


def open_train(page, url: str, scenario: str):
    """`page` on the Train page with the `scenario`'s run set up (not started)."""
    from playwright.sync_api import expect

    page.set_default_timeout(LOAD_TIMEOUT_MS)
    page.goto(url)  # then the sidebar link: a first visit straight to /train probes /train/_stcore/* (404s)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("Train$")).click()
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    setup = SCENARIOS[scenario]
    if setup is not None:
        model, dataset = setup
        page.get_by_test_id("stRadio").get_by_text(model, exact=True).click()
        page.get_by_test_id("stSelectbox").filter(has_text="Data set").click()
        page.get_by_role("option", name=re.compile(f"^{dataset}")).click()
        page.get_by_role("button", name="Reset", exact=True).click()
        expect(page.get_by_text("Reset: a fresh run")).to_be_visible(timeout=LOAD_TIMEOUT_MS)


def press_until(page, button: str, state: str, timeout_s: float = 120.0) -> None:
    """Click `button` (a regex of its name) until the State metric shows `state` (retried: a training
    slot may still be held by a tab that just closed)."""
    from playwright.sync_api import expect

    deadline = time.monotonic() + timeout_s
    while True:
        page.get_by_role("button", name=re.compile(button)).click(timeout=timeout_s * 1000)
        try:
            expect(state_value(page, state)).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
