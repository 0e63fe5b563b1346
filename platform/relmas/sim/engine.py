"""The discrete-event engine.

Two drivers share one engine, so heuristics and the RL policy are judged under identical semantics:
``run(scheduler)`` for heuristics, and ``advance()`` / ``apply()`` for the Gymnasium env, which
stops at every decision point and applies one action at a time.

Events are arrivals (pre-generated, sorted), layer completions and, in periodic mode, scheduling
ticks. With at most a few dozen sub-accelerators the next completion is found by a linear scan of
the running layers, which is cheaper than keeping a heap whose keys change whenever the DRAM
bandwidth shares are recomputed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from relmas.sim.bandwidth import BANDWIDTH_POLICIES, proportional
from relmas.sim.chip import Chip
from relmas.sim.request import DONE, DROPPED, RUNNING, WAITING, Dispatch, Drop, Request, RequestSpec
from relmas.sim.result import SimResult


class SchedulingError(RuntimeError):
    """A scheduler returned an impossible decision: a bug in the scheduler, not user input."""


class SchedulerLike(Protocol):
    """Anything with ``decide(sim) -> decisions``; see ``relmas.schedulers.base.Scheduler``."""

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None: ...

    def decide(self, sim: Simulator) -> Sequence[object]: ...


class Simulator:
    """Simulates one workload on one chip; owns its clock and all mutable state (no globals)."""

    def __init__(
        self,
        chip: Chip,
        specs: Sequence[RequestSpec],
        *,
        bandwidth_policy: str = "proportional",
        drop_hopeless: bool = False,
        decision_period_s: float | None = None,
        record_trace: bool = False,
    ) -> None:
        self.chip = chip
        self.specs = sorted(specs, key=lambda s: s.arrival_s)
        self.bandwidth_policy = bandwidth_policy
        self._share = BANDWIDTH_POLICIES[bandwidth_policy]
        self.drop_hopeless = drop_hopeless
        self.decision_period_s = decision_period_s
        self.record_trace = record_trace
        self.reset()

    def reset(self) -> None:
        """Return to time 0 with no request arrived."""
        n = self.chip.num_accels
        self.now_s = 0.0
        self.requests: list[Request] = []
        self.ready: dict[int, Request] = {}
        self.ready_log: list[Request] = []  # every request each time it became ready, in order
        self.free_accels: list[int] = list(range(n))
        self.accel_request: list[Request | None] = [None] * n
        self.remaining_work_s = [0.0] * n  # full-speed seconds left of the running layer
        self.demand_bytes_per_s = [0.0] * n
        self.bandwidth_cap_bytes_per_s = [math.inf] * n
        self.rate = [0.0] * n  # fraction of full speed granted by the DRAM policy
        self.layer_start_s = [0.0] * n
        self.block_left = [0] * n
        self.busy: list[int] = []
        self.busy_s = [0.0] * n
        self.layers_run = [0] * n
        self.dynamic_energy_j = 0.0
        # Integral over time of max(0, DRAM demand / bandwidth - 1), integrated here like the
        # dynamic energy so a reward (or a metric) reads its exact change over any interval.
        self.oversubscription_s = 0.0
        self.dram_bytes_moved = 0.0
        self.trace: list[tuple[int, int, int, float, float]] = []
        self.dispatches = 0
        self._next_arrival = 0
        self._hopeless: list[tuple[float, int, int]] = []
        self._skip_decision_at = -math.inf
        self._tick = 0
        self._at_tick = True  # t = 0 is tick 0 in periodic mode
        self._end_s = 0.0
        self._stale_rates = False
        self._dram_demand: float | None = None  # see dram_demand_bytes_per_s

    # ----------------------------------------------------------------- views for schedulers
    def busy_remaining_s(self, accel: int) -> float:
        """Time until the running layer on ``accel`` ends at the current bandwidth shares."""
        if self.accel_request[accel] is None:
            return 0.0
        self._refresh_rates()
        return self.remaining_work_s[accel] / self.rate[accel]

    def granted_bandwidth_bytes_per_s(self, accel: int) -> float:
        """DRAM bandwidth currently granted to ``accel``."""
        if self.accel_request[accel] is None:
            return 0.0
        self._refresh_rates()
        return self.rate[accel] * self.demand_bytes_per_s[accel]

    def rates(self) -> list[float]:
        """Per unit, the fraction of full speed granted now (busy units only): one refresh for a
        reader of every unit (the env), not one per ``busy_remaining_s`` / ``granted_...`` call."""
        self._refresh_rates()
        return self.rate

    @property
    def dram_demand_bytes_per_s(self) -> float:
        """Sum of the running layers' bandwidth demands (can exceed the capacity).

        Cached (the env and the rate refresh read it several times per step): ``busy`` and
        ``demand_bytes_per_s`` only change where a layer starts or a unit frees, which clear it.
        """
        total = self._dram_demand
        if total is None:
            demand = self.demand_bytes_per_s
            total = self._dram_demand = sum([demand[a] for a in self.busy])
        return total

    @property
    def makespan_s(self) -> float:
        """Time of the last completion or drop so far."""
        return self._end_s

    @property
    def arrivals_left(self) -> int:
        """Requests not yet arrived."""
        return len(self.specs) - self._next_arrival

    @property
    def finished(self) -> bool:
        """True when every request is completed or dropped."""
        return not self.arrivals_left and not self.ready and not self.busy

    def can_wait(self) -> bool:
        """Waiting is allowed only if some future event can create a new decision point."""
        return bool(self.busy or self.arrivals_left or self.decision_period_s)

    # ----------------------------------------------------------------- driving
    def run(self, scheduler: SchedulerLike, *, seed: int) -> SimResult:
        """Simulate from time 0 to the end, asking ``scheduler`` at every decision point.

        ``seed`` seeds the scheduler's own generator (random tie-breaks, GA, sampling), kept
        apart from the workload's so that changing the scheduler never changes the requests.
        It is keyword-only with no default: a default silently evaluated every caller's
        scheduler on one random stream (``relmas evaluate`` did). The run starts from
        :meth:`reset`, so a second ``run`` simulates again instead of returning the finished
        state. A scheduler that declares a ``bandwidth_policy`` gets it for this run only.
        """
        saved = self.bandwidth_policy, self._share
        policy = getattr(scheduler, "bandwidth_policy", None)
        if policy is not None:  # e.g. MoCA needs "capped" for its caps to mean anything
            self.bandwidth_policy, self._share = policy, BANDWIDTH_POLICIES[policy]
        try:
            self.reset()
            scheduler.reset(self, np.random.default_rng(seed))
            while self.advance():
                self.apply(scheduler.decide(self))
            return self.result()
        finally:
            self.bandwidth_policy, self._share = saved

    def advance(self) -> bool:
        """Process events until a decision is needed (True) or the workload is done (False)."""
        while True:
            if (
                self.free_accels
                and self.ready
                and self._at_tick
                and self._skip_decision_at != self.now_s
            ):
                return True
            t_next = self._next_event_s()
            if t_next == math.inf:
                if self.ready:
                    raise SchedulingError("requests are waiting but the scheduler waited forever")
                return False
            self._advance_to(t_next)

    def apply(self, decisions: Sequence[object]) -> int:
        """Apply dispatches and drops; returns how many layers were started.

        Every decision is checked before any is applied, so an impossible batch (a scheduler
        bug: a busy unit, a request twice, anything but ``Dispatch`` / ``Drop``) raises
        :class:`SchedulingError` and leaves the simulator exactly as it was.
        """
        self._check(decisions)
        started = 0
        for d in decisions:
            if isinstance(d, Dispatch):
                self._dispatch(d)
                started += 1
            else:
                self._drop(d.request)  # type: ignore[attr-defined]
        if started:
            self._stale_rates = True
        else:
            self._skip_decision_at = self.now_s
        return started

    def _check(self, decisions: Sequence[object]) -> None:
        """Raise :class:`SchedulingError` unless the whole batch of decisions is possible."""
        if len(decisions) == 1 and isinstance(decisions[0], Dispatch):  # the common case
            self._check_dispatch(decisions[0])
            return
        rids: set[int] = set()
        accels: set[int] = set()
        for d in decisions:
            if isinstance(d, Dispatch):
                self._check_dispatch(d)
                if d.accel in accels:
                    raise SchedulingError(f"two dispatches to sub-accelerator {d.accel}")
                accels.add(d.accel)
            elif isinstance(d, Drop):
                if d.request.state != WAITING or d.request.rid not in self.ready:
                    raise SchedulingError(f"cannot drop {d.request!r}: it is not waiting")
            else:
                raise SchedulingError(f"{d!r} is not a Dispatch or a Drop")
            if d.request.rid in rids:
                raise SchedulingError(f"{d.request!r} appears twice in one decision")
            rids.add(d.request.rid)

    def _check_dispatch(self, d: Dispatch) -> None:
        req, a = d.request, d.accel
        if req.state != WAITING or self.ready.get(req.rid) is not req:
            raise SchedulingError(f"cannot dispatch {req!r}: it is not waiting")
        if not 0 <= a < len(self.accel_request) or self.accel_request[a] is not None:
            raise SchedulingError(f"cannot dispatch to sub-accelerator {a}: it is busy or unknown")
        if not 1 <= d.layers <= req.num_layers - req.next_layer:
            raise SchedulingError(f"cannot run {d.layers} layers of {req!r}")

    def result(self) -> SimResult:
        """Collect the outcome (call when ``advance()`` returned False)."""
        return SimResult.from_simulator(self)

    # ----------------------------------------------------------------- internals
    def _next_event_s(self) -> float:
        nxt = self._next_arrival
        t = self.specs[nxt].arrival_s if nxt < len(self.specs) else math.inf
        busy = self.busy
        if busy:
            if self._stale_rates:
                self._refresh_rates()
            rem, rate, now = self.remaining_work_s, self.rate, self.now_s
            for a in busy:
                end = now + rem[a] / rate[a]  # the same expression _advance_to tests
                if end < t:
                    t = end
        if self.decision_period_s and self.ready and self.free_accels:
            t = min(t, (self._tick + 1) * self.decision_period_s)
        return t

    def _advance_to(self, t: float) -> None:
        # A layer finishes when its projected end (computed exactly as in _next_event_s) is not
        # after t. Using the same expression guarantees progress even when the remaining work
        # is below the clock's floating-point resolution.
        t0, dt = self.now_s, t - self.now_s
        self.now_s = t
        finished = []
        rem, rate = self.remaining_work_s, self.rate
        if self.busy:  # the running set, hence the DRAM demand, is constant on (t0, t)
            over = self.dram_demand_bytes_per_s / self.chip.bandwidth_bytes_per_s - 1.0
            if over > 0.0:
                self.oversubscription_s += over * dt
        for a in self.busy:
            if t0 + rem[a] / rate[a] <= t:
                finished.append(a)
            rem[a] -= rate[a] * dt
        for a in finished:
            self._finish_layer(a)
        arrived, specs = self._next_arrival, self.specs
        if arrived < len(specs) and specs[arrived].arrival_s <= t:  # skip the call otherwise
            self._admit_arrivals()
        if finished or self._next_arrival != arrived:
            # New state, new decision, even at the timestamp where the scheduler last waited:
            # a layer whose end rounds to that very timestamp finishes in a later call.
            self._skip_decision_at = -math.inf
        if self.decision_period_s:
            self._tick = max(self._tick, int(t / self.decision_period_s + 1e-9))
            self._at_tick = abs(t - self._tick * self.decision_period_s) <= 1e-12 * max(t, 1.0)
        if self.drop_hopeless:
            self._drop_hopeless()
        if finished:
            self._stale_rates = True

    def _admit_arrivals(self) -> None:
        specs, chip = self.specs, self.chip
        while self._next_arrival < len(specs) and specs[self._next_arrival].arrival_s <= self.now_s:
            spec = specs[self._next_arrival]
            req = Request(len(self.requests), spec, chip.num_layers[spec.model])
            self.requests.append(req)
            self._make_ready(req)
            self._next_arrival += 1

    def _make_ready(self, req: Request) -> None:
        req.state = WAITING
        req.accel = -1
        self.ready[req.rid] = req
        self.ready_log.append(req)
        if self.drop_hopeless:
            latest = req.deadline_s - self.chip.remaining_best_s[req.model][req.next_layer]
            heapq.heappush(self._hopeless, (latest, req.rid, req.next_layer))

    def _drop_hopeless(self) -> None:
        heap = self._hopeless
        while heap and heap[0][0] < self.now_s:
            _, rid, layer = heapq.heappop(heap)
            req = self.requests[rid]
            if req.state == WAITING and req.next_layer == layer:
                self._drop(req)

    def _drop(self, req: Request) -> None:
        del self.ready[req.rid]
        req.state = DROPPED
        req.finish_s = self.now_s
        self._end_s = max(self._end_s, self.now_s)

    def _dispatch(self, d: Dispatch) -> None:
        req, a = d.request, d.accel  # checked by _check
        del self.ready[req.rid]
        self.free_accels.remove(a)
        self.busy.append(a)
        self.block_left[a] = d.layers - 1
        self.bandwidth_cap_bytes_per_s[a] = d.bandwidth_cap_bytes_per_s
        self._start_layer(a, req)

    def _start_layer(self, a: int, req: Request) -> None:
        m, ty, layer = req.model, self.chip.accel_type[a], req.next_layer
        req.state = RUNNING
        req.accel = a
        self.accel_request[a] = req
        self.remaining_work_s[a] = self.chip.compute_s[m][ty][layer]
        self.demand_bytes_per_s[a] = self.chip.demand_bytes_per_s[m][ty][layer]
        self._dram_demand = None
        self.layer_start_s[a] = self.now_s
        self.dispatches += 1

    def _finish_layer(self, a: int) -> None:
        req = self.accel_request[a]
        assert req is not None
        chip, now, layer = self.chip, self.now_s, req.next_layer
        m, ty = req.model, chip.accel_type[a]
        self.dynamic_energy_j += chip.energy_j[m][ty][layer]
        self.dram_bytes_moved += chip.dram_bytes[m][ty][layer]
        self.busy_s[a] += now - self.layer_start_s[a]
        self.layers_run[a] += 1
        if self.record_trace:
            self.trace.append((a, req.rid, layer, self.layer_start_s[a], now))
        req.next_layer = layer + 1
        req.last_run_end_s = now
        if now > self._end_s:
            self._end_s = now
        if layer + 1 == req.num_layers:
            req.state = DONE
            req.finish_s = now
        elif self.block_left[a] > 0:
            self.block_left[a] -= 1
            self._start_layer(a, req)
            return
        else:
            self._make_ready(req)
        self.accel_request[a] = None
        self.busy.remove(a)
        self._dram_demand = None
        free = self.free_accels
        free.append(a)
        if len(free) > 1:
            free.sort()

    def _refresh_rates(self) -> None:
        """Recompute bandwidth shares once per change of the running set, only when needed."""
        if not self._stale_rates:
            return
        self._stale_rates = False
        busy, rate, demand = self.busy, self.rate, self.demand_bytes_per_s
        if not busy:
            return
        if self._share is proportional:  # fast path: one common slow-down factor
            total = self.dram_demand_bytes_per_s  # the same sum, usually cached
            bw = self.chip.bandwidth_bytes_per_s
            scale = 1.0 if total <= bw else bw / total
            for a in busy:
                rate[a] = scale if demand[a] > 0 else 1.0
            return
        rates = self._share(
            [demand[a] for a in busy],
            [self.bandwidth_cap_bytes_per_s[a] for a in busy],
            self.chip.bandwidth_bytes_per_s,
        )
        for a, r in zip(busy, rates, strict=True):
            rate[a] = r
