"""How long a first visitor waits: a fresh `streamlit run app.py`, measured in real headless Chromium.

For each of `--rounds` fresh server starts (default 5; the browser is started once, before the
first server, and each round gets a new browser context, i.e. a new Streamlit session):

  home   from starting the server process to a rendered Home page (its title shown and the script
         finished): what someone waits after `streamlit run app.py` and opening the URL at once
         (the page is requested as soon as /_stcore/health answers);
  train  from clicking "Train" in the navigation to a usable Train page: the Start button shown
         and enabled. With `--read-s S` the visitor reads the Home page for S seconds first
         (default 0: clicking at once, the worst case, while the server still warms its imports).

Prints each round and the medians. Wall-clock times: on a machine shared with other jobs they grow
with its load, so the load average is printed beside them, and so is the CPU time the server process
had used by each moment (from /proc; it grows much less with the load than the wall clock does).

    python benchmarks/first_visit.py              # ~1-2 minutes
    python benchmarks/first_visit.py --rounds 3 --read-s 5
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import find_chromium, free_port, streamlit_command, wait_for_health  # noqa: E402

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 180_000
FINISHED = "[data-testid='stApp'][data-test-script-state='notRunning']"


def start_server(script: str, log_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen(streamlit_command(script, port), cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(process: subprocess.Popen, url: str, log_path: Path, timeout_s: float = 120.0) -> None:
    if not wait_for_health(url, process, timeout_s, poll_s=0.02):
        raise RuntimeError(f"streamlit did not start:\n{log_path.read_text()}")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(browser, expect, script: str, read_s: float, log_path: Path, env: dict[str, str]) -> dict[str, float]:
    """Seconds from server start to a rendered Home page and from clicking Train to an enabled Start,
    and the server's CPU seconds at both moments."""
    started = time.monotonic()
    process, url = start_server(script, log_path, env)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        wait_healthy(process, url, log_path)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        expect(page.get_by_role("heading", name=re.compile("^genlab"))).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator(FINISHED)).to_be_attached(timeout=TIMEOUT_MS)
        home = {"home_s": time.monotonic() - started, "home_cpu_s": cpu_seconds(process.pid)}
        time.sleep(read_s)
        clicked = time.monotonic()
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile("Train$")).click()
        expect(page.get_by_role("button", name="Start", exact=True)).to_be_enabled(timeout=TIMEOUT_MS)
        return {**home, "train_s": time.monotonic() - clicked, "train_cpu_s": cpu_seconds(process.pid)}
    finally:
        context.close()
        stop_server(process)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--read-s", type=float, default=0.0, help="seconds on the Home page before clicking Train")
    parser.add_argument("--script", default="app.py",
                        help="entry point to serve, relative to the repository (e.g. an older app.py copied beside it)")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        sys.exit("no Chromium binary found (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    env = dict(os.environ, GENLAB_CHECKPOINT_DIR=tempfile.mkdtemp(prefix="genlab-first-visit-"))
    rounds = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as logs:
        browser = playwright.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        print("| round | server start -> Home rendered (s) | server CPU s by then | click Train -> Start enabled (s) "
              "| server CPU s by then | load average (1 min) |")
        print("|---:|---:|---:|---:|---:|---:|")
        for round_index in range(args.rounds):
            result = one_round(browser, expect, args.script, args.read_s, Path(logs) / f"server{round_index}.log", env)
            rounds.append(result)
            print(f"| {round_index + 1} | {result['home_s']:.2f} | {result['home_cpu_s']:.2f} | {result['train_s']:.2f} "
                  f"| {result['train_cpu_s']:.2f} | {os.getloadavg()[0]:.1f} |", flush=True)
        browser.close()
    medians = {key: statistics.median(result[key] for result in rounds) for key in rounds[0]}
    print(f"| median | {medians['home_s']:.2f} | {medians['home_cpu_s']:.2f} | {medians['train_s']:.2f} "
          f"| {medians['train_cpu_s']:.2f} | |")
    print(f"\n{args.script}; {os.cpu_count()} logical CPUs; Home page read for {args.read_s:g} s before clicking Train")


if __name__ == "__main__":
    main()
