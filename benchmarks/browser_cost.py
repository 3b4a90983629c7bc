"""What does the Train page cost the browser while a run trains? Targets (issue 16): main thread busy
≤ 30 % while training at the default refresh; a click acts within 300 ms and shows its new state within 1 s.

A real `streamlit run app.py` server and headless Chromium without GPU (close to a school laptop's
integrated graphics). For each scenario (the ring GAN, a conv VAE on shapes), in a fresh tab:
  busy      the renderer's main-thread busy fraction, per second: Δ TaskDuration / Δ time from the
            Chrome DevTools Protocol's Performance.getMetrics (every task the main thread ran: script,
            style, layout, paint), while training at the default refresh, then while paused (idle);
  rtt       a trivial `page.evaluate("1")` round trip, once a second while training (how long any
            input waits for the main thread);
  pause     Pause clicked (Playwright's click: waits until the button is visible, stable and enabled,
            as a user aims) -> "act": the click's message leaves for the server on the websocket;
            "shown": the State metric reads "paused" (checked every animation frame); Resume likewise;
  problems  failed requests, HTTP responses ≥ 400 (e.g. 404 /media/...), console errors, and images on
            the page that failed to decode (checked once a second), over the whole scenario;
  traffic   kB/s the server sends the tab while training, and while paused;
  server    CPU of the server and its worker processes (the run's, the spare one) while training and
            while paused, in % of one core (Linux /proc): what one tab costs the machine that serves it.
Figures are medians and p95 over the samples. The machine's load shows in the figures: on a shared
2-core machine every number is worse than on a quiet laptop; compare before/after in the same conditions.

    python benchmarks/browser_cost.py                       # both scenarios, 30 s each, 5 clicks each
    python benchmarks/browser_cost.py --scenario ring-gan --seconds 60 --out figures.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_server import SCENARIOS, PageProblems, launch_chromium, open_train, press_until, serve, state_value, write_json  # noqa: E402

BROKEN_IMAGES_JS = "() => [...document.images].filter(i => i.complete && i.naturalWidth === 0).length"
STATE_SHOWN_JS = """(state) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
    m.querySelector('[data-testid="stMetricLabel"]')?.innerText.trim() === 'State' &&
    m.querySelector('[data-testid="stMetricValue"]')?.innerText.trim().startsWith(state))"""


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(values), "median": statistics.median(values), "p95": p95, "max": ordered[-1]}


class Meter:
    """The tab's main-thread time (CDP) and the websocket traffic and messages, timestamped here."""

    def __init__(self, page):
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable", {"timeDomain": "timeTicks"})
        self.sent: list[tuple[float, bytes]] = []
        self.received_bytes = 0
        page.on("websocket", self._watch_socket)

    def _watch_socket(self, socket) -> None:
        socket.on("framesent", lambda payload: self.sent.append((time.perf_counter(), _as_bytes(payload))))
        socket.on("framereceived", self._count_received)

    def _count_received(self, payload) -> None:
        self.received_bytes += len(_as_bytes(payload))

    def task_seconds(self) -> tuple[float, float]:
        """(renderer timestamp s, main-thread task time s) now."""
        metrics = self.durations()
        return metrics["Timestamp"], metrics["TaskDuration"]

    def durations(self) -> dict[str, float]:
        """The renderer's cumulative main-thread seconds by kind (CDP Performance.getMetrics) and its clock."""
        return {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}

    def first_sent_after(self, since: float, marker: bytes) -> float | None:
        return next((t for t, payload in self.sent if t >= since and marker in payload), None)


def _as_bytes(payload) -> bytes:
    return payload if isinstance(payload, bytes) else payload.encode("utf-8", "replace")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc/<pid>/stat's CPU times
BREAKDOWN = {"script": "ScriptDuration", "style": "RecalcStyleDuration", "layout": "LayoutDuration"}


