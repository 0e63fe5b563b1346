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

from bisect import bisect_left, bisect_right

from relmas.sim import lanes
from relmas.sim.bandwidth import BandwidthPolicy
from relmas.sim.chip import Chip
from relmas.sim.lanes import KEY_TOL, Lane, fold
from relmas.sim.request import RUNNING, Request


class Progress:
    """Mixin of :class:`~relmas.sim.engine.Simulator`: the running layers' state and views."""

    chip: Chip
    now_s: float
    busy: list[int]
    accel_request: list[Request | None]
    demand_bytes_per_s: list[float]
    bandwidth_cap_bytes_per_s: list[float]
    layer_start_s: list[float]
    _share: BandwidthPolicy
    _prop: bool
    _rem: list[float]  # full-speed work left; under proportional, as of _mark in its lane's log
    _mark: list[int]
    _lanes: tuple[Lane, Lane]  # (layers with DRAM traffic, layers without)
    _busy_demand: list[float]  # demand_bytes_per_s of each unit in ``busy``, in that order
    _rate: list[float]
    _stale_rates: bool
    _dram_demand: float | None

    def _reset_progress(self, n: int, proportional: bool) -> None:
        self._prop = proportional
        self._rem = [0.0] * n
        self._mark = [0] * n
        self._lanes = (Lane(1.0), Lane(1.0))
        self._busy_demand = []
        self._rate = [0.0] * n  # fraction of full speed (per unit; under proportional, by rates())
        self._stale_rates = False
        self._dram_demand = None

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
                        rem[a], mark[a] = fold(log[mark[a] :], rem[a]), n
        return self._rem

    def rates(self) -> list[float]:
        """Per unit, the fraction of full speed granted now (busy units only): one refresh for a
        reader of every unit (the env), not one per ``busy_remaining_s`` / ``granted_...`` call."""
        self._refresh_rates()
        if self._prop:
            rate, demand, scale = self._rate, self.demand_bytes_per_s, self._lanes[0].rate
            for a in self.busy:
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

        Summed in ``busy`` order, as a fresh ``sum`` over the running units would, from a list
        kept beside ``busy``, and cached until the running set changes.
        """
        total = self._dram_demand
        if total is None:
            total = self._dram_demand = sum(self._busy_demand)
        return total

    # ----------------------------------------------------------------- engine side
    def _start_layer(self, a: int, req: Request, new: bool) -> None:
        """Run ``req``'s next layer on ``a``: a ``new`` entry at the end of ``busy``, or the next
        layer of a block on a unit that keeps its place in ``busy``."""
        chip, m, layer = self.chip, req.model, req.next_layer
        ty = chip.accel_type[a]
        req.state = RUNNING
        req.accel = a
        self.accel_request[a] = req
        demand = self.demand_bytes_per_s[a] = chip.demand_bytes_per_s[m][ty][layer]
        self._dram_demand = None
        if new:
            self.busy.append(a)
            self._busy_demand.append(demand)
        else:
            self._busy_demand[self.busy.index(a)] = demand
        self.layer_start_s[a] = self.now_s
        work = chip.compute_s[m][ty][layer]
        if not self._prop:
            self._rem[a] = work
            return
        lane = self._lanes[0] if demand > 0 else self._lanes[1]
        keys, v = lane.keys, lane.v
        key = v + work
        tol = KEY_TOL * (v + key)
        pos = bisect_right(keys, key - tol)
        if pos != bisect_left(keys, key + tol):  # a key too close to call: rank it exactly
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
            finished.sort(key=self.busy.index)
        return finished

    def _next_end_s(self, t: float) -> float:
        """``min(t, earliest projected end of a running layer)`` under a per-layer rate policy."""
        now, rem, rate = self.now_s, self._rem, self._rate
        for a in self.busy:
            end = now + rem[a] / rate[a]  # the same expression _progress_general tests
            if end < t:
                t = end
        return t

    def _progress_general(self, t0: float, t: float) -> list[int]:
        """Advance every running layer from ``t0`` to ``t``; the ones ending, in ``busy`` order."""
        finished = []
        rem, rate, dt = self._rem, self._rate, t - t0
        for a in self.busy:
            if t0 + rem[a] / rate[a] <= t:
                finished.append(a)
            rem[a] -= rate[a] * dt
        return finished

    def _refresh_rates(self) -> None:
        """Recompute bandwidth shares once per change of the running set, only when needed."""
        if not self._stale_rates:
            return
        self._stale_rates = False
        busy = self.busy
        if not busy:
            return
        if self._prop:  # one common slow-down factor for the layers with DRAM traffic
            total = self._dram_demand
            if total is None:
                total = self._dram_demand = sum(self._busy_demand)
            bw = self.chip.bandwidth_bytes_per_s
            self._lanes[0].rate = 1.0 if total <= bw else bw / total
            return
        demand, caps = self.demand_bytes_per_s, self.bandwidth_cap_bytes_per_s
        bw = self.chip.bandwidth_bytes_per_s
        rates = self._share([demand[a] for a in busy], [caps[a] for a in busy], bw)
        rate = self._rate
        for a, r in zip(busy, rates, strict=True):
            rate[a] = r
