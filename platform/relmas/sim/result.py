"""The outcome of one simulation, as plain numpy arrays (cheap to pickle across processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from relmas.sim.request import DROPPED

if TYPE_CHECKING:
    from relmas.sim.engine import Simulator


@dataclass(frozen=True)
class SimResult:
    """Per-request outcomes and per-accelerator accounting of one run.

    ``finish_s`` is the completion time, or the drop time for dropped requests. ``makespan_s``
    runs from time 0 to the last completion or drop; static energy is charged over it.
    """

    tenant: np.ndarray
    model: np.ndarray
    priority: np.ndarray
    arrival_s: np.ndarray
    deadline_s: np.ndarray
    finish_s: np.ndarray
    dropped: np.ndarray
    isolated_latency_s: np.ndarray
    busy_s: np.ndarray
    layers_run: np.ndarray
    accel_types: tuple[str, ...]
    model_names: tuple[str, ...]
    dynamic_energy_j: float
    static_power_w: float
    dram_bytes: float
    bandwidth_bytes_per_s: float
    makespan_s: float
    dispatches: int
    trace: list[tuple[int, int, int, float, float]] = field(default_factory=list)

    @classmethod
    def from_simulator(cls, sim: Simulator) -> SimResult:
        """Snapshot a finished simulator."""
        reqs, chip = sim.requests, sim.chip
        iso = chip.isolated_latency_s
        return cls(
            tenant=np.array([r.tenant for r in reqs], dtype=np.int64),
            model=np.array([r.model for r in reqs], dtype=np.int64),
            priority=np.array([r.priority for r in reqs], dtype=np.int64),
            arrival_s=np.array([r.arrival_s for r in reqs], dtype=np.float64),
            deadline_s=np.array([r.deadline_s for r in reqs], dtype=np.float64),
            finish_s=np.array([r.finish_s for r in reqs], dtype=np.float64),
            dropped=np.array([r.state == DROPPED for r in reqs], dtype=bool),
            isolated_latency_s=np.array([iso[r.model] for r in reqs], dtype=np.float64),
            busy_s=np.array(sim.busy_s, dtype=np.float64),
            layers_run=np.array(sim.layers_run, dtype=np.int64),
            accel_types=tuple(chip.type_names[t] for t in chip.accel_type),
            model_names=chip.model_names,
            dynamic_energy_j=sim.dynamic_energy_j,
            static_power_w=sum(chip.static_power_w) + chip.dram_static_power_w,
            dram_bytes=sim.dram_bytes_moved,
            bandwidth_bytes_per_s=chip.bandwidth_bytes_per_s,
            makespan_s=sim.makespan_s,
            dispatches=sim.dispatches,
            trace=list(sim.trace),
        )

    @property
    def completed(self) -> np.ndarray:
        """Mask of requests that ran to completion."""
        return ~self.dropped & np.isfinite(self.finish_s)

    @property
    def met_deadline(self) -> np.ndarray:
        """Mask of requests completed by their deadline (the SLA)."""
        return self.completed & (self.finish_s <= self.deadline_s)

    @property
    def energy_j(self) -> float:
        """Dynamic energy of executed layers plus static energy over the makespan."""
        return self.dynamic_energy_j + self.static_power_w * self.makespan_s
