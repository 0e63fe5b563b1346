"""``relmas bench sim``: simulated layer dispatches per second on one core, contention on.

Reported per CPU-second of this process (``time.process_time``), which is what "on one core"
means and is robust to other work on the machine, and per wall-second for reference. A bare
engine rate (a scheduler that takes the first ready request) separates engine cost from policy
cost.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any

from relmas.cli.common import dumps, positive_int, print_table
from relmas.cli.simulate import add_setup_args
from relmas.experiment import Setup, load_setup, make_simulator
from relmas.schedulers import make_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch

TARGET_PER_S = 200_000


class _FirstReady:
    """Bare-engine reference: first ready request onto the first free unit."""

    def reset(self, sim: Simulator, rng: Any) -> None:
        """Nothing to reset."""

    def decide(self, sim: Simulator) -> list[Dispatch]:
        """One dispatch, no ordering work."""
        return [Dispatch(next(iter(sim.ready.values())), sim.free_accels[0])]


def register_bench(bench_subparsers: Any) -> None:
    """Add ``bench sim``."""
    p = bench_subparsers.add_parser("sim", help="simulator dispatches per second (one core)")
    add_setup_args(p)
    p.add_argument("--scheduler", default="fcfs", help="scheduler to time (default fcfs)")
    p.add_argument("--repeat", type=positive_int, default=5, help="timed runs (best is reported)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_sim)


def _time(setup: Setup, make: Any, repeat: int) -> dict[str, float]:
    cpu, wall, dispatches = [], [], 0
    for i in range(repeat):
        sim = make_simulator(setup, i)
        sched = make()
        t_cpu, t_wall = time.process_time(), time.perf_counter()
        res = sim.run(sched, seed=i)
        cpu.append(res.dispatches / (time.process_time() - t_cpu))
        wall.append(res.dispatches / (time.perf_counter() - t_wall))
        dispatches = res.dispatches
    return {
        "dispatches_per_run": dispatches,
        "cpu_dispatches_per_s_best": max(cpu),
        "cpu_dispatches_per_s_median": statistics.median(cpu),
        "wall_dispatches_per_s_best": max(wall),
    }


def cmd_bench_sim(args: argparse.Namespace) -> int:
    """Time the simulator with a real scheduler and with the bare-engine reference."""
    setup = load_setup(args.scenario, args.hardware, args.bandwidth_gbps)
    warm_up = make_scheduler(args.scheduler)  # imports and caches
    make_simulator(setup, 0).run(warm_up, seed=0)
    policy = _time(setup, lambda: make_scheduler(args.scheduler), args.repeat)
    bare = _time(setup, _FirstReady, args.repeat)
    out = {
        "benchmark": "sim", "scenario": args.scenario, "hardware": args.hardware,
        "scheduler": args.scheduler, "bandwidth_policy": setup.scenario.bandwidth_policy,
        "repeat": args.repeat, "python": platform.python_version(), **policy,
        "bare_engine_cpu_dispatches_per_s_best": bare["cpu_dispatches_per_s_best"],
        "target_per_s": TARGET_PER_S,
        "meets_target": policy["cpu_dispatches_per_s_best"] >= TARGET_PER_S,
    }  # fmt: skip
    if args.json:
        print(dumps(out))
    else:
        rows = [[k, f"{v:,.0f}" if isinstance(v, float) else str(v)] for k, v in out.items()]
        print_table("relmas bench sim", ["field", "value"], rows)
    return 0
