"""How many students one server holds: N sessions each training the default ring GAN at once.

Two ways to run the N trainings, measured the same way:
  threads    N genlab.live.TrainingRunner objects in this process, each training in its own thread
             (one torch thread each), all under one GIL (GENLAB_RUNNER=thread);
  processes  N genlab.live.ProcessRunner objects, each run in its own worker process (torch.multiprocessing,
             spawn), this process asking it for snapshots over a pipe: the app's default.
Each session's page refresh is played the way a browser tab's live view makes the server work: every
0.5 s, a thread per session (Streamlit runs each session's script in its own thread) takes the run's
snapshot and builds and serializes the live view's charts (genlab.viz, as st.plotly_chart sends
them); its latency is what a refresh costs the server. No browser: its rendering runs on the
students' machines, not on the server, and on this 2-core machine it would take the server's CPU.

Reported per N: steps/s of every run (min / median / max) and of all together, refresh latency p50 and
p95, and the memory of the server: RSS of this process (threads), or the proportional set size (PSS:
shared libraries counted once) of this process plus its workers, the spare one included, and the fork
server they are forked from (processes).

    python benchmarks/classroom_bench.py                       # N = 1, 2, 4, 8, both modes (~5 minutes)
    python benchmarks/classroom_bench.py --modes threads --sessions 1 2 --seconds 10
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REFRESH_S = 0.5


def default_config():
    """The run a new browser tab starts with (pages/shared.py's default_config, without streamlit)."""
    from genlab.config import RunConfig
    from genlab.presets import preset

    return RunConfig(name="ring-gan").replace(**preset("gan", "ring"))


def refresh_work(snapshot) -> None:
    """What the live view builds from a snapshot for a 2D GAN, serialized like st.plotly_chart does."""
    from genlab import viz

    figures = [viz.loss_figure(snapshot.history), viz.d_outputs_figure(snapshot.history),
               viz.layer_norms_figure(snapshot.history)]
    if snapshot.scene is not None:
        figures.append(viz.scene_figure(snapshot.scene, show_field=True))
    for figure in figures:
        figure.to_json()


# --- the two ways to host a run ---------------------------------------------------------------------
def make_runner(mode: str, config, capacity):
    """The app's runner for `mode`: a TrainingRunner (a thread here) or a ProcessRunner (a worker process)."""
    from genlab.live import TrainingRunner
    from genlab.live.process_runner import ProcessRunner

    return (TrainingRunner if mode == "threads" else ProcessRunner)(config, capacity=capacity)


# --- measuring --------------------------------------------------------------------------------------
def memory_kib(pid: int, field: str) -> int:
    """VmRSS from /proc/<pid>/status, or Pss from /proc/<pid>/smaps_rollup, in KiB."""
    path = f"/proc/{pid}/status" if field == "VmRSS" else f"/proc/{pid}/smaps_rollup"
    for line in Path(path).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Refresher(threading.Thread):
    """Refreshes one session's live view every REFRESH_S seconds, recording each refresh's latency."""

    def __init__(self, session, stop: threading.Event):
        super().__init__(daemon=True)
        self.session, self.stop, self.latencies = session, stop, []
        self.recording = False

    def run(self) -> None:
        next_at = time.perf_counter()
        while not self.stop.is_set():
            started = time.perf_counter()
            refresh_work(self.session.snapshot(want_scene=True))
            if self.recording:
                self.latencies.append(time.perf_counter() - started)
            next_at += REFRESH_S
            time.sleep(max(0.0, next_at - time.perf_counter()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def fork_server() -> list[int]:
    """The pid of the workers' fork server (genlab.live.pool), which holds the torch they share; [] if none."""
    import multiprocessing.forkserver

    pid = multiprocessing.forkserver._forkserver._forkserver_pid
    return [pid] if pid is not None else []


def measure(mode: str, n: int, seconds: float, warmup_s: float) -> dict:
    import multiprocessing

    from genlab.live import CapacityLimiter

    config = default_config()
    capacity = CapacityLimiter(n)
    sessions = [make_runner(mode, config, capacity) for _ in range(n)]
    stop = threading.Event()
    refreshers = [Refresher(session, stop) for session in sessions]
    try:
        for session in sessions:
            session.start()
        for refresher in refreshers:
            refresher.start()
        time.sleep(warmup_s)  # first steps, first quality metrics, the workers' imports
        for refresher in refreshers:
            refresher.recording = True
        before = [session.snapshot().step for session in sessions]
        started = time.perf_counter()
        time.sleep(seconds)
        after = [session.snapshot().step for session in sessions]
        elapsed = time.perf_counter() - started
        for refresher in refreshers:
            refresher.recording = False
        workers = [child.pid for child in multiprocessing.active_children()]  # the runs' and the spare one
        workers += fork_server()
        memory_mib = (memory_kib(os.getpid(), "VmRSS") if mode == "threads"
                      else sum(memory_kib(pid, "Pss") for pid in [os.getpid(), *workers])) / 1024
    finally:
        stop.set()
        for refresher in refreshers:
            refresher.join(timeout=30)
        for session in sessions:
            session.close()
    rates = [(b - a) / elapsed for a, b in zip(before, after)]
    latencies = [latency for refresher in refreshers for latency in refresher.latencies]
    return {"mode": mode, "n": n, "rates": rates, "latencies": latencies, "memory_mib": memory_mib}


def print_row(result: dict) -> None:
    rates = result["rates"]
    latencies_ms = [1000 * latency for latency in result["latencies"]]
    print(f"| {result['mode']} | {result['n']} | {sum(rates):,.0f} | {min(rates):,.0f} / {statistics.median(rates):,.0f} "
          f"/ {max(rates):,.0f} | {percentile(latencies_ms, 0.5):.0f} | {percentile(latencies_ms, 0.95):.0f} "
          f"| {len(latencies_ms)} | {result['memory_mib']:,.0f} | {os.getloadavg()[0]:.1f} |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--modes", nargs="+", choices=("threads", "processes"), default=["threads", "processes"])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window per N and mode")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of training before measuring")
    args = parser.parse_args(argv)
    os.environ["GENLAB_TORCH_THREADS"] = "1"  # one torch thread per training, in every mode (workers inherit it)
    import torch

    torch.set_num_threads(1)
    print(f"default ring GAN (genlab.presets), 1 torch thread per training, refresh every {REFRESH_S:g} s; "
          f"{os.cpu_count()} logical CPUs, torch {torch.__version__}")
    print("| mode | sessions | all runs, steps/s | per run min / median / max | refresh p50 ms | refresh p95 ms "
          "| refreshes | server memory MiB | load (1 min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sessions:
        for mode in args.modes:  # alternate modes per N: drift in machine load hits both alike
            print_row(measure(mode, n, args.seconds, args.warmup))


if __name__ == "__main__":
    main()
