"""The simulated chip: sub-accelerator instances, shared DRAM and per-layer cost lookups.

Cost tables arrive as numpy arrays (one per model and accelerator type); the chip converts them
once into nested Python lists, because the event loop and the schedulers index single elements
millions of times and a list index is ~10x cheaper than a numpy scalar index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np

from relmas.errors import UserError


class CostTableLike(Protocol):
    """What the chip needs from a per-(model, accelerator type) cost table."""

    @property
    def compute_s(self) -> np.ndarray: ...

    @property
    def dram_bytes(self) -> np.ndarray: ...

    @property
    def energy_dynamic_j(self) -> np.ndarray: ...

    @property
    def static_power_w(self) -> float: ...


@dataclass(frozen=True)
class Chip:
    """Read-only description of the hardware plus derived per-layer costs.

    Indexing convention: ``[model][type][layer]`` for per-type costs, ``[model][layer]`` for
    type-independent ones. Remaining-time tables have ``num_layers + 1`` entries (0 at the end) so
    ``remaining_latency_s[m][t][next_layer]`` is the isolated time still needed on type ``t``.

    Attributes:
        type_names: Accelerator type names, e.g. ``("simba", "eyeriss")``.
        accel_type: Type index of each sub-accelerator instance.
        bandwidth_bytes_per_s: Shared DRAM bandwidth.
        static_power_w: Static power of each instance.
        dram_static_power_w: DRAM static power.
        model_names: Model names, indexed by ``Request.model``.
        compute_s: Compute-bound time of each layer (no DRAM stall).
        dram_bytes: DRAM traffic of each layer.
        energy_j: Dynamic energy of each layer (independent of the bandwidth it gets).
        demand_bytes_per_s: ``dram_bytes / compute_s``: bandwidth to run at compute speed.
        latency_s: Isolated latency at full bandwidth, ``max(compute_s, dram_bytes / B)``.
        remaining_latency_s: Suffix sums of ``latency_s`` per type.
        best_type: Type with the lowest isolated latency for each layer.
        remaining_best_s: Suffix sums of the per-layer best isolated latency.
        isolated_latency_s: ``remaining_best_s[m][0]``: the model's isolated latency, each layer
            on its best type at full bandwidth. Deadlines are multiples of this.
    """

    type_names: tuple[str, ...]
    accel_type: tuple[int, ...]
    bandwidth_bytes_per_s: float
    static_power_w: tuple[float, ...]
    dram_static_power_w: float
    model_names: tuple[str, ...]
    num_layers: tuple[int, ...]
    compute_s: list[list[list[float]]]
    dram_bytes: list[list[list[float]]]
    energy_j: list[list[list[float]]]
    demand_bytes_per_s: list[list[list[float]]]
    latency_s: list[list[list[float]]]
    remaining_latency_s: list[list[list[float]]]
    best_type: list[list[int]]
    remaining_best_s: list[list[float]]
    isolated_latency_s: list[float]

    @property
    def num_accels(self) -> int:
        """Number of sub-accelerator instances."""
        return len(self.accel_type)

    @property
    def num_types(self) -> int:
        """Number of distinct accelerator types."""
        return len(self.type_names)

    def model_index(self, name: str) -> int:
        """Index of a model by name."""
        return self.model_names.index(name)

    def __reduce__(self) -> tuple[type[Chip], tuple[object, ...]]:
        """Pickle and copy through the constructor (see ``relmas.sim.request.restore_request``:
        a frozen dataclass of the compiled build cannot be filled field by field)."""
        return (Chip, tuple(getattr(self, f.name) for f in fields(self)))


def _suffix_sums(values: Sequence[float]) -> list[float]:
    out = [0.0] * (len(values) + 1)
    for i in range(len(values) - 1, -1, -1):
        out[i] = out[i + 1] + values[i]
    return out


def _check_tables(
    model_names: Sequence[str],
    type_names: Sequence[str],
    tables: Mapping[tuple[str, str], CostTableLike],
) -> None:
    for m in model_names:
        lengths = {len(tables[(m, t)].compute_s) for t in type_names}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError(f"cost tables of model {m!r} disagree on the layer count: {lengths}")


def _per_layer(
    compute: list[list[list[float]]], dram: list[list[list[float]]], bw: float
) -> tuple[list[list[list[float]]], list[list[list[float]]]]:
    """Bandwidth demand ``d / c`` and isolated latency ``max(c, d / bw)`` of every layer."""
    demand, latency = [], []
    for cm, dm in zip(compute, dram, strict=True):
        pairs = [list(zip(cs, ds, strict=True)) for cs, ds in zip(cm, dm, strict=True)]
        demand.append([[d / c for c, d in row] for row in pairs])
        latency.append([[max(c, d / bw) for c, d in row] for row in pairs])
    return demand, latency


def _best_types(latency: list[list[list[float]]]) -> tuple[list[list[int]], list[list[float]]]:
    """Per layer, the fastest type and the suffix sums of the fastest latency."""
    best_type, remaining_best = [], []
    for lat_m in latency:
        per_layer = list(zip(*lat_m, strict=True))
        best_type.append([min(range(len(v)), key=v.__getitem__) for v in per_layer])
        remaining_best.append(_suffix_sums([min(v) for v in per_layer]))
    return best_type, remaining_best


def build_chip(
    accel_types: Sequence[str],
    bandwidth_bytes_per_s: float,
    model_names: Sequence[str],
    tables: Mapping[tuple[str, str], CostTableLike],
    dram_static_power_w: float = 0.0,
) -> Chip:
    """Build a chip from one accelerator type name per instance and the cost tables."""
    if not accel_types:
        raise UserError("hardware", "has no sub-accelerators", "give at least one instance")
    if not bandwidth_bytes_per_s > 0:
        raise UserError("dram_bandwidth", "must be > 0", "set a positive bandwidth")
    type_names = tuple(dict.fromkeys(accel_types))
    _check_tables(model_names, type_names, tables)
    per_type = [[tables[(m, t)] for t in type_names] for m in model_names]
    compute = [[tab.compute_s.astype(float).tolist() for tab in row] for row in per_type]
    dram = [[tab.dram_bytes.astype(float).tolist() for tab in row] for row in per_type]
    energy = [[tab.energy_dynamic_j.astype(float).tolist() for tab in row] for row in per_type]
    bw = float(bandwidth_bytes_per_s)
    demand, latency = _per_layer(compute, dram, bw)
    best_type, remaining_best = _best_types(latency)
    static = {t: float(tables[(model_names[0], t)].static_power_w) for t in type_names}
    return Chip(
        type_names=type_names,
        accel_type=tuple(type_names.index(t) for t in accel_types),
        bandwidth_bytes_per_s=bw,
        static_power_w=tuple(static[t] for t in accel_types),
        dram_static_power_w=float(dram_static_power_w),
        model_names=tuple(model_names),
        num_layers=tuple(len(compute[m][0]) for m in range(len(model_names))),
        compute_s=compute,
        dram_bytes=dram,
        energy_j=energy,
        demand_bytes_per_s=demand,
        latency_s=latency,
        remaining_latency_s=[[_suffix_sums(lt) for lt in lat_m] for lat_m in latency],
        best_type=best_type,
        remaining_best_s=remaining_best,
        isolated_latency_s=[rb[0] for rb in remaining_best],
    )
