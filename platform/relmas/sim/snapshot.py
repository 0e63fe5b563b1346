"""Cloning a simulator mid-run, cheaply enough to do it at every decision (lookahead).

Why not ``copy.deepcopy``: it copies the chip's cost tables (~14 ms on an idle simulator). A
clone shares everything that never changes during a run -- the chip, the request specs, the
finished requests (a completed or dropped :class:`~relmas.sim.request.Request` is never written
again) -- and copies only the mutable state: the clock, the live requests, the queues, the
per-unit state, the bandwidth shares and the counters. Its ``ready_log`` starts over as the
requests ready now, which makes every ``ReadyLogCursor`` consumer rebuild from the live queue.

Non-clairvoyant by default: the clone holds only the requests that have already arrived, so a
lookahead simulates what an online scheduler could know. ``clairvoyant=True`` also replays the
real future arrivals: an oracle, to be labelled as such wherever its results are shown.
"""

from __future__ import annotations

from relmas.sim.chip import Chip
from relmas.sim.engine import Simulator  # engine imports this module only inside methods
from relmas.sim.request import Request, restore_request

# Attributes copied as they are: immutable values, or objects no run ever writes.
_SHARED = (
    "chip", "bandwidth_policy", "_share", "drop_hopeless", "decision_period_s", "record_trace",
    "_n_accels", "_bw", "_prop", "now_s", "dynamic_energy_j", "oversubscription_s",
    "dram_bytes_moved", "_next_arrival", "_skip_decision_at", "_tick", "_at_tick", "_end_s",
    "_stale_rates", "_dram_demand", "_approx_demand", "_approx_starts", "_demand_limit",
)  # fmt: skip
# Lists of immutable values: a shallow copy each.
_LISTS = (
    "free_accels", "demand_bytes_per_s", "bandwidth_cap_bytes_per_s", "layer_start_s",
    "block_left", "busy_s", "layers_run", "_rate", "_hopeless", "trace",
)  # fmt: skip
# Copied (or shared) one by one in snapshot(): the requests, the queues, the progress state.
_OWN = (
    "specs", "_arrival_s", "_n_specs", "requests", "ready", "ready_log", "accel_request",
    "_busy", "_rem", "_mark", "_lanes",
)  # fmt: skip
# Every attribute of a Simulator (tests/unit/sim/test_snapshot.py checks none is missing).
ATTRIBUTES = _SHARED + _LISTS + _OWN


def copy_request(req: Request) -> Request:
    """A new :class:`Request` with the same fields (a live request is written as it runs)."""
    return restore_request(
        req.spec, req.rid, req.num_layers, req.next_layer, req.state, req.accel,
        req.last_run_end_s, req.finish_s,
    )  # fmt: skip


def snapshot(sim: Simulator, *, clairvoyant: bool = False) -> Simulator:
    """A clone of ``sim`` that continues exactly as ``sim`` would (the future arrivals only if
    ``clairvoyant``); nothing done to one ever changes the other."""
    clone = _blank(sim)
    for name in _SHARED:
        setattr(clone, name, getattr(sim, name))
    for name in _LISTS:
        setattr(clone, name, getattr(sim, name)[:])
    clone._busy = sim._busy.copy()
    arrived = sim._next_arrival
    if clairvoyant:  # the spec lists are never written: share them
        clone.specs, clone._arrival_s, clone._n_specs = sim.specs, sim._arrival_s, sim._n_specs
    else:
        clone.specs, clone._arrival_s = sim.specs[:arrived], sim._arrival_s[:arrived]
        clone._n_specs = arrived
    _copy_requests(sim, clone)
    _copy_progress(sim, clone)
    return clone


def _blank(sim: Simulator) -> Simulator:
    """A simulator of the same configuration and no requests, for :func:`snapshot` to fill.

    Built by the constructor, not ``__new__``: the compiled build's ``Simulator`` cannot be
    created without its ``__init__``, which on no requests costs a few microseconds.
    """
    return empty_simulator(*sim.options())


def empty_simulator(
    chip: Chip,
    bandwidth_policy: str,
    drop_hopeless: bool,
    decision_period_s: float | None,
    record_trace: bool,
) -> Simulator:
    """A simulator with these options and no requests: what a snapshot or an unpickling fills."""
    return Simulator(
        chip,
        (),
        bandwidth_policy=bandwidth_policy,
        drop_hopeless=drop_hopeless,
        decision_period_s=decision_period_s,
        record_trace=record_trace,
    )


def state_of(sim: Simulator) -> dict[str, object]:
    """Every attribute of ``sim`` by name (shared, not copied): what pickling it keeps."""
    return {name: getattr(sim, name) for name in ATTRIBUTES}


def _copy_requests(sim: Simulator, clone: Simulator) -> None:
    """New objects for the live requests; the finished ones are shared."""
    reqs = sim.requests[:]
    ready: dict[int, Request] = {}
    for rid, req in sim.ready.items():  # the same order: schedulers break ties by it
        ready[rid] = reqs[rid] = copy_request(req)
    running = sim.accel_request[:]
    for a in sim.busy:
        live = running[a]
        assert live is not None  # a busy unit runs a request
        running[a] = reqs[live.rid] = copy_request(live)
    clone.requests, clone.ready, clone.accel_request = reqs, ready, running
    clone.ready_log = list(ready.values())  # consumers start over on a new log


def _copy_progress(sim: Simulator, clone: Simulator) -> None:
    """The lanes as they are, logs included: copying a log is one C-level copy, while bringing
    every member up to date would replay each one's missed decrements (O(n x backlog))."""
    clone._rem, clone._mark = sim._rem[:], sim._mark[:]
    d_lane, z_lane = sim._lanes
    clone._lanes = (d_lane.copy(), z_lane.copy())


def deepcopy_memo(sim: Simulator, clone: Simulator) -> dict[int, object]:
    """A ``copy.deepcopy`` memo that carries an object holding references into ``sim`` (a
    scheduler's state) over to ``clone``: the simulator and its live requests map to the clone's,
    the chip and the finished requests to themselves. ``copy.deepcopy(scheduler, memo)`` then
    continues on the clone exactly as ``scheduler`` would on ``sim``."""
    memo: dict[int, object] = {id(sim): clone, id(sim.chip): sim.chip}
    for req, twin in zip(sim.requests, clone.requests, strict=True):
        memo[id(req)] = twin
    return memo
