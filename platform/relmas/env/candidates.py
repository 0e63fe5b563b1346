"""Incremental candidate orderings: the strong heuristics' top picks without sorting the queue.

Why: under overload ~20-80 requests wait, and sorting them at every env step cost a quarter of
the step. Static keys (SJF remaining time, EDF deadline, least laxity) never change while a
request waits, so each gets a heap fed by the engine's ``ready_log`` (as
:class:`relmas.schedulers.base.OrderingScheduler` does); stale entries (dispatched, or a later
layer) are skipped lazily. Planaria's score depends on ``now``, but only for requests that can
still meet their deadline -- on ``heavy`` about 4-5 of them -- and once a request cannot meet its
deadline its Planaria rank is static; Planaria's own incremental queue
(:meth:`PlanariaScheduler.meetable` / :meth:`~PlanariaScheduler.late`) keeps exactly that, so
the env reads it rather than keeping a second copy. All orders come from the schedulers
themselves (``key``, Planaria's queue, ``feasible_unit``), never copied formulas, so the flags
mean exactly what the heuristics do.

:meth:`Orderings.planaria_choice` is Planaria's first dispatch at this state (or ``None``: it
would wait); applying it and re-asking reproduces Planaria's whole decision, which the tests
check against :class:`~relmas.schedulers.planaria.PlanariaScheduler` itself.
"""

from __future__ import annotations

from bisect import insort
from itertools import zip_longest

from relmas.schedulers.base import best_free_accel
from relmas.schedulers.edf import EdfScheduler
from relmas.schedulers.least_laxity import LeastLaxityScheduler
from relmas.schedulers.planaria import PlanariaScheduler
from relmas.schedulers.sjf import SjfScheduler
from relmas.sim.engine import Simulator
from relmas.sim.ready_log import ReadyLogCursor
from relmas.sim.request import WAITING, Request

ORDERINGS = ("planaria", "sjf", "least-laxity", "edf")  # column order of the rank flags
Entry = tuple[float, int, int, Request]


class SortedEntries:
    """Entries kept sorted (``bisect.insort``), with stale ones deleted when a scan meets them.

    Why not a heap: reading the top ``n`` of a heap means popping and re-pushing them at every
    step (~20 O(log n) Python-level calls for n = 8), which cost more than the sort it replaced.
    A sorted Python list inserts with one C-level memmove and reads its top by a short scan;
    stale entries (dispatched, dropped, or a later layer) sit near the front because the
    policy mostly runs top-ranked requests, so the scan deletes them almost immediately.
    """

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def push(self, entry: Entry) -> None:
        """Add an entry (a request ready at layer ``entry[2]``)."""
        insort(self.entries, entry)

    def compact(self, live: int) -> None:
        """Drop every stale entry once they outnumber the ``live`` ones 3:1 (amortised O(1))."""
        entries = self.entries
        if len(entries) > 4 * live + 32:
            entries[:] = [e for e in entries if e[3].state == WAITING and e[3].next_layer == e[2]]

    def top(self, n: int) -> list[Request]:
        """The ``n >= 1`` smallest valid entries' requests, in order; stale ones met are deleted.

        Deleting after the scan (highest index first) leaves the same list as deleting during
        it, and lets the scan be a plain ``for`` loop.
        """
        entries, out, stale = self.entries, [], []
        for i, (_, _, layer, r) in enumerate(entries):
            if r.state == WAITING and r.next_layer == layer:
                out.append(r)
                if len(out) == n:
                    break
            else:
                stale.append(i)
        for i in reversed(stale):
            del entries[i]
        return out


