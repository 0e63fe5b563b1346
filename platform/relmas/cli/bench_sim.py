"""``relmas bench sim``: simulated layer dispatches per second on one core, contention on.

Rates are per CPU-second of the thread that simulates (``time.thread_time``), which is what "on
one core" means: the process's CPU time would also count numpy's OpenBLAS worker threads, which
spin for a while after the numpy calls that build a workload (about 10% of a compiled run's CPU
time in one venv, next to nothing in another; measured 2026-12-05). The machines this runs on
are shared and noisy, so every rate is reported beside a reference measured in the same minute,
in alternation with it: a bare ``heapq`` event loop over
the same requests and chip (first ready request onto a free unit, no DRAM contention, no
accounting), the floor any Python event loop pays. Ratios to it are comparable across machines
and days; absolute rates are not. The chip-size curve runs the same scenario on growing chips
(the load resolved per chip), round-robin, so its ratios to the first chip share a minute too.
The snapshot figures time ``Simulator.snapshot()`` mid-episode (lookahead schedulers clone the
simulator at every decision).
"""

from __future__ import annotations

import argparse
import copy
import heapq
import json
import platform
import statistics
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from relmas.cli.bench_rollout import check_rollout, rollout_rate
from relmas.cli.common import positive_int, print_table
from relmas.cli.simulate import add_setup_args
from relmas.compiled import build_kind
from relmas.errors import UserError
from relmas.experiment import Setup, load_setup, make_simulator
from relmas.schedulers import make_scheduler
from relmas.sim.engine import Simulator

TARGET_PER_S = 200_000
TARGET_RATIO = 0.5  # of the bare loop's rate, FCFS on heavy / 2s2e (issue 13)
TARGET_CURVE = 0.7  # largest chip's rate over the first chip's (issue 13)
CURVE = "2s2e,4s4e@29.6,8s8e@59.2,16s16e@118.4,32s32e@236.8"


def bare_loop(sim: Simulator) -> int:
    """Dispatch every layer of ``sim``'s requests in a bare heapq event loop; returns the count.

    The reference rate: events in a heap, FIFO ready queue, the first free unit, each layer at
    its compute time (no bandwidth sharing, energy, deadlines or scheduler).
    """
    chip = sim.chip
    compute, types, num_layers = chip.compute_s, chip.accel_type, chip.num_layers
    models = [s.model for s in sim.specs]
    heap = [(s.arrival_s, i, -1) for i, s in enumerate(sim.specs)]
    heapq.heapify(heap)
    ready: deque[int] = deque()
    free = list(range(chip.num_accels))
    layer = [0] * len(models)
    dispatches = 0
    while heap:
        t, i, a = heapq.heappop(heap)
        if a >= 0:
            free.append(a)
            layer[i] += 1
            if layer[i] < num_layers[models[i]]:
                ready.append(i)
        else:
            ready.append(i)
        while ready and free:
            i, a = ready.popleft(), free.pop()
            heapq.heappush(heap, (t + compute[models[i]][types[a]][layer[i]], i, a))
            dispatches += 1
    return dispatches


