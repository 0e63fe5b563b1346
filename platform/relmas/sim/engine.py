"""The discrete-event engine.

Two drivers share one engine, so heuristics and the RL policy are judged under identical semantics:
``run(scheduler)`` for heuristics, and ``advance()`` / ``apply()`` for the Gymnasium env, which
stops at every decision point and applies one action at a time.

Events are arrivals (pre-generated, sorted), layer completions and, in periodic mode, scheduling
ticks. How running layers progress under the DRAM policy (the part whose cost could grow with
the chip) is :mod:`relmas.sim.progress`; checking a scheduler's decisions is
:mod:`relmas.sim.decisions`; per-request handlers are :mod:`relmas.sim.lifecycle`; cloning a
simulator mid-run is :mod:`relmas.sim.snapshot`.
"""

from __future__ import annotations

import math
from collections.abc import KeysView, Sequence
from typing import Protocol

import numpy as np

from relmas.sim import lanes
from relmas.sim.bandwidth import BANDWIDTH_POLICIES, proportional
from relmas.sim.chip import Chip
from relmas.sim.decisions import SchedulingError, check_decisions, check_dispatch
from relmas.sim.lifecycle import Lifecycle, take_free
from relmas.sim.progress import APPROX_STARTS, demand_limit
from relmas.sim.request import Dispatch, Request, RequestSpec
from relmas.sim.result import SimResult

__all__ = ["SchedulerLike", "SchedulingError", "Simulator"]


class SchedulerLike(Protocol):
    """Anything with ``decide(sim) -> decisions``; see ``relmas.schedulers.base.Scheduler``."""

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None: ...

    def decide(self, sim: Simulator) -> Sequence[object]: ...


