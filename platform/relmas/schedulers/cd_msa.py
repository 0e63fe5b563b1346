"""CD-MSA-style scheduling: least laxity first guarded by an EDF demand-bound schedulability test.

Paper: Wang, Bai, Sun, CD-MSA ("Cooperative and Deadline-aware Multi-Systolic-Array"
scheduling), IEEE TPDS 2023, DOI 10.1109/TPDS.2023.3276759 (authors and title as summarised in
``peers.md`` §3; the full text was not readable). No public code, so this is a reconstruction of
the abstract's three ingredients, not the authors' algorithm.

With ``rem_i`` = best-type isolated time of request ``i``'s remaining layers (for a running
request: what is left of its running layer plus its later layers) and ``M`` sub-accelerators::

    laxity_i = deadline_i - now - rem_i
    test:  for every request k (ready or running), sorted by deadline,
           sum_{j : d_j <= d_k} rem_j  <=  M * (d_k - now)          # EDF demand bound

Decision: (1) drop ready requests with negative laxity (they cannot finish in time even alone);
(2) while the test fails at some deadline ``d_k``, deprioritise the ready request with the least
laxity among those due by ``d_k`` (it moves behind all others but is not dropped, since the
test is only a sufficient-demand estimate); (3) dispatch in least-laxity-first order, each
request to its fastest free sub-accelerator.

Adaptations to this system:

- "Cooperative" execution (one task on several systolic arrays) has no counterpart: a request
  runs one layer at a time on one sub-accelerator, so it never gets more than one unit.
- Preemption is at layer boundaries (every decision point), not inside a layer.
- The demand bound mixes types by using best-type times; on a heterogeneous chip it is an
  optimistic estimate (a layer may end up on its slower type).
- "Dynamic task fusion" in the paper merges *different* tasks into one multi-threaded task to fill
  arrays. Different requests already co-run on different units here, so that part is moot. What
  remains is the within-request analogue: when more units are free than requests are ready (a
  unit would idle anyway, nobody competes), a request whose following layer also prefers the same
  type gets both layers as one block (``Dispatch(layers=2)``). In this simulator that changes no
  latency by itself (scheduling is free); it saves a decision point and costs preemptibility for
  one layer, so ``fuse_when_idle`` can switch it off.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from relmas.schedulers.base import Decision, Scheduler, SchedulerParams, best_free_accel
from relmas.schedulers.registry import register_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Drop, Request


class CdMsaParams(SchedulerParams):
    """CD-MSA-style switches."""

    drop_negative_laxity: bool = Field(
        True, description="Drop ready requests whose laxity is negative (hopeless)."
    )
    shed_on_overload: bool = Field(
        True,
        description="When the EDF demand-bound test fails, deprioritise the least-laxity "
        "request due by the failing deadline, until the test passes.",
    )
    fuse_when_idle: bool = Field(
        True,
        description="Dispatch two consecutive layers as one block when units would idle "
        "and the second layer prefers the same type (task-fusion analogue).",
    )


def remaining_s(sim: Simulator, req: Request) -> float:
    """Best-type remaining isolated time; for a running request, live time of its current layer."""
    rem = sim.chip.remaining_best_s[req.model]
    if req.accel >= 0 and sim.accel_request[req.accel] is req:
        return sim.busy_remaining_s(req.accel) + rem[req.next_layer + 1]
    return rem[req.next_layer]


def failing_deadline(
    now_s: float, num_units: int, demands: Sequence[tuple[float, float]]
) -> float | None:
    """First deadline at which the EDF demand bound is violated, or None if schedulable.

    ``demands`` are (deadline_s, remaining_s) pairs.
    """
    total_s = 0.0
    for deadline_s, rem_s in sorted(demands):
        total_s += rem_s
        if total_s > num_units * (deadline_s - now_s) + 1e-12:
            return deadline_s
    return None


@register_scheduler("cd-msa")
class CdMsaScheduler(Scheduler):
    """LLF dispatch with demand-bound overload shedding and idle-time layer fusion."""

    Params = CdMsaParams

    def laxity_s(self, sim: Simulator, req: Request) -> float:
        """Time the request can still afford to wait."""
        return req.deadline_s - sim.now_s - remaining_s(sim, req)

    def _shed(self, sim: Simulator, live: list[Request]) -> set[int]:
        """rids to deprioritise until the demand-bound test passes."""
        running = [sim.accel_request[a] for a in sim.busy]
        demands = {r.rid: (r.deadline_s, remaining_s(sim, r)) for r in running if r is not None}
        demands.update({r.rid: (r.deadline_s, remaining_s(sim, r)) for r in live})
        shed: set[int] = set()
        while True:
            fail = failing_deadline(sim.now_s, sim.chip.num_accels, list(demands.values()))
            if fail is None:
                return shed
            due = [r for r in live if r.rid not in shed and r.deadline_s <= fail]
            if not due:
                return shed
            victim = min(due, key=lambda r: (self.laxity_s(sim, r), r.arrival_s, r.rid))
            shed.add(victim.rid)
            del demands[victim.rid]

    def _layers(self, sim: Simulator, req: Request, accel: int, idle: bool) -> int:
        p = self.params
        assert isinstance(p, CdMsaParams)
        nxt = req.next_layer + 1
        if not (p.fuse_when_idle and idle and nxt < req.num_layers):
            return 1
        return 2 if sim.chip.best_type[req.model][nxt] == sim.chip.accel_type[accel] else 1

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """Drop hopeless, shed on overload, then least laxity first onto the fastest free unit."""
        p = self.params
        assert isinstance(p, CdMsaParams)
        out: list[Decision] = []
        live: list[Request] = []
        for req in sorted(sim.ready.values(), key=lambda r: (r.arrival_s, r.rid)):
            if p.drop_negative_laxity and self.laxity_s(sim, req) < 0:
                out.append(Drop(req))
            else:
                live.append(req)
        shed = self._shed(sim, live) if p.shed_on_overload else set()
        live.sort(key=lambda r: (r.rid in shed, self.laxity_s(sim, r), r.arrival_s, r.rid))
        free = list(sim.free_accels)
        idle = len(free) > len(live)
        for req in live[: len(free)]:
            accel = best_free_accel(sim, req, free)
            free.remove(accel)
            out.append(Dispatch(req, accel, layers=self._layers(sim, req, accel, idle)))
        return out
