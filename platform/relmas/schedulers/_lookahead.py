"""Simulating a base heuristic ahead and scoring where it ends (a helper module of ``rollout``).

Why a module of its own: :mod:`relmas.schedulers.rollout` decides *what* to simulate; this module
holds *how*: the score of a simulated future (:func:`outcome`), a state fingerprint to recognise
a state seen before (:func:`fingerprint`), and :class:`Shadow`, the base heuristic's own future
kept running ahead of the real simulator so that most decisions need no new simulation at all.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from relmas.schedulers.base import Decision, Scheduler
from relmas.sim.engine import SchedulingError, Simulator
from relmas.sim.request import DONE, RUNNING, WAITING, Dispatch, Drop

Fingerprint = tuple[float, int, int, int, int, tuple[int, ...]]
CHECK_EVERY = 8  # decisions between two upper-bound checks of a candidate's rollout


def fingerprint(sim: Simulator) -> Fingerprint:
    """What tells two decision points of one run apart: time, arrivals, layers started, the
    ready set (size and id sum) and which request runs on each unit. Cheap: O(units) plus a
    C-level sum; equal fingerprints on the same trace mean the same state for a scheduler."""
    return (
        sim.now_s,
        len(sim.requests),
        sim.dispatches,
        len(sim.ready),
        sum(sim.ready),
        tuple(-1 if r is None else r.rid for r in sim.accel_request),
    )


def after(fp: Fingerprint, decisions: Sequence[Decision]) -> Fingerprint:
    """The fingerprint ``decisions`` (drops and one dispatch) lead to at the same instant."""
    now, arrived, started, n_ready, rid_sum, running = fp
    units = list(running)
    for d in decisions:
        n_ready -= 1
        rid_sum -= d.request.rid
        if isinstance(d, Dispatch):
            started += 1
            units[d.accel] = d.request.rid
    return (now, arrived, started, n_ready, rid_sum, tuple(units))


def live_rids(sim: Simulator) -> list[int]:
    """Requests arrived and not finished: the ones a decision now can still help."""
    return [*sim.ready, *(r.rid for r in sim.accel_request if r is not None)]


def scored(sim: Simulator, end_s: float, clairvoyant: bool) -> tuple[list[int], int]:
    """The requests a rollout to ``end_s`` is scored on, and the best score possible on them:
    the live ones, plus (``clairvoyant``: the oracle) the arrivals before ``end_s``."""
    rids = live_rids(sim)
    ceiling = outcome(sim, rids)
    if clairvoyant:
        first = len(sim.requests)
        last = bisect_right(sim.specs, end_s, lo=first, key=lambda s: s.arrival_s)
        iso = sim.chip.isolated_latency_s
        for s in sim.specs[first:last]:
            ceiling += s.arrival_s + iso[s.model] <= s.deadline_s
        rids += range(first, last)
    return rids, ceiling


def outcome(sim: Simulator, rids: Iterable[int], now_s: float | None = None) -> int:
    """How many of ``rids`` met their deadline or can still meet it from ``sim``'s state.

    "Can still" is best-case: a waiting request's next layer starts on the unit that would end
    it first (a free one, or a busy one once its layer ends) and the rest run at the fastest
    type's isolated latency; a running layer ends after its remaining work at its unit's
    isolated speed. Contention and other requests only delay that, so the count never grows
    as time passes (up to rounding): it bounds every later score from above. ``now_s`` (later
    than ``sim.now_s``) scores a simulator that stopped early, as if it had idled until then.
    """
    now = sim.now_s if now_s is None or now_s < sim.now_s else now_s
    chip, reqs = sim.chip, sim.requests
    best, lat = chip.remaining_best_s, chip.latency_s
    left = left_s(sim)
    free_at = [math.inf] * chip.num_types  # per type: the earliest a unit of it can start
    for a, t in enumerate(chip.accel_type):
        if left[a] < free_at[t]:
            free_at[t] = left[a]
    pairs = free_at if len(free_at) == 2 else None  # the usual two types: min() unrolled
    n = 0
    arrived = len(reqs)
    for rid in rids:
        if rid >= arrived:  # the oracle's future arrival, not yet there: as good as it can be
            spec = sim.specs[rid]
            n += spec.arrival_s + chip.isolated_latency_s[spec.model] <= spec.deadline_s
            continue
        r = reqs[rid]
        state = r.state
        if state == WAITING:
            row, layer = lat[r.model], r.next_layer
            if pairs is not None:
                x, y = pairs[0] + row[0][layer], pairs[1] + row[1][layer]
                first = x if x <= y else y
            else:
                first = min(f + row[t][layer] for t, f in enumerate(free_at))
            n += now + first + best[r.model][layer + 1] <= r.deadline_s
        elif state == RUNNING:
            n += now + left[r.accel] + best[r.model][r.next_layer + 1] <= r.deadline_s
        elif state == DONE:
            n += r.finish_s <= r.deadline_s
    return n


def left_s(sim: Simulator) -> list[float]:
    """Per unit, a lower bound on the time until it is free: its running layer's remaining
    work at the unit's isolated speed (0 when idle)."""
    chip = sim.chip
    left = [0.0] * chip.num_accels
    if not sim.busy:
        return left
    work = sim.remaining_work_s
    for a in sim.busy:
        r = sim.accel_request[a]
        assert r is not None  # a busy unit runs a request
        m, layer, ty = r.model, r.next_layer, chip.accel_type[a]
        compute = chip.compute_s[m][ty][layer]
        left[a] = work[a] * chip.latency_s[m][ty][layer] / compute if compute > 0 else 0.0
    return left


