"""The base heuristic's own future, as a feature: which live requests it is about to lose.

Why: the rollout teacher (:mod:`relmas.schedulers.rollout`) departs from its base heuristic in
well under 1% of the decisions on ``heavy``, and only where the base's own rollout loses a
request that could still meet its deadline (elsewhere its early exit keeps the base's action).
A student that sees only the current state cannot tell those states apart from the many where
the base is right (docs/rl.md, "Where it loses": more weight on the departures buys more wrong
actions elsewhere). This module simulates one future, the base's, the way the teacher scores
its option 0, and reports per request its best-case slack where that future ends, and how many
live requests the future loses. The student still has to choose the departure itself: the
outlook says *that* the base loses requests, not which other action would save them.

Cost: the base's future is a :class:`~relmas.schedulers._lookahead.Shadow` kept running ahead,
so while the run follows the base each decision costs one base decision of the shadow, not a
new simulation; a departure (or a wait the base would not make) rebuilds it from a snapshot.
A base that dispatches several requests at once is followed one dispatch at a time, as the
rollout scheduler does. Values are identical to a fresh simulation from the current state
(tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from relmas.schedulers import _lookahead as la
from relmas.schedulers.base import Decision, Scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import DONE, RUNNING, WAITING, Dispatch


def best_finish_s(sim: Simulator, rids: Sequence[int], now_s: float) -> list[float]:
    """Per request of ``rids``, the earliest it can finish from ``sim``'s state at ``now_s``:
    the same best case as :func:`relmas.schedulers._lookahead.outcome` (its finish time when
    done, ``inf`` when dropped or not yet arrived)."""
    chip, reqs = sim.chip, sim.requests
    best, lat = chip.remaining_best_s, chip.latency_s
    now = max(now_s, sim.now_s)
    left = la.left_s(sim)
    free_at = [math.inf] * chip.num_types
    for a, t in enumerate(chip.accel_type):
        free_at[t] = min(free_at[t], left[a])
    out: list[float] = []
    for rid in rids:
        r = reqs[rid] if rid < len(reqs) else None
        state = r.state if r is not None else -1
        if r is None or state not in (WAITING, RUNNING, DONE):
            out.append(math.inf)
        elif state == WAITING:
            row, layer = lat[r.model], r.next_layer
            first = min(f + row[t][layer] for t, f in enumerate(free_at))
            out.append(now + first + best[r.model][layer + 1])
        elif state == RUNNING:
            out.append(now + left[r.accel] + best[r.model][r.next_layer + 1])
        else:
            out.append(r.finish_s)
    return out


class BaseOutlook:
    """The base heuristic's future from the current state, ``horizon_s`` ahead.

    Call :meth:`at` at every decision point of one run, in order, and :meth:`taken` with the
    action applied after it. A departure from the base starts a new shadow at the next call;
    so does a state whose fingerprint the shadow did not reach (a new run, an arrival the
    snapshot could not know). The fingerprint alone is not enough: two requests of the same
    model at the same layer, swapped, lead to equal fingerprints and different futures.

    ``base`` must rebuild its state from the simulator at ``reset`` and draw no random
    numbers (the rollout's ``REBUILT`` heuristics but ``random``): it is reset on every new
    snapshot and asked only there, never on the real run.
    """

    def __init__(self, base: Scheduler, horizon_s: float) -> None:
        if horizon_s <= 0:
            raise ValueError("horizon_s must be > 0")
        self.base, self.horizon_s = base, horizon_s
        self._shadow: la.Shadow | None = None
        self._pending: tuple[la.Fingerprint, list[Decision]] | None = None
        self._expected: tuple[int, int] | None = None  # the base's (request id, unit), or wait
        self._followed: bool | None = None  # None: no action reported since the last call
        self.rebuilds = 0  # shadows started (a cost counter for benches and tests)
        # The last :meth:`at`'s horizon end, live requests and how many of them the base's
        # future keeps: the base action's score for a search among actions (relmas.rl.search).
        self.last: tuple[float, list[int], int] | None = None

    def taken(self, rid: int | None, accel: int | None) -> None:
        """Report the action applied after the last :meth:`at`: a dispatch of request ``rid``
        on unit ``accel``, or ``None, None`` for a wait."""
        self._followed = (rid, accel) == (self._expected or (None, None))

    def at(self, sim: Simulator, rids: Sequence[int]) -> tuple[list[float], int]:
        """Best-case finish time of each of ``rids`` where the base's future ends, and how many
        live requests that can still meet their deadline now the base's future loses."""
        fp = la.fingerprint(sim)
        self._follow(sim, fp)
        shadow = self._shadow
        assert shadow is not None
        end = sim.now_s + self.horizon_s
        live, ceiling = la.scored(sim, end, clairvoyant=False)
        kept = shadow.score(end, live)
        self.last = (end, live, kept)
        at_s = end if shadow.done else shadow.sim.now_s
        return best_finish_s(shadow.sim, rids, at_s), max(ceiling - kept, 0)

    def _follow(self, sim: Simulator, fp: la.Fingerprint) -> None:
        """Keep the shadow at ``sim``'s state: reuse it if the run followed the base."""
        if self._followed is False:
            self._shadow = self._pending = None
        self._followed = None
        pending = self._pending
        if pending is not None and pending[0] == fp and pending[1]:
            self._expect(fp, pending[1])  # the rest of the base's batch, one at a time
            return
        shadow = self._shadow
        record = shadow.next_record() if shadow is not None else None
        if record is None or record.fp != fp:
            clone = sim.snapshot()
            self.base.reset(clone, np.random.default_rng(0))
            shadow = self._shadow = la.Shadow(clone, self.base, track_rng=False)
            self.rebuilds += 1
            record = shadow.next_record()
            assert record is not None  # sim is at a decision point, so is its snapshot
        self._expect(fp, la.on(sim, record.batch))

    def _expect(self, fp: la.Fingerprint, batch: list[Decision]) -> None:
        """After the base's next dispatch (with its drops), the rest of its batch is its
        decision at the same instant."""
        option: list[Decision] = [d for d in batch if not isinstance(d, Dispatch)]
        dispatches: list[Decision] = [d for d in batch if isinstance(d, Dispatch)]
        option += dispatches[:1]
        self._pending = (la.after(fp, option), dispatches[1:])
        first = dispatches[0] if dispatches else None
        self._expected = (first.request.rid, first.accel) if isinstance(first, Dispatch) else None
