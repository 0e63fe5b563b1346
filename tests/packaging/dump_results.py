"""Print every heuristic's outcome on a few setups as JSON lines (run by test_compiled_build.py).

Each line: scenario, chip, scheduler, seed, then digests of what a run produces (the trace of
every layer run, the per-request outcome, the energy and the end time), so two builds can be
compared to the last bit. Lookahead schedulers are left out for time (their building blocks,
snapshots and the base heuristics, are compared here and in the unit tests).
"""

from __future__ import annotations

import hashlib
import json

from relmas.compiled import build_kind
from relmas.experiment import load_setup, make_simulator
from relmas.schedulers import make_scheduler, scheduler_names
from relmas.schedulers.registry import is_lookahead

SETUPS = (("heavy", "2s2e", 10001), ("tight", "4s4e", 10002), ("medium", "3s1e", 10003))


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def main() -> None:
    """One line for the build, then one per (setup, scheduler)."""
    print(json.dumps({"build": build_kind()}))
    for scenario, hardware, seed in SETUPS:
        setup = load_setup(scenario, hardware)
        for name in scheduler_names():
            if is_lookahead(name):
                continue
            sim = make_simulator(setup, seed)
            sim.record_trace = True
            result = sim.run(make_scheduler(name), seed=seed)
            outcome = [(r.rid, r.state, r.next_layer, repr(r.finish_s)) for r in sim.requests]
            print(json.dumps([
                scenario, hardware, name, seed, repr(sim.now_s), repr(sim.dynamic_energy_j),
                repr(sim.oversubscription_s), result.dispatches, _digest(sim.trace),
                _digest(outcome),
            ]))  # fmt: skip


if __name__ == "__main__":
    main()
