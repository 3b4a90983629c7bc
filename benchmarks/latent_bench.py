"""How long does the server take to re-render after a move of the Latent explorer's interpolation slider?
Target: ≤ 100 ms on 2 CPU cores for the shipped models.

For each run (default: the shipped runs in checkpoints/), three measures, each reported as median and p95:
  move      what one slider move costs the server in the page's code: t -> lerp/slerp -> decode ONE latent
            with the cached model -> uint8 frame (for 2D data: the point drawn over the data) -> PNG bytes
            (what st.image sends). The model load, the
            strip, the GIF and the grids are cached per setting and not part of a move.
  fragment  what the server runs on a slider move in the real app: the slider sits in an st.fragment, so a
            move re-runs only the interpolation section. Timed as an AppTest run of a script holding just
            that section (plus the cached-model look-ups the fragment itself skips), after slider.set_value:
            widgets, the decode, the frame's PNG, the strip and GIF (cache hits), the protobuf a browser gets.
  apptest   a full AppTest re-run of pages/latent.py after slider.set_value: every tab's widgets and cache
            look-ups. An upper bound of the server's work for a move.
  browser   (--browser) a real `streamlit run` server and headless Chromium: one ArrowRight key press on the
            slider until the new frame is on screen and the app is idle. Includes the browser, the websocket
            and Streamlit's own work; a baseline app (a slider and one image, no model) is timed the same
            way, so the difference is what the explorer adds. On a loaded machine both are dominated by
            CPU scheduling of the browser and the server's event loop, not by the page's code.

    python benchmarks/latent_bench.py                       # shipped runs, move + apptest
    python benchmarks/latent_bench.py --browser             # also the end-to-end figure
    python benchmarks/latent_bench.py --root /tmp/runs --runs my-vae --moves 500
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHIPPED = ("ring-gan", "shapes-beta-vae", "fashion-vae", "fashion-gan")


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median_ms": statistics.median(ordered), "p95_ms": p95, "n": len(ordered)}


def bench_move(path: Path, moves: int) -> tuple[dict, float]:
    """Time of the page's per-move work on the cached model; returns (summary, model load seconds)."""
    import numpy as np
    import torch

    from genlab.latent.analysis import analyse_run
    from genlab.latent.explorer import frame_png
    from genlab.latent.interpolation import interpolation_path, random_latent
    from genlab.latent.model import LatentModel

    started = time.perf_counter()
    model = LatentModel.load(path)
    load_s = time.perf_counter() - started
    a, b = random_latent(model.latent_dim, 0).numpy(), random_latent(model.latent_dim, 1).numpy()
    reference = path = None
    if model.data_kind == "points":  # the page draws the point over the data and the decoded path
        reference = analyse_run(model).reference
        path = model.decode(interpolation_path(torch.from_numpy(a), torch.from_numpy(b), 8, "spherical"))
    rng = np.random.default_rng(0)
    times = []
    for i in range(moves + 5):
        t = float(np.round(rng.uniform(), 2))
        begin = time.perf_counter()
        frame_png(model, reference, path, a, b, t, "spherical")
        if i >= 5:  # the first calls warm up torch's kernels
            times.append((time.perf_counter() - begin) * 1000)
    return summary(times), load_s


FRAGMENT_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from genlab.runs import list_runs
from genlab.latent.model import run_stamp
from pages import latent as explorer

info = {{i.name: i for i in list_runs({root!r})}}[{name!r}]
stamp = run_stamp(info.path)
model = explorer.load_model(str(info.path), stamp)
analysis = explorer.load_analysis(str(info.path), stamp)
explorer.interpolation_section(model, analysis, stamp, info.name)
"""


def bench_apptest(root: Path, name: str, moves: int, fragment_only: bool = False) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["GENLAB_CHECKPOINT_DIR"] = str(root)
    if fragment_only:
        at = AppTest.from_string(FRAGMENT_SCRIPT.format(repo=str(REPO), root=str(root), name=name), default_timeout=300)
    else:
        at = AppTest.from_file(str(REPO / "pages" / "latent.py"), default_timeout=300)
        at.session_state["explore_run"] = name
    at.run()
    if at.exception:
        raise RuntimeError(f"{name}: the page raised {at.exception[0].value}")
    times = []
    for i in range(moves + 2):
        slider = at.slider(key="latent.t")
        value = round((i % 100) / 100 + 0.01, 2)
        begin = time.perf_counter()
        slider.set_value(value).run()
        if i >= 2:
            times.append((time.perf_counter() - begin) * 1000)
        if at.exception:
            raise RuntimeError(f"{name}: the page raised {at.exception[0].value}")
    return summary(times)


BASELINE_SCRIPT = """
import numpy as np
import streamlit as st

