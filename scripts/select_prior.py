"""Choose the Planaria variant behind the RL policy's prior on validation seeds (never test seeds).

Why: Planaria scores requests by ``priority ** e / (slack * remaining)`` with ``e = 1``, but the
``sla_rate`` KPI counts every request once. The policy's prior (``planaria_params`` in a
training file) should be the variant that serves the KPI best, and that choice is a
hyper-parameter: it is made here on validation seeds 5000+ (disjoint from the training seeds
0..N-1 and the evaluation seeds 10000+), with the paired per-seed SLA difference to the paper's
Planaria and its standard error, so a noise-level "gain" is visible as one.

    python scripts/select_prior.py --scenario heavy --seeds 40 --exponents 0,0.15,0.3,0.5,0.75,1
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from relmas.cli.common import run_script
from relmas.env.sources import make_source
from relmas.evaluation.runner import default_jobs
from relmas.rl.evaluate import paired_delta, run_scheduler
from relmas.schedulers.registry import make_scheduler


def _one(exponent: float, scenario: str, hardware: str, seed: int) -> tuple[float, float]:
    """(SLA rate, energy per inference) of one seed (a picklable unit of work)."""
    source = make_source({"scenario": scenario, "hardware": hardware})
    sched = make_scheduler("planaria", {"priority_exponent": exponent})
    m = run_scheduler(source, sched, [seed])
    return m["sla_rate"], m["energy_per_inference_j"]


def main() -> None:
    """Print one line per exponent, then the best (highest mean SLA)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="heavy")
    ap.add_argument("--hardware", default="2s2e")
    ap.add_argument("--first-seed", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--exponents", default="0,0.15,0.3,0.5,0.75,1")
    ap.add_argument("--jobs", type=int, default=default_jobs())
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    exps = [float(e) for e in args.exponents.split(",")]
    rows: dict[float, list[tuple[float, float]]] = {}
    with ProcessPoolExecutor(max(args.jobs, 1)) as pool:
        for e in [1.0, *[x for x in exps if x != 1.0]]:
            job = partial(_one, e, args.scenario, args.hardware)
            rows[e] = list(pool.map(job, seeds))
    ref = rows[1.0]
    ref_j = sum(j for _, j in ref) / len(ref)
    for e in exps:
        sla = [s for s, _ in rows[e]]
        d = paired_delta(sla, [s for s, _ in ref])
        energy = sum(j for _, j in rows[e]) / len(ref) / ref_j
        print(
            f"priority_exponent={e:g}: SLA {sum(sla) / len(sla):.4f}  vs e=1 "
            f"{d['mean']:+.4f} +- {d['stderr']:.4f}  W/L/T {d['wins']}/{d['losses']}/{d['ties']}"
            f"  energy x{energy:.4f}",
            flush=True,
        )
    best = max(exps, key=lambda e: sum(s for s, _ in rows[e]))
    print(f"best: priority_exponent={best:g}")


if __name__ == "__main__":
    run_script(main, "select_prior.py")