def on(sim: Simulator, decisions: Sequence[Decision]) -> list[Decision]:
    """The same decisions for ``sim``'s request objects (a clone's, or the original's)."""
    reqs = sim.requests
    out: list[Decision] = []
    for d in decisions:
        r = reqs[d.request.rid]
        if isinstance(d, Dispatch):
            out.append(Dispatch(r, d.accel, d.layers, d.bandwidth_cap_bytes_per_s))
        else:
            out.append(Drop(r))
    return out


def apply_first(clone: Simulator, decisions: Sequence[Decision]) -> None:
    """Apply ``decisions`` (made on the original) to its snapshot ``clone`` before a rollout,
    and restart the clone's ready log as the requests ready now, as a snapshot does: a base
    reading the log from here on would otherwise see a request dispatched here as ready at
    its next layer."""
    clone.apply(on(clone, decisions))
    clone.ready_log = list(clone.ready.values())


def advance(sim: Simulator) -> bool:
    """``sim.advance()``, or False where a clone without future arrivals cannot go on.

    A non-clairvoyant clone knows no future arrival, so a wait the original may make (a unit is
    free, nothing runs, the next request is yet to come) would wait forever there.
    """
    try:
        return sim.advance()
    except SchedulingError:
        return False


def roll(
    sim: Simulator, base: Scheduler, end_s: float, rids: Sequence[int], beat: float = -1.0
) -> tuple[int, bool]:
    """Run ``base`` on ``sim`` to the first decision point at or after ``end_s`` and return the
    :func:`outcome` there, and False; or stop early, returning the outcome so far and True,
    once that shows the end cannot score above ``beat`` (checked every :data:`CHECK_EVERY`
    decisions: the outcome never grows, so it bounds the final score from above).

    A run that ends (or gets stuck) before ``end_s`` is scored as if it idled until then.
    """
    decide, apply = base.decide, sim.apply
    k = 0
    while advance(sim):
        if sim.now_s >= end_s:
            return outcome(sim, rids), False
        k += 1
        if k == CHECK_EVERY:
            k = 0
            bound = outcome(sim, rids)
            if bound <= beat:
                return bound, True
        apply(decide(sim))
    return outcome(sim, rids, end_s), False


@dataclass(frozen=True, slots=True)
class Record:
    """The base's batch at one decision point of a shadow, and its generator state after."""

    fp: Fingerprint
    batch: list[Decision]
    rng: np.random.Generator | None


class Shadow:
    """The base heuristic running ahead of the real simulator, from a snapshot.

    While the real run follows the base (and, without clairvoyance, nothing arrives), it walks
    through exactly the shadow's decision points: the base's decision at the real state is the
    shadow's record there, and the base's future from it is the shadow's future. So instead of
    a new snapshot and a new simulation per decision, the shadow only extends by the simulated
    time the real run advanced. The result is bit-identical to a fresh rollout (tests).
    """

    __slots__ = ("base", "done", "records", "sim", "track_rng")

    def __init__(self, sim: Simulator, base: Scheduler, track_rng: bool) -> None:
        self.sim, self.base, self.track_rng = sim, base, track_rng
        self.records: deque[Record] = deque()
        self.done = not advance(sim)

    def _step(self) -> None:
        """Decide at the paused decision point, record it, and move to the next one."""
        sim, base = self.sim, self.base
        fp = fingerprint(sim)
        batch = list(base.decide(sim))
        rng = copy.deepcopy(base.rng) if self.track_rng else None
        sim.apply(batch)
        self.records.append(Record(fp, batch, rng))
        self.done = not advance(sim)

    def next_record(self) -> Record | None:
        """The base's batch at the next decision point of the real run (None: none left)."""
        if not self.records:
            if self.done:
                return None
            self._step()
        return self.records.popleft()

    def score(self, end_s: float, rids: Sequence[int]) -> int:
        """:func:`outcome` at the first decision point at or after ``end_s``."""
        sim = self.sim
        while not self.done and sim.now_s < end_s:
            self._step()
        return outcome(sim, rids, end_s if self.done else None)
