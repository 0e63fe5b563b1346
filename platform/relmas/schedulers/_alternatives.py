"""The actions a rollout tries beside its base heuristic's (a helper module of ``rollout``).

Why these: the decisions worth changing in this simulator are mostly deliberate waits (a free
unit of a type on which the request would miss, while a better one frees soon), the base's
request on another unit type, and requests another ordering ranks first just before they can
no longer meet their deadline. So the candidates are exactly those, best-ranked first, and
their number stays small enough to simulate each one.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from itertools import zip_longest

from relmas.schedulers.base import Decision, best_free_accel
from relmas.schedulers.planaria import PlanariaScheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch, Request

DEPTH = 3  # top requests taken from each ordering
ORDERINGS = ("edf", "least-laxity", "planaria", "sjf")

Scored = tuple[Request, float]


def alternatives(
    sim: Simulator, option: list[Decision], planaria: PlanariaScheduler, limit: int
) -> list[tuple[str, list[Decision]]]:
    """Up to ``limit`` actions other than ``option`` (the base's), labelled by where they come
    from: ``wait`` (only while a unit is busy), ``other-type`` (the base's request on each
    other free unit type), then rank 1, 2, 3 of every ordering (``edf#1``, ...) among the
    requests that can still meet their deadline, each on its fastest free unit and on
    Planaria's feasible unit. Each is one dispatch or a wait."""
    out: list[tuple[str, list[Decision]]] = []
    first = next((d for d in option if isinstance(d, Dispatch)), None)
    seen: set[tuple[int, int]] = set()
    free, types = sim.free_accels, sim.chip.accel_type
    if first is not None:
        seen.add((first.request.rid, first.accel))
        if sim.busy:
            out.append(("wait", []))
        others = {types[a]: a for a in reversed(free) if types[a] != types[first.accel]}
        for unit in sorted(others.values()):  # the lowest-index free unit of each other type
            seen.add((first.request.rid, unit))
            out.append(("other-type", [Dispatch(first.request, unit)]))
    feasible = planaria.feasible_unit
    for rank, row in enumerate(zip_longest(*orderings(sim, planaria)), 1):
        if len(out) >= limit:
            break
        for name, r in zip(ORDERINGS, row, strict=True):
            if r is None:
                continue
            units: tuple[int | None, ...] = (best_free_accel(sim, r, free), feasible(sim, r, free))
            for a in units:
                if a is not None and (r.rid, a) not in seen:
                    seen.add((r.rid, a))
                    out.append((f"{name}#{rank}", [Dispatch(r, a)]))
    return out[:limit]


def orderings(sim: Simulator, planaria: PlanariaScheduler) -> list[list[Request]]:
    """The top :data:`DEPTH` requests that can meet their deadline, per :data:`ORDERINGS`.

    Ties break by request id, as the heap-based list schedulers do.
    """
    rank, now, best = planaria.rank, sim.now_s, sim.chip.remaining_best_s
    meet: list[Scored] = []
    for r in sim.ready.values():
        ok, score = rank(sim, r)
        if ok:
            meet.append((r, score))
    keys: list[Callable[[Scored], tuple[float, int]]] = [
        lambda rs: (rs[0].deadline_s, rs[0].rid),
        lambda rs: (rs[0].deadline_s - now - best[rs[0].model][rs[0].next_layer], rs[0].rid),
        lambda rs: (-rs[1], rs[0].rid),
        lambda rs: (best[rs[0].model][rs[0].next_layer], rs[0].rid),
    ]
    return [[r for r, _ in heapq.nsmallest(DEPTH, meet, key=key)] for key in keys]
