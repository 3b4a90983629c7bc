"""Is the server's memory bounded over a long class session? Target (issue 16): RSS growth < 10 % after warm-up.

A real `streamlit run app.py` server and headless Chromium with two tabs, each its own session: one
trains the ring GAN, the other a conv VAE on shapes, both at the default refresh (0.5 s), for
--minutes. Once a minute one of the tabs is paused and resumed (a full page run, the charts switching
between pictures and interactive plotly), alternating between the tabs. The server's resident memory
(VmRSS of its process, from /proc) is sampled every --every seconds. Reported: RSS after the warm-up,
at the end and at its highest; growth after the warm-up in % and MB/min (least-squares slope over the
samples after the warm-up); the steps each run reached; and every failed request or console error the
tabs saw.

    python benchmarks/soak.py                      # 30 minutes, 5 of them warm-up
    python benchmarks/soak.py --minutes 3 --warmup 1 --out soak.json
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_server import PageProblems, launch_chromium, open_train, press_until, serve, write_json  # noqa: E402

TABS = ("ring-gan", "shapes-vae")


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / var if var else 0.0


def shown_step(page) -> int:
    """The step count the tab shows (-1 while none is)."""
    label = page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"^Step$"))
    texts = page.get_by_test_id("stMetric").filter(has=label).get_by_test_id("stMetricValue").all_inner_texts()
    return max((int(t.replace(",", "")) for t in texts if t.strip()), default=-1)


def pause_and_resume(page) -> None:
    press_until(page, "^Pause$", "paused", timeout_s=60)
    page.wait_for_timeout(3000)
    press_until(page, "^(Start|Resume)$", "running", timeout_s=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the session")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before the reference sample")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument("--out", type=Path, default=None, help="write the samples and figures as JSON here")
    args = parser.parse_args()

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    samples: list[tuple[float, float]] = []
    with serve(env={"GENLAB_MAX_TRAININGS": "2"}) as server, sync_playwright() as playwright:
        problems = PageProblems(server.url)
        browser = launch_chromium(playwright)
        pages = []
        for scenario in TABS:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            problems.watch(page)
            open_train(page, server.url, scenario)
            press_until(page, "^(Start|Resume)$", "running")
            pages.append(page)
        began = time.monotonic()
        next_toggle, toggled, missed = began + 60, 0, 0
        print(f"server pid {server.pid}; RSS every {args.every:g} s for {args.minutes:g} min", flush=True)
        while (elapsed := time.monotonic() - began) < args.minutes * 60:
            samples.append((elapsed, rss_mb(server.pid)))
            print(f"{elapsed / 60:6.1f} min  RSS {samples[-1][1]:7.1f} MB  steps "
                  + " / ".join(f"{shown_step(p):,}" for p in pages), flush=True)
            while time.monotonic() < began + len(samples) * args.every:
                if time.monotonic() >= next_toggle:
                    try:
                        pause_and_resume(pages[(toggled + missed) % len(pages)])
                        toggled += 1
                    except PlaywrightError as exc:  # a saturated tab can miss a click: count it, go on
                        missed += 1
                        print(f"    Pause/Resume failed: {str(exc).splitlines()[0]}", flush=True)
                    next_toggle += 60
                pages[0].wait_for_timeout(1000)
        steps = [shown_step(p) for p in pages]
        browser.close()

    after = [(t, v) for t, v in samples if t >= args.warmup * 60]
    reference = after[0][1] if after else samples[0][1]
    result = {
        "minutes": args.minutes, "warmup_minutes": args.warmup, "samples": samples, "steps": dict(zip(TABS, steps)),
        "rss_start_mb": samples[0][1], "rss_after_warmup_mb": reference, "rss_end_mb": samples[-1][1],
        "rss_max_mb": max(v for _, v in samples), "growth_after_warmup_pct": 100 * (samples[-1][1] / reference - 1),
        "slope_mb_per_min_after_warmup": slope_per_minute(after), "pause_resume_cycles": toggled, "pause_resume_failed": missed,
        "failed_requests": problems.failed, "http_errors": problems.http_errors,
        "console_errors": problems.console_errors,
    }
    print(f"\nRSS: start {result['rss_start_mb']:.0f} MB, after {args.warmup:g} min warm-up {reference:.0f} MB, "
          f"end {result['rss_end_mb']:.0f} MB, max {result['rss_max_mb']:.0f} MB; growth after warm-up "
          f"{result['growth_after_warmup_pct']:+.1f} % ({result['slope_mb_per_min_after_warmup']:+.2f} MB/min). "
          f"Steps: {result['steps']}. Pause/Resume cycles: {toggled} ({missed} failed). Problems seen by the tabs: "
          f"{len(problems.all())}")
    for line in problems.all()[:10]:
        print(f"    {line[:160]}")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