def register_bench(bench_subparsers: Any) -> None:
    """Add ``bench sim``."""
    p = bench_subparsers.add_parser(
        "sim",
        help="simulator dispatches per second (one core)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_setup_args(p)
    p.add_argument(
        "--scheduler",
        default="fcfs,planaria",
        help="scheduler(s) to time, comma-separated; the first is the headline",
    )
    p.add_argument(
        "--curve",
        default=CURVE,
        help="chips of the cost-per-event curve, comma-separated ('' skips it)",
    )
    p.add_argument(
        "--curve-scheduler",
        default="fcfs,planaria",
        help="scheduler(s) timed on each chip of the curve",
    )
    p.add_argument(
        "--snapshot-scheduler",
        default="planaria",
        help="scheduler run to mid-episode before timing snapshots (a rollout's usual base)",
    )
    p.add_argument(
        "--snapshots",
        type=int,
        default=2000,
        help="Simulator.snapshot() calls timed mid-episode (0 skips them)",
    )
    p.add_argument(
        "--rollout",
        default="rollout",
        help="lookahead scheduler timed in decisions/s beside its base ('' skips it)",
    )
    p.add_argument(
        "--rollout-requests",
        type=positive_int,
        default=400,
        help="requests of the truncated episode the rollout is timed on (one run)",
    )
    p.add_argument(
        "--repeat", type=positive_int, default=3, help="timed runs of each (the best is reported)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_bench_sim)  # fmt: skip


def _cpu_rate(run: Callable[[], int]) -> float:
    t = time.thread_time()
    n = run()
    return n / max(time.thread_time() - t, 1e-9)


def _engine_run(setup: Setup, name: str, seed: int) -> Callable[[], int]:
    sim, sched = make_simulator(setup, seed), make_scheduler(name)
    return lambda: sim.run(sched, seed=seed).dispatches


def _time(setup: Setup, name: str, repeat: int) -> dict[str, Any]:
    """Alternate the bare loop and ``name`` on seeds 0..repeat-1; the best of each."""
    bare, rates, wall, dispatches = [], [], [], 0
    for i in range(repeat):
        sim = make_simulator(setup, i)
        bare.append(_cpu_rate(lambda sim=sim: bare_loop(sim)))
        sim, sched = make_simulator(setup, i), make_scheduler(name)
        t_cpu, t_wall = time.thread_time(), time.perf_counter()
        dispatches = sim.run(sched, seed=i).dispatches
        rates.append(dispatches / max(time.thread_time() - t_cpu, 1e-9))
        wall.append(dispatches / max(time.perf_counter() - t_wall, 1e-9))
    return {
        "dispatches_per_run": dispatches,
        "cpu_dispatches_per_s_best": max(rates),
        "cpu_dispatches_per_s_median": statistics.median(rates),
        "wall_dispatches_per_s_best": max(wall),
        "bare_loop_cpu_dispatches_per_s_best": max(bare),
        "ratio_to_bare_loop": max(rates) / max(bare),
    }


def _curve(setups: dict[str, Setup], names: list[str], repeat: int) -> list[dict[str, Any]]:
    """Every (chip, scheduler) of the curve, round-robin, with the first chip as reference."""
    chips = list(setups)
    best: dict[tuple[str, str], float] = {}
    bare: dict[str, float] = {}
    for i in range(repeat):
        for h in chips:
            sim = make_simulator(setups[h], i)
            bare[h] = max(bare.get(h, 0.0), _cpu_rate(lambda sim=sim: bare_loop(sim)))
            for name in names:
                rate = _cpu_rate(_engine_run(setups[h], name, i))
                best[(h, name)] = max(best.get((h, name), 0.0), rate)
    return [
        {
            "hardware": h,
            "scheduler": name,
            "cpu_dispatches_per_s_best": best[(h, name)],
            "bare_loop_cpu_dispatches_per_s_best": bare[h],
            "ratio_to_bare_loop": best[(h, name)] / bare[h],
            "rate_vs_first_chip": best[(h, name)] / best[(chips[0], name)],
        }
        for h in chips
        for name in names
    ]


def _snapshots(setup: Setup, name: str, count: int) -> dict[str, float]:
    """Run ``name`` to the middle of the arrivals, then time ``count`` snapshots there."""
    sim, sched = make_simulator(setup, 0), make_scheduler(name)
    sched.reset(sim, np.random.default_rng(0))
    half = sim.specs[len(sim.specs) // 2].arrival_s if sim.specs else 0.0
    while sim.advance() and sim.now_s < half:
        sim.apply(sched.decide(sim))
    times = []
    for _ in range(count):
        t = time.perf_counter()
        sim.snapshot()
        times.append(time.perf_counter() - t)
    times.sort()
    t = time.perf_counter()
    copy.deepcopy(sim)
    return {
        "snapshot_us_median": statistics.median(times) * 1e6,
        "snapshot_us_p90": times[int(0.9 * (len(times) - 1))] * 1e6,
        "snapshot_scheduler": name,
        "snapshot_at_s": sim.now_s,
        "snapshot_live_requests": len(sim.ready) + len(sim.busy),
        "deepcopy_us": (time.perf_counter() - t) * 1e6,
    }


def cmd_bench_sim(args: argparse.Namespace) -> int:
    """Time the simulator with real schedulers, each beside the bare loop."""
    setup = load_setup(args.scenario, args.hardware, args.bandwidth_gbps)
    names = [n.strip() for n in args.scheduler.split(",") if n.strip()]
    if not names:
        raise UserError("--scheduler", "names no scheduler", "e.g. --scheduler fcfs,planaria")
    curve_names = [n.strip() for n in args.curve_scheduler.split(",") if n.strip()]
    chips = [h.strip() for h in args.curve.split(",") if h.strip()]
    curve = {h: load_setup(args.scenario, h, None) for h in chips}  # bad input fails here, not
    for name in dict.fromkeys([*names, *curve_names, args.snapshot_scheduler]):  # after timing
        make_simulator(setup, 0).run(make_scheduler(name), seed=0)  # also imports and caches
    if args.rollout.strip():
        check_rollout(args.rollout.strip())
    per = {name: _time(setup, name, args.repeat) for name in names}
    head = per[names[0]]
    out: dict[str, Any] = {
        "benchmark": "sim", "scenario": args.scenario, "hardware": args.hardware,
        "scheduler": names[0], "bandwidth_policy": setup.scenario.bandwidth_policy,
        "repeat": args.repeat, "python": platform.python_version(),
        "build": build_kind(), **head,
        "target_per_s": TARGET_PER_S,
        "meets_target": head["cpu_dispatches_per_s_best"] >= TARGET_PER_S,
        "target_ratio_to_bare_loop": TARGET_RATIO,
        "meets_ratio_target": head["ratio_to_bare_loop"] >= TARGET_RATIO,
        "schedulers": per,
    }  # fmt: skip
    if curve:
        out["chip_curve"] = _curve(curve, curve_names, args.repeat)
        out["target_rate_vs_first_chip"] = TARGET_CURVE
    if args.snapshots > 0:
        out.update(_snapshots(setup, args.snapshot_scheduler, args.snapshots))
    if args.rollout.strip():
        out.update(rollout_rate(setup, args.rollout.strip(), args.rollout_requests))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print(out)
    return 0


def _print(out: dict[str, Any]) -> None:
    def fmt(v: Any) -> str:
        return f"{v:,.3g}" if isinstance(v, float) and abs(v) < 10 else (
            f"{v:,.0f}" if isinstance(v, float) else str(v))  # fmt: skip

    flat = {k: v for k, v in out.items() if not isinstance(v, dict | list)}
    print_table("relmas bench sim", ["field", "value"], [[k, fmt(v)] for k, v in flat.items()])
    rows = [[n, fmt(r["cpu_dispatches_per_s_best"]), fmt(r["ratio_to_bare_loop"])]
            for n, r in out["schedulers"].items()]  # fmt: skip
    print_table("per scheduler", ["scheduler", "dispatches/s", "x bare loop"], rows)
    if "chip_curve" in out:
        rows = [[r["hardware"], r["scheduler"], fmt(r["cpu_dispatches_per_s_best"]),
                 fmt(r["ratio_to_bare_loop"]), fmt(r["rate_vs_first_chip"])]
                for r in out["chip_curve"]]  # fmt: skip
        headers = ["chip", "scheduler", "dispatches/s", "x bare loop", "x first chip"]
        print_table("cost per event vs chip size", headers, rows)
