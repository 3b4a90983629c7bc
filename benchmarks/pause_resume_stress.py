"""How many Pause/Resume cycles does a training tab survive? Written for a Streamlit frontend failure
(issue 16): with Streamlit's message cache on, the Train page's live fragment (which also holds the
transport buttons and re-runs on its timer) now and then received an element whose earlier sibling had
not arrived, and the frontend stopped with "Bad delta path index 1 (should be between [0, 0])" (or
"Cannot set a node at a delta path"); the tab stayed dead until reloaded, its run training on.
Measured here: 1-7 cycles with the cache, 15 of 15 with it off (.streamlit/config.toml). Rerun it
after touching the Train page's fragments or Streamlit's version.

A real `streamlit run app.py` server and headless Chromium; the conv VAE on shapes trains; each cycle waits
for the step count to move, presses Pause, waits for "paused", presses Resume. Stops at the first page
error. Prints each cycle and, at the end, how many cycles passed and the error seen (if any).

    python benchmarks/pause_resume_stress.py               # up to 30 cycles (~3-5 minutes)
    python benchmarks/pause_resume_stress.py --cycles 10 --scenario ring-gan
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_server import SCENARIOS, launch_chromium, open_train, press_until, serve, state_value  # noqa: E402


def step_shown(page) -> int:
    texts = page.get_by_test_id("stMetricValue").all_inner_texts()
    return int(texts[0].replace(",", "")) if texts and texts[0].replace(",", "").isdigit() else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="shapes-vae")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with serve() as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1400, "height": 1700}).new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_train(page, server.url, args.scenario)
        press_until(page, "^(Start|Resume)$", "running")
        passed = 0
        for cycle in range(args.cycles):
            before, began = step_shown(page), time.monotonic()
            while step_shown(page) <= before and not errors and time.monotonic() - began < 30:
                page.wait_for_timeout(200)
            if errors:
                break
            page.get_by_role("button", name="Pause", exact=True).click()
            try:
                state_value(page, "paused").wait_for(timeout=30_000)
                press_until(page, "^(Start|Resume)$", "running", timeout_s=30)
            except Exception as exc:  # noqa: BLE001 - a dead page times out: report it with the page error
                errors.append(errors[0] if errors else f"no state change: {type(exc).__name__}")
                break
            passed = cycle + 1
            print(f"cycle {passed}: ok", flush=True)
    print(f"{passed} of {args.cycles} Pause/Resume cycles passed; page error: {errors[0] if errors else 'none'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
