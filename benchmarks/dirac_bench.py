"""Server-side response time of the Dirac-GAN lab per slider move (target: about 200 ms).

The page runs through Streamlit's AppTest in this process: one move = set one slider to a value it has
not had before and re-run the page: the field on its grid, the runs (500 simultaneous + 500 alternating
steps), the Jacobians, the chart built and serialized. The first move of a slider computes the runs at
all of that slider's positions in one batch (genlab.theory.cache); the moves after it find theirs
ready. A click on the plane picks one of 21 × 21 start points, all computed at the first click; a
start typed into the inputs (off that grid) computes its runs alone: the slowest kind of move.
No browser: drawing happens in another process and is not the server's cost.
Printed per kind of move: median and p95 of the wall time, and of the process CPU time (on a shared
machine the wall time also counts waiting for a core; the CPU time is what the move costs).

    python benchmarks/dirac_bench.py               # 20 moves of each kind (~1 min)
    python benchmarks/dirac_bench.py --moves 40
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moves", type=int, default=20, help="moves of each kind of slider")
    args = parser.parse_args()

    from streamlit.runtime.scriptrunner import script_cache
    from streamlit.testing.v1 import AppTest, app_test, local_script_runner

    # A server compiles the page once; AppTest would recompile it on every run. Count what a server does.
    shared_cache = script_cache.ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared_cache

    at = AppTest.from_file(str(REPO / "pages" / "dirac.py"), default_timeout=120)
    at.run()
    at.selectbox(key="dirac.A.regularizer").set_value("r1").run()
    if at.exception:
        print("the page failed:", at.exception[0].value)
        return 2

    n = args.moves
    moves = {  # kind -> (widget key, fresh values, compare mode)
        "γ (R1)": ("dirac.A.r1", [round(0.05 + 0.15 * i, 2) for i in range(n)], False),
        "step size h": ("dirac.h", [round(0.05 + 0.04 * i, 2) for i in range(n)], False),
        "steps": ("dirac.steps", [10 * (i + 51) for i in range(n)], False),
        "γ (R1), side by side": ("dirac.B.r1", [round(0.1 + 0.15 * i, 2) for i in range(n)], True),
        "step size h, side by side": ("dirac.h", [round(0.07 + 0.04 * i, 2) for i in range(n)], True),
        "click a new start": ("dirac.theta0", [round(-2.5 + 0.25 * i, 2) for i in range(n)], False),
        "type a new start (no batch)": ("dirac.theta0", [round(-2.37 + 0.25 * i, 2) for i in range(n)], False),
    }
    print(f"{n} moves per kind; load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"{'move':30s} {'wall median':>12s} {'wall p95':>9s} {'CPU median':>11s} {'CPU p95':>8s}")
    every: list[float] = []
    for kind, (key, values, compare) in moves.items():
        if at.toggle(key="dirac.compare").value != compare:
            at.toggle(key="dirac.compare").set_value(compare).run()
        wall, cpu = [], []
        for value in values:
            # a click sets the start inputs (pages/dirac.py use_clicked_start), as this does
            widget = at.number_input(key=key) if key == "dirac.theta0" else at.slider(key=key)
            widget.set_value(value)
            started, started_cpu = time.perf_counter(), time.process_time()
            at.run()
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            if at.exception:
                print("the page failed:", at.exception[0].value)
                return 2
        every += wall
        print(f"{kind:30s} {1000 * statistics.median(wall):10.0f} ms {1000 * percentile(wall, 0.95):6.0f} ms "
              f"{1000 * statistics.median(cpu):9.0f} ms {1000 * percentile(cpu, 0.95):5.0f} ms", flush=True)
    print(f"all moves: wall median {1000 * statistics.median(every):.0f} ms, p95 {1000 * percentile(every, 0.95):.0f} ms; "
          f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
