"""BaseOutlook: the base heuristic's future, kept running ahead, equals a fresh simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.unit.schedulers.test_rollout import _sim

from relmas.schedulers import make_scheduler
from relmas.schedulers._lookahead import live_rids, outcome
from relmas.schedulers.outlook import BaseOutlook
from relmas.sim import Simulator
from relmas.sim.request import Dispatch

HORIZON_S = 3.0


def _fresh(sim: Simulator, base: str, rids: list[int]) -> tuple[list[float], int]:
    """The same values from a new snapshot rolled by a new base (no reuse)."""
    return BaseOutlook(make_scheduler(base), HORIZON_S).at(sim, rids)


def _drive(sim: Simulator, base: str, depart_every: int, check: bool) -> BaseOutlook:
    """Follow ``base`` (through a one-candidate rollout, which replays a batch one dispatch at
    a time and copes with departures), but wait instead every ``depart_every``-th decision
    where waiting is allowed; when ``check``, compare the reused outlook with a fresh one at
    every decision point."""
    outlook = BaseOutlook(make_scheduler(base), HORIZON_S)
    follower = make_scheduler("rollout", {"base": base, "base_params": {}, "max_candidates": 1})
    follower.reset(sim, np.random.default_rng(0))
    k = 0
    while sim.advance():
        rids = live_rids(sim)
        got = outlook.at(sim, rids)
        if check:
            assert got == _fresh(sim, base, rids), (sim.now_s, k)
        k += 1
        batch = [] if k % depart_every == 0 and sim.can_wait() else follower.decide(sim)
        first = next((d for d in batch if isinstance(d, Dispatch)), None)
        outlook.taken(*((first.request.rid, first.accel) if first else (None, None)))
        sim.apply(batch)
    return outlook


@pytest.mark.parametrize("base", ["planaria", "sjf", "edf"])
def test_running_ahead_equals_a_fresh_simulation_at_every_decision(base: str) -> None:
    for seed in (0, 1, 2):
        _drive(_sim(seed, drop=seed == 2), base, depart_every=5, check=True)


def test_following_the_base_reuses_the_shadow() -> None:
    """Without future arrivals in its snapshot, the shadow must restart at most once per
    arrival while the run follows the base; departures restart it more often."""
    for seed in (0, 1):
        following = _drive(_sim(seed), "planaria", depart_every=10**9, check=False).rebuilds
        departing = _drive(_sim(seed), "planaria", depart_every=3, check=False).rebuilds
        assert following <= len(_sim(seed).specs) < departing


def test_lost_counts_requests_the_base_future_loses() -> None:
    sim = _sim(1)
    seen_loss = False
    base = make_scheduler("fcfs")
    base.reset(sim, np.random.default_rng(0))
    while sim.advance():
        rids = live_rids(sim)
        finish, lost = BaseOutlook(make_scheduler("fcfs"), HORIZON_S).at(sim, rids)
        meetable = outcome(sim, rids)
        assert 0 <= lost <= meetable
        late = sum(f > sim.requests[r].deadline_s for r, f in zip(rids, finish, strict=True))
        assert lost <= late  # a request the future loses finishes (best case) after its deadline
        assert all(not math.isnan(f) for f in finish)
        seen_loss |= lost > 0
        sim.apply(base.decide(sim))
    assert seen_loss


def test_horizon_must_be_positive() -> None:
    with pytest.raises(ValueError, match="horizon_s"):
        BaseOutlook(make_scheduler("planaria"), 0.0)
