"""Hand-built chips for tests, docs and worked examples, where costs are chosen by hand.

Real chips come from the cost model (``relmas.loaders.build_chip_for``); a toy chip lets a test
state the exact latencies so the right schedule can be worked out on paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from relmas.sim.chip import Chip, build_chip


@dataclass(frozen=True)
class ToyTable:
    """Per-layer costs of one model on one accelerator type."""

    compute_s: np.ndarray
    dram_bytes: np.ndarray
    energy_dynamic_j: np.ndarray
    static_power_w: float = 0.0


def toy_chip(
    accel_types: Sequence[str],
    layers: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    bandwidth_bytes_per_s: float = 1e12,
    dram_bytes: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    energy_j: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    static_power_w: Mapping[str, float] | None = None,
) -> Chip:
    """Build a chip from ``layers[model][type] = [compute_s per layer]``.

    DRAM traffic defaults to 0 (compute-bound layers) and energy to 1 J per layer, unless given.
    """
    tables = {}
    for model, per_type in layers.items():
        for ty, compute in per_type.items():
            n = len(compute)
            d = (dram_bytes or {}).get(model, {}).get(ty, [0.0] * n)
            e = (energy_j or {}).get(model, {}).get(ty, [1.0] * n)
            tables[(model, ty)] = ToyTable(
                np.asarray(compute, float),
                np.asarray(d, float),
                np.asarray(e, float),
                (static_power_w or {}).get(ty, 0.0),
            )
    return build_chip(accel_types, bandwidth_bytes_per_s, list(layers), tables)
