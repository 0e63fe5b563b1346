"""How running layers progress: DRAM bandwidth shares, remaining work and layer ends.

Why a separate part of the engine: this is the only code whose cost could grow with the number
of running layers. Under the ``proportional`` policy (the default) it keeps the layers in two
:mod:`~relmas.sim.lanes` (with DRAM traffic: one common rate; without: full speed), so a start,
a finish and the next-end search are O(log n). ``maxmin`` and ``capped`` give every layer its
own rate, recomputed at each change of the running set, so they keep the direct O(n) loops.
Both paths perform the same floating-point operations as the original eager loop, which
subtracted ``rate * dt`` from every running layer at every event.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

from relmas.sim import lanes
from relmas.sim.bandwidth import BandwidthPolicy
from relmas.sim.chip import Chip
from relmas.sim.lanes import KEY_TOL, Lane, replay
from relmas.sim.request import RUNNING, Request

APPROX_STARTS: Final = 512  # layer starts after which the running demand sum is recomputed exactly


def demand_limit(bandwidth: float, num_accels: int, max_demand: float) -> float:
    """The running demand sum below which the exact sum is surely below ``bandwidth``.

    Why: the exact left-to-right sum is O(n) per event, the DRAM is oversubscribed only a small
    part of the time, and below the bandwidth every layer runs at full speed whatever the exact
    sum is, so the engine computes it only when the running sum is not clearly below.

    The running sum and the exact left-to-right sum each differ from the true sum by at most
    one rounding per addition, each at most 2**-53 of a partial sum <= ``num_accels`` x
    ``max_demand``: <= 2 x APPROX_STARTS updates since the last exact sum, plus ``num_accels``
    additions in the exact sum. Twice that is kept as margin.
    """
    updates = 2 * (2 * APPROX_STARTS + 2 * num_accels + 4)
    return bandwidth - updates * 2.0**-53 * num_accels * max_demand


class Progress:
    """Base of :class:`~relmas.sim.engine.Simulator` (via ``Lifecycle``): the running layers'
    state and views."""

    chip: Chip
    now_s: float
    accel_request: list[Request | None]
    demand_bytes_per_s: list[float]
    bandwidth_cap_bytes_per_s: list[float]
    layer_start_s: list[float]
    _share: BandwidthPolicy
    _prop: bool
    _rem: list[float]  # full-speed work left; under proportional, as of _mark in its lane's log
    _mark: list[int]
    _lanes: tuple[Lane, Lane]  # (layers with DRAM traffic, layers without)
    _busy: dict[int, float]  # busy unit -> its layer's demand, in ``busy`` order
    _rate: list[float]
    _stale_rates: bool
    _dram_demand: float | None
    _approx_demand: float  # the demand sum kept by + and -: cheap, off by a bounded error
    _approx_starts: int
    _demand_limit: float
    _bw: float

    def _reset_progress(self, n: int, proportional: bool) -> None:
        self._prop = proportional
        self._rem = [0.0] * n
        self._mark = [0] * n
        self._lanes = (Lane(1.0), Lane(1.0))
        self._rate = [0.0] * n  # fraction of full speed (per unit; under proportional, by rates())
        self._stale_rates = False
        self._dram_demand = None
        self._approx_demand = 0.0
        self._approx_starts = 0

    # ----------------------------------------------------------------- views
    @property
    def remaining_work_s(self) -> list[float]:
        """Per busy unit, the full-speed seconds left of its running layer (idle: stale)."""
        if self._prop:
            rem, mark = self._rem, self._mark
            for lane in self._lanes:
                log, n = lane.log, len(lane.log)
                for a in lane.units:
                    if mark[a] != n:  # lanes.sync(), inlined: the env reads every unit each step
                        rem[a], mark[a] = replay(log, mark[a], rem[a]), n
        return self._rem

    def rates(self) -> list[float]:
        """Per unit, the fraction of full speed granted now (busy units only): one refresh for a
        reader of every unit (the env), not one per ``busy_remaining_s`` / ``granted_...`` call."""
        self._refresh_rates()
        if self._prop:
            rate, demand, scale = self._rate, self.demand_bytes_per_s, self._lanes[0].rate
            for a in self._busy:
                rate[a] = scale if demand[a] > 0 else 1.0
        return self._rate

    def busy_remaining_s(self, accel: int) -> float:
        """Time until the running layer on ``accel`` ends at the current bandwidth shares."""
        if self.accel_request[accel] is None:
            return 0.0
        self._refresh_rates()
        if not self._prop:
            return self._rem[accel] / self._rate[accel]
        lane = self._lanes[0] if self.demand_bytes_per_s[accel] > 0 else self._lanes[1]
        return lanes.sync(lane, accel, self._rem, self._mark) / lane.rate

    def granted_bandwidth_bytes_per_s(self, accel: int) -> float:
        """DRAM bandwidth currently granted to ``accel``."""
        if self.accel_request[accel] is None:
            return 0.0
        self._refresh_rates()
        demand = self.demand_bytes_per_s[accel]
        if not self._prop:
            return self._rate[accel] * demand
        return (self._lanes[0].rate if demand > 0 else 1.0) * demand

    @property
    def dram_demand_bytes_per_s(self) -> float:
        """Sum of the running layers' bandwidth demands (can exceed the capacity).

        Summed in ``busy`` order, as a fresh ``sum`` over the running units would, and cached
        until the running set changes.
        """
        total = self._dram_demand
        if total is None:
            total = self._dram_demand = self._approx_demand = sum(self._busy.values())
            self._approx_starts = 0
        return total

    # ----------------------------------------------------------------- engine side
    def _start_layer(self, a: int, req: Request) -> None:
        """Run ``req``'s next layer on ``a``: a new entry at the end of ``busy``, or the next
        layer of a block on a unit that keeps its place in ``busy``."""
        chip, m, layer = self.chip, req.model, req.next_layer
        ty = chip.accel_type[a]
        req.state = RUNNING
        req.accel = a
        self.accel_request[a] = req
        demand = self.demand_bytes_per_s[a] = chip.demand_bytes_per_s[m][ty][layer]
        self._dram_demand = None
        busy = self._busy
        before = busy.get(a)
        busy[a] = demand  # a unit already busy keeps its place
        self._approx_demand += demand if before is None else demand - before
        self._approx_starts += 1
        self.layer_start_s[a] = self.now_s
        work = chip.compute_s[m][ty][layer]
        if not self._prop:
            self._rem[a] = work
            return
        lane = self._lanes[0] if demand > 0 else self._lanes[1]
        keys, v = lane.keys, lane.v
        key = v + work
        tol = KEY_TOL * (v + key)
        pos = bisect_right(keys, key - tol)  # keys[pos:] are above key - tol
        if pos < len(keys) and keys[pos] < key + tol:  # a key too close to call: rank it exactly
            lanes.insert(lane, a, work, self._rem, self._mark)
            return
        self._rem[a] = work
        self._mark[a] = len(lane.log)
        lane.units.insert(pos, a)
        keys.insert(pos, key)

    def _more_finished(self, finished: list[int], t0: float, t: float) -> list[int]:
        """Add the full-speed lane's finished layers and put them all in ``busy`` order."""
        z_lane = self._lanes[1]
        if z_lane.units:
            finished = finished + lanes.advance(z_lane, t0, t, self._rem, self._mark)
        if len(finished) > 1:
            finished.sort(key=list(self._busy).index)
        return finished

    def _next_end_s(self, t: float) -> float:
        """``min(t, earliest projected end of a running layer)`` under a per-layer rate policy."""
        now, rem, rate = self.now_s, self._rem, self._rate
        for a in self._busy:
            end = now + rem[a] / rate[a]  # the same expression _progress_general tests
            if end < t:
                t = end
        return t

    def _progress_general(self, t0: float, t: float) -> list[int]:
        """Advance every running layer from ``t0`` to ``t``; the ones ending, in ``busy`` order."""
        finished = []
        rem, rate, dt = self._rem, self._rate, t - t0
        for a in self._busy:
            if t0 + rem[a] / rate[a] <= t:
                finished.append(a)
            rem[a] -= rate[a] * dt
        return finished

    def _common_rate(self) -> None:
        """Proportional policy: the one slow-down factor of the layers with DRAM traffic."""
        self._stale_rates = False
        if self._approx_demand < self._demand_limit and self._approx_starts < APPROX_STARTS:
            self._lanes[0].rate = 1.0  # surely undersubscribed: see demand_limit()
            return
        total, bw = self.dram_demand_bytes_per_s, self._bw
        self._lanes[0].rate = 1.0 if total <= bw else bw / total

    def _refresh_rates(self) -> None:
        """Recompute bandwidth shares once per change of the running set, only when needed."""
        if not self._stale_rates:
            return
        self._stale_rates = False
        busy = self._busy
        if not busy:
            return
        if self._prop:
            self._common_rate()
            return
        demand, caps = self.demand_bytes_per_s, self.bandwidth_cap_bytes_per_s
        bw = self.chip.bandwidth_bytes_per_s
        rates = self._share([demand[a] for a in busy], [caps[a] for a in busy], bw)
        rate = self._rate
        for a, r in zip(busy, rates, strict=True):
            rate[a] = r