class Orderings:
    """Per-simulator incremental state of the SJF / least-laxity / EDF heaps and Planaria's rank."""

    def __init__(self, depth: int, planaria: PlanariaScheduler | None = None) -> None:
        self.depth = depth
        self._planaria = planaria or PlanariaScheduler()
        self._static = (SjfScheduler(), LeastLaxityScheduler(), EdfScheduler())
        self._cursor = ReadyLogCursor()
        self._clear()

    def _clear(self) -> None:
        """Forget everything about the previous simulator (Planaria's queue restarts itself)."""
        self._heaps = tuple(SortedEntries() for _ in self._static)
        self._keyed = [(s.key, h.entries) for s, h in zip(self._static, self._heaps, strict=True)]
        self._ranked: list[Request] = []
        self._ranked_at = -1.0  # ``now`` of the last full re-scoring

    def _sync(self, sim: Simulator) -> None:
        """Push the requests that became ready since the last call."""
        for r in self._cursor.take(sim):
            rid, layer = r.rid, r.next_layer
            for key, entries in self._keyed:
                insort(entries, (key(sim, r), rid, layer, r))
        limit = 4 * len(sim.ready) + 32  # the test of ``compact``, inlined: it rarely fires
        for heap in self._heaps:
            if len(heap.entries) > limit:
                heap.compact(len(sim.ready))

    def update(self, sim: Simulator) -> None:
        """Bring the orderings to the simulator's current state (call once per decision).

        Several dispatches often happen at one instant; then nothing became ready and no score
        moved, so Planaria's order is the previous one minus the requests just dispatched.
        """
        cursor = self._cursor
        if cursor.restarted(sim):  # another simulator, or this one after reset()
            self._clear()
        elif sim.now_s == self._ranked_at and not cursor.pending(sim):
            self._ranked = [r for r in self._ranked if r.state == WAITING]
            return
        self._sync(sim)
        self._ranked = self._planaria.meetable(sim)
        self._ranked_at = sim.now_s

    def top(self) -> list[list[Request]]:
        """Top ``depth`` ready requests of each of :data:`ORDERINGS` (after :meth:`update`)."""
        n, (sjf, laxity, edf) = self.depth, self._heaps
        planaria = self._ranked[:n]
        if len(planaria) < n:
            planaria += self._planaria.late(n - len(planaria))
        return [planaria, sjf.top(n), laxity.top(n), edf.top(n)]

    def planaria_choice(self, sim: Simulator) -> tuple[Request, int] | None:
        """Planaria's first dispatch ``(request, unit)`` now, or ``None`` if it would wait."""
        free = sim.free_accels
        feasible = self._planaria.feasible_unit
        for r in self._ranked:
            a = feasible(sim, r, free)
            if a is not None:
                return r, a
        late = self._planaria.late(1)
        if late:
            return late[0], best_free_accel(sim, late[0], free)
        if self._ranked and not sim.can_wait():  # Planaria's anti-deadlock fallback
            return self._ranked[0], best_free_accel(sim, self._ranked[0], free)
        return None


def interleave(
    choice: tuple[Request, int] | None, tops: list[list[Request]], k: int, weights: list[float]
) -> dict[Request, list[float]]:
    """Up to ``k`` candidates, in order, each with its flag row (the ``heuristic`` rule).

    Planaria's choice first, then rank ``j`` of every ordering for ``j = 0, 1, ...``; a flag row
    is [is Planaria's choice, then per ordering ``weights[rank]`` or 0]. The rows are built in
    the same pass (one dict lookup per pick), as this runs at every env step; ``zip_longest``
    walks rank ``j`` of every ordering at once (``None``: that ordering is shorter).
    """
    n_flags = 1 + len(tops)
    picked: dict[Request, list[float]] = {}  # insertion order is the candidate order
    if choice is not None:
        picked[choice[0]] = [1.0] + [0.0] * (n_flags - 1)
    full = len(picked) >= k
    for w, rank_j in zip(weights, zip_longest(*tops), strict=False):
        for o, r in enumerate(rank_j, 1):
            if r is None:
                continue
            flags = picked.get(r)
            if flags is None:
                if full:
                    continue
                flags = picked[r] = [0.0] * n_flags
                full = len(picked) >= k
            flags[o] = w
    return picked


class DeadlineWorkOrderings:
    """Heaps for the ``deadline`` and ``mixed`` rules: earliest deadline, least remaining work.

    Ties break as the old sort-based selection did in practice (deadline, then arrival id), so
    the observations of these rules are unchanged; only the per-step sort of the queue is gone.
    """

    def __init__(self, top_k: int) -> None:
        self.top_k = top_k
        self._cursor = ReadyLogCursor()
        self._clear()

    def _clear(self) -> None:
        self._edf = SortedEntries()
        self._work = SortedEntries()

    def _sync(self, sim: Simulator) -> None:
        if self._cursor.restarted(sim):
            self._clear()
        best = sim.chip.remaining_best_s
        for r in self._cursor.take(sim):
            self._edf.push((r.deadline_s, r.rid, r.next_layer, r))
            work = (best[r.model][r.next_layer], r.deadline_s)
            self._work.push((work, r.rid, r.next_layer, r))  # type: ignore[arg-type]
        self._edf.compact(len(sim.ready))
        self._work.compact(len(sim.ready))

    def select(self, sim: Simulator, mixed: bool) -> list[Request]:
        """``top_k`` earliest deadlines, or (``mixed``) half of them plus the least work."""
        self._sync(sim)
        k = self.top_k
        if not mixed or len(sim.ready) <= k:
            return self._edf.top(k)
        n_deadline = (k + 1) // 2
        first = self._edf.top(n_deadline)
        taken = {r.rid for r in first}
        rest = [r for r in self._work.top(k) if r.rid not in taken]
        return first + rest[: k - n_deadline]
