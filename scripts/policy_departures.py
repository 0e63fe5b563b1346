"""Where a policy departs from the Planaria it sees, per episode: a measured answer per chip.

Why: the shipped policy ties Planaria 0.5 on ``heavy`` on the chips it was trained on and loses
to it on an unseen one (1s3e at half bandwidth, docs/rl.md). Counting, at every decision, how
its action relates to Planaria's first dispatch at that state (the observation's Planaria flag,
with the policy's own ``planaria_params``) shows *what* it does differently on each chip:
waiting where Planaria dispatches, another request, or Planaria's request on another unit.

    python scripts/policy_departures.py --scenario heavy \\
        --hardware 2s2e,1s3e,2s2e_halfbw,1s3e@7.4 --seeds 5000,5001,5002

``--wait-bias B`` lowers the policy's wait logit by ``B`` first (how much its waits carry);
``--planaria-unit`` runs Planaria's request on Planaria's unit wherever the policy chose the
same request on another unit (how much those unit swaps carry).

Prints one JSON object per chip: the mean count per episode of each kind (and ``gate_closed``:
decisions where an ``outlook_gate`` policy had only Planaria's action left), the policy's SLA rate
and that of ``--reference`` on the same requests (permille), the paired per-seed difference
(mean, standard error, wins / losses / ties) and both per-seed lists.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import numpy as np

from relmas.cli.common import run_script
from relmas.env.sources import EpisodeSource, make_source
from relmas.errors import UserError
from relmas.rl.evaluate import paired_delta, run_scheduler
from relmas.rl.policy_scheduler import PolicyScheduler, load_one_policy, resolve_policy_dir
from relmas.schedulers.registry import make_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.metrics import compute_metrics
from relmas.sim.request import Dispatch


def _kind(sim: Simulator, sched: PolicyScheduler, decisions: list[Any]) -> str:
    """How this decision relates to Planaria's first dispatch at the same state."""
    assert sched.encoder is not None
    if not hasattr(sched.encoder, "choice"):  # set by the heuristic candidate rule only
        problem = "the policy's observation has no Planaria flag"
        raise UserError("checkpoint", problem, "use a policy with the heuristic candidate rule")
    planaria = sched.encoder.choice
    if not decisions:
        return "wait" if planaria is None else "wait_where_planaria_dispatches"
    request, accel = decisions[0].request, decisions[0].accel
    if planaria is None:
        return "dispatch_where_planaria_waits"
    if planaria[0] is request:
        if planaria[1] == accel:
            return "same_as_planaria"
        return f"planaria_request_on_{sim.chip.type_names[sim.chip.accel_type[accel]]}"
    return "other_request"


def lower_wait_logit(sched: PolicyScheduler, by: float) -> None:
    """Subtract ``by`` from the policy's wait logit (the wait head's last bias; its last layer
    is linear): how much of a policy's result its waits carry, without retraining. For an
    ensemble, every member's: its ``pair`` is only the first member's head."""
    for policy in getattr(sched.policy, "members", [sched.policy]):
        head = getattr(policy, "pair", None)
        if head is None:
            problem = "the policy has no pair head"
            raise UserError("--wait-bias", problem, "use a pair-head policy")
        wt, b, act = head.wait[-1]
        head.wait[-1] = (wt, b - by, act)


def on_planaria_unit(sched: PolicyScheduler, kind: str, decisions: list[Any]) -> list[Any]:
    """``decisions``, but Planaria's own dispatch where the policy took its request elsewhere."""
    if not kind.startswith("planaria_request_on_"):
        return decisions
    assert sched.encoder is not None and sched.encoder.choice is not None
    return [Dispatch(*sched.encoder.choice)]


def episode(
    sched: PolicyScheduler, source: EpisodeSource, seed: int, planaria_unit: bool = False
) -> tuple[Counter[str], float]:
    """Counts of one full (or ``--requests``-long) episode of the policy, and its SLA rate.

    ``planaria_unit``: where the policy runs Planaria's request on another unit, run it on
    Planaria's unit instead (how much those unit swaps carry). ``sched`` is loaded once per
    run: ``reset`` below restarts it for this episode."""
    sim = source.make_simulator(seed, bandwidth_policy=sched.bandwidth_policy)
    sched.reset(sim, np.random.default_rng(seed))
    encoder = sched.encoder
    assert encoder is not None  # built by reset
    counts: Counter[str] = Counter()
    while sim.advance():
        decisions = sched.decide(sim)
        kind = _kind(sim, sched, decisions)
        counts[kind] += 1
        counts["gate_closed"] += encoder.gate_closed
        sim.apply(on_planaria_unit(sched, kind, decisions) if planaria_unit else decisions)
    sla = float(compute_metrics(sim.result())["sla_rate"])
    counts["sla_rate_permille"] = round(1000 * sla)
    return counts, sla


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--policy", default="default", help="policy directory or shipped name")
    p.add_argument("--scenario", default="heavy", help="scenario preset")
    p.add_argument("--hardware", default="2s2e", help="comma list of chips")
    p.add_argument("--seeds", default="5000,5001,5002", help="comma list (validation: 5000+)")
    p.add_argument("--requests", type=int, default=0, help="truncate episodes (0: full)")
    p.add_argument(
        "--wait-bias", type=float, default=0.0, help="lower the policy's wait logit by this"
    )
    p.add_argument(
        "--reference", default="planaria?priority_exponent=0.5", help="heuristic run beside it"
    )
    p.add_argument(
        "--planaria-unit",
        action="store_true",
        help="run Planaria's request on Planaria's unit where the policy picks another",
    )
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    sched = load_one_policy(resolve_policy_dir(args.policy))  # an export or ensemble
    if args.wait_bias:
        lower_wait_logit(sched, args.wait_bias)
    for hardware in args.hardware.split(","):
        config: dict[str, Any] = {"scenario": args.scenario, "hardware": hardware, "seeds": seeds}
        if args.requests:
            config["num_requests"] = args.requests
        source = make_source(config)
        refs = run_scheduler(source, make_scheduler(args.reference), seeds)["sla_rate_per_seed"]
        total: Counter[str] = Counter()
        ours = []
        for seed, ref in zip(seeds, refs, strict=True):
            counts, sla = episode(sched, source, seed, args.planaria_unit)
            counts["reference_sla_rate_permille"] = round(1000 * ref)
            total.update(counts)
            ours.append(sla)
        mean = {k: round(v / len(seeds), 1) for k, v in sorted(total.items())}
        row = {"scenario": args.scenario, "hardware": hardware, "wait_bias": args.wait_bias}
        row["planaria_unit"] = args.planaria_unit
        row |= {"per_episode": mean, "vs_reference": paired_delta(ours, refs)}
        print(json.dumps({**row, "sla_rate_per_seed": ours, "reference_sla_rate_per_seed": refs}))


if __name__ == "__main__":
    run_script(main, "policy_departures.py")