t = st.slider("t (0 = A, 1 = B)", 0.0, 1.0, 0.0, step=0.01)
st.image(np.full((256, 256), int(t * 255), dtype=np.uint8), caption=f"decoded at t = {t:.2f}", output_format="PNG")
"""


def _serve(script: str, env: dict, cwd: Path):
    """A `streamlit run` server on a free port: (process, base URL)."""
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1", "--server.fileWatcherType=none", "--browser.gatherUsageStats=false"],
        cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    return server, base


def _time_key_presses(page, moves: int) -> dict:
    """ArrowRight on the focused t slider -> the frame captioned with the new t is shown and the app is idle."""
    from playwright.sync_api import expect

    idle = page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")
    slider = page.get_by_role("slider", name="t (0 = A, 1 = B)")
    slider.focus()
    times = []
    for i in range(moves + 2):
        begin = time.perf_counter()
        slider.press("ArrowRight")
        page.get_by_text(f"decoded at t = {(i + 1) / 100:.2f}").first.wait_for()
        expect(idle).to_be_visible()
        if i >= 2:
            times.append((time.perf_counter() - begin) * 1000)
    return summary(times)


def bench_browser(root: Path, names: list[str], moves: int) -> dict[str, dict]:
    """End to end in Chromium, for each run and for a baseline app (a slider and one 256 px image, no model)
    that shows what Streamlit and the browser alone cost on this machine right now."""
    import tempfile

    from playwright.sync_api import expect, sync_playwright

    env = dict(os.environ, GENLAB_CHECKPOINT_DIR=str(root), PYTHONPATH=str(REPO))
    declared = "pages/latent.py" in (REPO / "app.py").read_text()
    script, url_path = ("app.py", "latent") if declared else ("pages/latent.py", "")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "baseline.py").write_text(BASELINE_SCRIPT)
        servers = [_serve(script, env, REPO), _serve("baseline.py", env, Path(scratch))]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(120_000)
                expect.set_options(timeout=120_000)  # the first visit imports torch and loads each model
                idle = page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")
                for name in names:
                    page.goto(f"{servers[0][1]}/{url_path}")
                    expect(idle).to_be_visible()
                    page.get_by_role("combobox", name="Run").click()
                    page.get_by_role("option").filter(has_text=f"{name} — ").click()
                    expect(idle).to_be_visible()
                    results[name] = _time_key_presses(page, moves)
                page.goto(servers[1][1])
                expect(idle).to_be_visible()
                results["(baseline app)"] = _time_key_presses(page, moves)
                browser.close()
        finally:
            for server, _ in servers:
                server.terminate()
                server.wait(timeout=30)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=REPO / "checkpoints", help="folder of runs")
    parser.add_argument("--runs", nargs="*", default=None, help="run names (default: the shipped ones found)")
    parser.add_argument("--moves", type=int, default=200, help="slider moves timed per run (move)")
    parser.add_argument("--apptest-moves", type=int, default=40,
                        help="slider moves timed per run (fragment and apptest); 0 = skip")
    parser.add_argument("--browser", action="store_true", help="also time key press -> new frame in Chromium")
    parser.add_argument("--browser-moves", type=int, default=20)
    parser.add_argument("--target-ms", type=float, default=100.0)
    parser.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    args = parser.parse_args()

    import torch

    from genlab.runs import list_runs

    runs = {info.name: info for info in list_runs(args.root) if info.ok}
    names = args.runs or [n for n in SHIPPED if n in runs]
    if not names:
        print(f"no runs to benchmark in {args.root} (looked for {', '.join(args.runs or SHIPPED)})")
        return 2
    missing = [n for n in names if n not in runs]
    if missing:
        print(f"unknown runs in {args.root}: {', '.join(missing)}")
        return 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    results: dict[str, dict] = {}
    for name in names:
        move, load_s = bench_move(runs[name].path, args.moves)
        results[name] = {"family": runs[name].family, "dataset": runs[name].dataset, "load_s": load_s, "move": move}
        if args.apptest_moves:
            results[name]["fragment"] = bench_apptest(args.root, name, args.apptest_moves, fragment_only=True)
            results[name]["apptest"] = bench_apptest(args.root, name, args.apptest_moves)
    if args.browser:
        for name, value in bench_browser(args.root, names, args.browser_moves).items():
            results.setdefault(name, {"family": "", "dataset": "slider + image, no model"})["browser"] = value

    measures = [m for m in ("move", "fragment", "apptest", "browser") if any(m in r for r in results.values())]
    print(f"\n{'run':18s} {'model':26s} " + " ".join(f"{m + ' median/p95 ms':>26s}" for m in measures))
    ok = True
    for name, r in results.items():
        cells = []
        for m in measures:
            if m in r:
                cells.append(f"{r[m]['median_ms']:>12.1f} / {r[m]['p95_ms']:<8.1f}")
            else:
                cells.append(f"{'–':>26s}")
        model = f"{r['family'].upper()} on {r['dataset']}" if r["family"] else r["dataset"]
        print(f"{name:18s} {model:26s} " + " ".join(f"{c:>26s}" for c in cells))
        if "move" in r:
            ok &= r.get("fragment", r["move"])["p95_ms"] <= args.target_ms
    judged = "fragment" if "fragment" in measures else "move"
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end; target: a move ≤ {args.target_ms:g} ms on the server "
          f"(p95 of '{judged}' {'met' if ok else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