def breakdown(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """The main thread's time between two Meter.durations() readings, as fractions of the wall time, by
    kind: script (JavaScript), style (style recalculation), layout, and the rest (parsing, paint, image
    decoding, idle tasks' bookkeeping)."""
    wall = after["Timestamp"] - before["Timestamp"]
    shares = {name: (after[key] - before[key]) / wall for name, key in BREAKDOWN.items()}
    shares["other"] = (after["TaskDuration"] - before["TaskDuration"]) / wall - sum(shares.values())
    return shares


def watch(page, meter: Meter, seconds: float, broken: list[int], rtt_ms: list[float] | None = None) -> list[float]:
    """Busy fraction per second over `seconds` (and evaluate round trips into `rtt_ms`)."""
    fractions = []
    stamp, busy = meter.task_seconds()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        tick = time.perf_counter()
        if rtt_ms is not None:
            page.evaluate("1")
            rtt_ms.append((time.perf_counter() - tick) * 1000)
        broken.append(page.evaluate(BROKEN_IMAGES_JS))
        page.wait_for_timeout(max(0.0, 1.0 - (time.perf_counter() - tick)) * 1000)
        new_stamp, new_busy = meter.task_seconds()
        if new_stamp > stamp:
            fractions.append((new_busy - busy) / (new_stamp - stamp))
        stamp, busy = new_stamp, new_busy
    return fractions


def click_and_time(page, meter: Meter, button: str, marker: bytes, state: str) -> tuple[float | None, float]:
    """(ms until the click's message left for the server, ms until the page shows `state`)."""
    begin = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_function(STATE_SHOWN_JS, arg=state, polling="raf", timeout=60_000)
    shown = (time.perf_counter() - begin) * 1000
    sent = meter.first_sent_after(begin, marker)
    return (None if sent is None else (sent - begin) * 1000), shown


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and every descendant alive now (Linux)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        process = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(process)
        cpu[process] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        pending += children.get(current, [])
        total += cpu.get(current, 0.0)
    return total


class ServerClock:
    """The server's share of one core between start() and share()."""

    def __init__(self, pid: int):
        self.pid = pid
        self._cpu, self._wall = 0.0, 0.0

    def start(self) -> None:
        self._cpu, self._wall = tree_cpu_seconds(self.pid), time.perf_counter()

    def share(self) -> float:
        return (tree_cpu_seconds(self.pid) - self._cpu) / (time.perf_counter() - self._wall)


def measure(browser, url: str, scenario: str, seconds: float, clicks: int, warmup: float, server_pid: int) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems = PageProblems(url)
    problems.watch(page)
    meter = Meter(page)
    open_train(page, url, scenario)
    press_until(page, "^(Start|Resume)$", "running")
    page.wait_for_timeout(warmup * 1000)
    broken: list[int] = []
    rtt: list[float] = []
    server = ServerClock(server_pid)
    received_before, started, durations_before = meter.received_bytes, time.perf_counter(), meter.durations()
    server.start()
    training = watch(page, meter, seconds, broken, rtt)
    server_training = server.share()
    training_kinds = breakdown(durations_before, meter.durations())
    traffic = (meter.received_bytes - received_before) / 1024 / (time.perf_counter() - started)
    timings: dict[str, list[float]] = {"pause_act": [], "pause_shown": [], "resume_act": [], "resume_shown": []}
    for _ in range(clicks):
        for button, key, state, name in (("Pause", b"btn.pause", "paused", "pause"),
                                         ("Resume", b"btn.start", "running", "resume")):
            acted, shown = click_and_time(page, meter, button, key, state)
            if acted is not None:
                timings[f"{name}_act"].append(acted)
            timings[f"{name}_shown"].append(shown)
            page.wait_for_timeout(3000)
    page.get_by_role("button", name="Pause", exact=True).click()
    state_value(page, "paused").wait_for()
    page.wait_for_timeout(2000)
    received_before, started = meter.received_bytes, time.perf_counter()
    server.start()
    idle = watch(page, meter, min(seconds, 15.0), broken)
    server_paused = server.share()
    traffic_paused = (meter.received_bytes - received_before) / 1024 / (time.perf_counter() - started)
    result = {
        "busy_training": summary(training), "busy_training_by_kind": training_kinds, "busy_paused": summary(idle), "rtt_ms": summary(rtt),
        **{name: summary(values) for name, values in timings.items()},
        "kB_per_s_received": traffic, "kB_per_s_received_paused": traffic_paused,
        "server_cpu_training": server_training, "server_cpu_paused": server_paused, "failed_requests": len(problems.failed), "http_errors": len(problems.http_errors),
        "console_errors": len(problems.console_errors), "broken_images_max": max(broken, default=0),
        "examples": problems.all()[:5],
    }
    context.close()
    return result


def report(results: dict[str, dict]) -> None:
    def cell(entry: dict, scale: float = 1.0, fmt: str = "{:.0f}") -> str:
        if not entry.get("n"):
            return "–"
        return f"{fmt.format(entry['median'] * scale)} / {fmt.format(entry['p95'] * scale)}"

    print("\nscenario | busy training % (median / p95) | busy paused % | evaluate RTT ms | Pause act ms | "
          "Pause shown ms | Resume act ms | Resume shown ms | kB/s training / paused | server CPU % training / paused "
          "| failed / ≥400 / console errors / broken img")
    for name, r in results.items():
        print(f"{name} | {cell(r['busy_training'], 100)} | {cell(r['busy_paused'], 100)} | {cell(r['rtt_ms'])} | "
              f"{cell(r['pause_act'])} | {cell(r['pause_shown'])} | {cell(r['resume_act'])} | "
              f"{cell(r['resume_shown'])} | {r['kB_per_s_received']:.0f} / {r['kB_per_s_received_paused']:.0f} | "
              f"{100 * r['server_cpu_training']:.0f} / {100 * r['server_cpu_paused']:.0f} | {r['failed_requests']} / "
              f"{r['http_errors']} / {r['console_errors']} / {r['broken_images_max']}")
        kinds = ", ".join(f"{kind} {100 * share:.0f} %" for kind, share in r["busy_training_by_kind"].items())
        print(f"    main thread while training, by kind: {kinds}")
        for example in r["examples"]:
            print(f"    {example[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), action="append", help="default: all")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of training measured per scenario")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of training before measuring")
    parser.add_argument("--clicks", type=int, default=5, help="Pause/Resume pairs timed per scenario")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    results = {}
    with serve() as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for scenario in args.scenario or tuple(SCENARIOS):
            results[scenario] = measure(browser, server.url, scenario, args.seconds, args.clicks, args.warmup,
                                        server.pid)
            print(f"{scenario}: {json.dumps(results[scenario])}", flush=True)
        browser.close()
    report(results)
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