class Simulator(Lifecycle):
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
        self._arrival_s = [s.arrival_s for s in self.specs]  # read at every event
        self._n_specs = len(self.specs)
        self.bandwidth_policy = bandwidth_policy
        self._share = BANDWIDTH_POLICIES[bandwidth_policy]
        self.drop_hopeless = drop_hopeless
        self.decision_period_s = decision_period_s
        self.record_trace = record_trace
        self._n_accels = chip.num_accels
        self._bw = chip.bandwidth_bytes_per_s
        top = max(max(row) for per_model in chip.demand_bytes_per_s for row in per_model)
        self._demand_limit = demand_limit(self._bw, chip.num_accels, top)
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
        self.demand_bytes_per_s = [0.0] * n
        self.bandwidth_cap_bytes_per_s = [math.inf] * n
        self.layer_start_s = [0.0] * n
        self.block_left = [0] * n
        # Busy units in the order their current layer (or block) started, each with its layer's
        # DRAM demand: the order the demand is summed in. A dict makes a finish O(1).
        self._busy: dict[int, float] = {}
        self.busy_s = [0.0] * n
        self.layers_run = [0] * n
        self.dynamic_energy_j = 0.0
        # Integral over time of max(0, DRAM demand / bandwidth - 1), integrated here like the
        # dynamic energy so a reward (or a metric) reads its exact change over any interval.
        self.oversubscription_s = 0.0
        self.dram_bytes_moved = 0.0
        self.trace: list[tuple[int, int, int, float, float]] = []
        self._next_arrival = 0
        self._hopeless: list[tuple[float, int, int]] = []
        self._skip_decision_at = -math.inf
        self._tick = 0
        self._at_tick = True  # t = 0 is tick 0 in periodic mode
        self._end_s = 0.0
        self._reset_progress(n, self._share is proportional)

    # ----------------------------------------------------------------- views for schedulers
    @property
    def makespan_s(self) -> float:
        """Time of the last completion or drop so far."""
        return self._end_s

    @property
    def busy(self) -> KeysView[int]:
        """Busy units, in the order their running layer (or block) was dispatched (a live view)."""
        return self._busy.keys()

    @property
    def dispatches(self) -> int:
        """Layers started so far: the finished ones plus one per busy unit."""
        return sum(self.layers_run) + len(self._busy)

    @property
    def arrivals_left(self) -> int:
        """Requests not yet arrived."""
        return self._n_specs - self._next_arrival

    @property
    def finished(self) -> bool:
        """True when every request is completed or dropped."""
        return not self.arrivals_left and not self.ready and not self._busy

    def can_wait(self) -> bool:
        """Waiting is allowed only if some future event can create a new decision point."""
        return bool(self._busy or self.arrivals_left or self.decision_period_s)

    def options(self) -> tuple[Chip, str, bool, float | None, bool]:
        """The chip and the constructor's options, in ``relmas.sim.snapshot.empty_simulator``'s
        order."""
        return (
            self.chip,
            self.bandwidth_policy,
            self.drop_hopeless,
            self.decision_period_s,
            self.record_trace,
        )

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle and copy: a simulator of the same options, then every attribute (why not
        Python's default: ``relmas.sim.request.restore_request``)."""
        from relmas.sim.snapshot import empty_simulator, state_of

        return (empty_simulator, self.options(), state_of(self))

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore what :meth:`__reduce__` kept."""
        for name, value in state.items():
            setattr(self, name, value)

    def snapshot(self, *, clairvoyant: bool = False) -> Simulator:
        """A clone to simulate ahead from here; see :func:`relmas.sim.snapshot.snapshot`.

        By default the clone holds only the requests that have arrived (lookahead without
        knowledge of the future); ``clairvoyant=True`` also replays the real future arrivals,
        an oracle no online scheduler has.
        """
        from relmas.sim.snapshot import snapshot

        return snapshot(self, clairvoyant=clairvoyant)

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
            advance, apply, decide = self.advance, self.apply, scheduler.decide
            while advance():
                apply(decide(self))
            return self.result()
        finally:
            self.bandwidth_policy, self._share = saved

    def advance(self) -> bool:
        """Process events until a decision is needed (True) or the workload is done (False)."""
        d_lane, z_lane = self._lanes
        while True:
            if (
                self.free_accels
                and self.ready
                and self._at_tick
                and self._skip_decision_at != self.now_s
            ):
                return True
            nxt = self._next_arrival  # the next event: an arrival, a layer end or a tick
            t = self._arrival_s[nxt] if nxt < self._n_specs else math.inf
            if self._busy:
                if not self._prop:
                    self._refresh_rates()
                    t = self._next_end_s(t)
                else:  # one common rate; a lane's front is always up to date
                    if self._stale_rates:
                        self._common_rate()
                    if d_lane.units:
                        end = self.now_s + self._rem[d_lane.units[0]] / d_lane.rate
                        if end < t:
                            t = end
                    if z_lane.units:
                        t = min(t, self.now_s + self._rem[z_lane.units[0]])
            if self.decision_period_s and self.ready and self.free_accels:
                t = min(t, (self._tick + 1) * self.decision_period_s)
            if t == math.inf:
                if self.ready:
                    raise SchedulingError("requests are waiting but the scheduler waited forever")
                return False
            self._advance_to(t)

    def apply(self, decisions: Sequence[object]) -> int:
        """Apply dispatches and drops; returns how many layers were started.

        Every decision is checked before any is applied, so an impossible batch (a scheduler
        bug: a busy unit, a request twice, anything but ``Dispatch`` / ``Drop``) raises
        :class:`SchedulingError` and leaves the simulator exactly as it was.
        """
        if len(decisions) == 1 and isinstance(d := decisions[0], Dispatch):  # the common case
            req, a = d.request, d.accel
            ready = self.ready
            if ready.get(req.rid) is not req or not 0 < d.layers <= req.num_layers - req.next_layer:
                check_dispatch(self, d)  # raises, naming what is wrong
            if not take_free(self.free_accels, a):  # the last check: free means idle and known
                check_dispatch(self, d)  # raises, naming what is wrong
                raise SchedulingError(f"cannot dispatch to sub-accelerator {a}: it is not free")
            del ready[req.rid]
            self.block_left[a] = d.layers - 1
            self.bandwidth_cap_bytes_per_s[a] = d.bandwidth_cap_bytes_per_s
            self._start_layer(a, req)
            self._stale_rates = True
            return 1
        return self._apply_batch(decisions)

    def _apply_batch(self, decisions: Sequence[object]) -> int:
        """:meth:`apply` for anything but a single dispatch."""
        check_decisions(self, decisions)
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

    def result(self) -> SimResult:
        """Collect the outcome (call when ``advance()`` returned False)."""
        return SimResult.from_simulator(self)

    # ----------------------------------------------------------------- internals
    def _advance_to(self, t: float) -> None:
        t0 = self.now_s
        self.now_s = t
        if self._busy:  # the running set, hence the DRAM demand, is constant on (t0, t)
            if (  # unless surely undersubscribed (see demand_limit): over <= 0 then
                self._dram_demand is not None
                or self._approx_demand >= self._demand_limit
                or self._approx_starts >= APPROX_STARTS
            ):
                over = self.dram_demand_bytes_per_s / self._bw - 1.0
                if over > 0.0:
                    self.oversubscription_s += over * (t - t0)
            if self._prop:
                d_lane = self._lanes[0]
                finished = (
                    lanes.advance(d_lane, t0, t, self._rem, self._mark) if d_lane.units else []
                )
                if len(finished) > 1 or self._lanes[1].units:
                    finished = self._more_finished(finished, t0, t)
            else:
                finished = self._progress_general(t0, t)
            for a in finished:
                self._finish_layer(a)
        else:
            finished = None
        arrived = self._next_arrival
        if arrived < self._n_specs and self._arrival_s[arrived] <= t:  # skip the call else
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
