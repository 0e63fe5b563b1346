"""How a request moves through the engine: arrival, ready, running, done or dropped.

Why a module of its own: these are the engine's per-event handlers, kept apart from the driving
loop (:mod:`relmas.sim.engine`) and from how running layers progress
(:mod:`relmas.sim.progress`), so each part stays small enough to read in one go.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort

from relmas.sim.chip import Chip
from relmas.sim.progress import Progress
from relmas.sim.request import DONE, DROPPED, WAITING, Dispatch, Request, RequestSpec


class Lifecycle(Progress):
    """Base of :class:`~relmas.sim.engine.Simulator`: the per-request event handlers.

    A chain (``Simulator(Lifecycle)``, ``Lifecycle(Progress)``) rather than two mixins: mypyc,
    which compiles these modules in the optional compiled build (docs/simulator.md), compiles no
    multiple inheritance of ordinary classes.
    """

    chip: Chip
    now_s: float
    specs: list[RequestSpec]
    requests: list[Request]
    ready: dict[int, Request]
    ready_log: list[Request]
    free_accels: list[int]
    accel_request: list[Request | None]
    busy_s: list[float]
    layers_run: list[int]
    layer_start_s: list[float]
    block_left: list[int]
    bandwidth_cap_bytes_per_s: list[float]
    dynamic_energy_j: float
    dram_bytes_moved: float
    record_trace: bool
    trace: list[tuple[int, int, int, float, float]]
    drop_hopeless: bool
    _arrival_s: list[float]
    _n_specs: int
    _next_arrival: int
    _hopeless: list[tuple[float, int, int]]
    _end_s: float
    _busy: dict[int, float]
    _dram_demand: float | None
    _approx_demand: float

    def _admit_arrivals(self) -> None:
        specs, chip, times = self.specs, self.chip, self._arrival_s
        while self._next_arrival < self._n_specs and times[self._next_arrival] <= self.now_s:
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
        if self.now_s > self._end_s:
            self._end_s = self.now_s

    def _dispatch(self, d: Dispatch) -> None:
        req, a = d.request, d.accel  # checked by check_dispatch
        del self.ready[req.rid]
        take_free(self.free_accels, a)  # checked by check_dispatch: it is there
        self.block_left[a] = d.layers - 1
        self.bandwidth_cap_bytes_per_s[a] = d.bandwidth_cap_bytes_per_s
        self._start_layer(a, req)

    def _finish_layer(self, a: int) -> None:
        req: Request = self.accel_request[a]  # type: ignore[assignment]
        chip, now, layer = self.chip, self.now_s, req.next_layer
        m, ty = req.model, chip.accel_type[a]
        self.dynamic_energy_j += chip.energy_j[m][ty][layer]
        self.dram_bytes_moved += chip.dram_bytes[m][ty][layer]
        start = self.layer_start_s[a]
        self.busy_s[a] += now - start
        self.layers_run[a] += 1
        if self.record_trace:
            self.trace.append((a, req.rid, layer, start, now))
        layer += 1
        req.next_layer = layer
        req.last_run_end_s = now
        if now > self._end_s:
            self._end_s = now
        if layer == req.num_layers:
            req.state = DONE
            req.finish_s = now
        elif self.block_left[a]:
            self.block_left[a] -= 1
            self._start_layer(a, req)
            return
        else:
            self._make_ready(req)
        self.accel_request[a] = None
        self._approx_demand -= self._busy.pop(a)
        self._dram_demand = None
        insort(self.free_accels, a)  # kept sorted: ties go to the lowest index


def take_free(free: list[int], a: int) -> bool:
    """Remove unit ``a`` from the sorted free list; False (nothing removed) if it is not there.

    A few free units (the common case: one just finished): ``list.remove``, a compare or two.
    Many (a big chip, light load): a bisection, where ``remove`` compares with every unit
    before ``a``; at 32s32e that was 5% of a compiled FCFS run.
    """
    if len(free) < 16:
        try:
            free.remove(a)
        except ValueError:
            return False
        return True
    i = bisect_left(free, a)
    if i == len(free) or free[i] != a:
        return False
    del free[i]
    return True
