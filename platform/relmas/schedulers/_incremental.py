"""Planaria's order of the ready queue, kept incrementally (a helper module, not a scheduler).

Why: Planaria re-sorts the whole queue at every decision, ~20-80 requests under overload, and a
lookahead scheduler (``rollout``) runs Planaria hundreds of times per decision. Only the score of
a request that can still meet its deadline depends on ``now``; once a waiting request cannot
meet it, it never can again (its slack only shrinks while its remaining work stays), and its
score ``-p / rem`` is fixed until it runs its next layer. So the meetable few (about 4-5 on
``heavy``) are re-scored at every decision and the others sit in a list sorted once, read from
the front. Scores are :meth:`PlanariaScheduler.rank`'s expressions, and both parts are ordered by
the same keys as the full sort, so the decisions are bit-identical (tests compare the two).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable

from relmas.sim.engine import Simulator
from relmas.sim.ready_log import ReadyLogCursor
from relmas.sim.request import WAITING, Request

Weight = Callable[[Request], float]


class RankedQueue:
    """The ready requests in Planaria's (relmas form) order, meetable ones first.

    The full sort orders by ``(meets, score, -rid)``, largest first. Here the meetable ones are
    sorted by ``(-score, rid)`` at each call and the late ones are kept sorted by
    ``(-score, rid)``: the same order, as negation is exact and ``rid`` is unique.
    """

    __slots__ = ("_cursor", "_late", "_meetable")

    def __init__(self) -> None:
        self._cursor = ReadyLogCursor()
        self._meetable: dict[int, tuple[Request, int, float, float]] = {}
        self._late: list[tuple[float, int, int, Request]] = []

    def meetable(self, sim: Simulator, weight: Weight, tiny_s: float) -> list[Request]:
        """The waiting requests that can meet their deadline now, best score first.

        Moves the ones that no longer can to the late list. Call once per decision, first.
        The scores are :meth:`PlanariaScheduler.rank`'s expressions, with the weight and the
        remaining time (fixed while a request waits) computed once per layer.
        """
        cursor, pool = self._cursor, self._meetable
        if cursor.restarted(sim):  # another simulator, a snapshot, or this one after reset()
            pool.clear()
            self._late = []
        best = sim.chip.remaining_best_s
        for r in cursor.take(sim):
            rem_s = max(best[r.model][r.next_layer], tiny_s)
            pool[r.rid] = (r, r.next_layer, weight(r), rem_s)
        now = sim.now_s
        scored: list[tuple[float, int, Request]] = []
        gone: list[int] = []
        for r, layer, w, rem_s in pool.values():
            if r.state != WAITING or r.next_layer != layer:
                gone.append(r.rid)
                continue
            slack_s = r.deadline_s - now
            if rem_s <= slack_s:
                scored.append((-(w / (slack_s * rem_s)), r.rid, r))
            else:  # late for good (for this layer)
                gone.append(r.rid)
                insort(self._late, (-(-w / rem_s), r.rid, layer, r))
        for rid in gone:  # after the scan: a dict cannot shrink while it is iterated
            del pool[rid]
        if len(self._late) > 4 * len(sim.ready) + 32:  # stale entries (e.g. dropped) pile up
            self._late = [e for e in self._late if _valid(e)]
        scored.sort()
        return [r for _, _, r in scored]

    def late(self, n: int) -> list[Request]:
        """The first ``n`` waiting requests that cannot meet their deadline, in Planaria's order.

        Stale entries met on the way (dispatched, dropped, or at a later layer) are deleted,
        after the scan, highest index first.
        """
        entries, stale = self._late, []
        out: list[Request] = []
        for i, entry in enumerate(entries):
            if len(out) == n:
                break
            if _valid(entry):
                out.append(entry[3])
            else:
                stale.append(i)
        for i in reversed(stale):
            del entries[i]
        return out


def _valid(entry: tuple[float, int, int, Request]) -> bool:
    """Whether a late entry still describes a waiting request at the same layer."""
    r = entry[3]
    return r.state == WAITING and r.next_layer == entry[2]
