"""Per-model cost tables: one model on one accelerator type, as flat numpy arrays.

The simulator looks up ``compute_s``, ``dram_bytes`` and ``energy_dynamic_j`` of layer ``i`` in its
inner loop; arrays make that an index, and make the table cheap to cache as ``.npz``
(``relmas.loaders.cost_cache``). Arrays are read-only so a shared table cannot be corrupted by
one consumer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from relmas.hardware.cost import layer_cost
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec, DramSpec

_INT_FIELDS = ("macs", "cycles")
_FLOAT_FIELDS = ("compute_s", "dram_bytes", "energy_dynamic_j", "utilization")


def _frozen(values: Sequence[float] | np.ndarray, dtype: type) -> np.ndarray:
    """A read-only 1-D copy with the given dtype."""
    array: np.ndarray = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class ModelCostTable:
    """Bandwidth-independent costs of every layer of one model on one accelerator type.

    Attributes:
        model: Model name.
        accel: Accelerator type name.
        layer_names: Layer names in execution order.
        kinds: Layer kinds (``conv``, ``depthwise``, ...), same order.
        macs: MACs per layer (int64).
        cycles: Cycles per layer at unlimited DRAM bandwidth (int64).
        compute_s: Latency per layer when DRAM is not the bottleneck (float64).
        dram_bytes: DRAM bytes per layer (float64).
        energy_dynamic_j: Dynamic energy per layer, all levels (float64).
        utilization: MAC utilisation per layer (float64).
        static_power_w: Accelerator leakage power.
    """

    model: str
    accel: str
    layer_names: tuple[str, ...]
    kinds: tuple[str, ...]
    macs: np.ndarray
    cycles: np.ndarray
    compute_s: np.ndarray
    dram_bytes: np.ndarray
    energy_dynamic_j: np.ndarray
    utilization: np.ndarray
    static_power_w: float

    def __len__(self) -> int:
        """Number of layers."""
        return len(self.layer_names)

    @property
    def required_bandwidth_bytes_per_s(self) -> np.ndarray:
        """Per-layer DRAM bandwidth needed to run at compute speed."""
        return self.dram_bytes / self.compute_s

    def latency_s(self, bandwidth_bytes_per_s: float) -> np.ndarray:
        """Per-layer roofline latency when each layer alone gets this bandwidth."""
        return np.maximum(self.compute_s, self.dram_bytes / bandwidth_bytes_per_s)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays (strings as unicode arrays), loadable without pickle."""
        arrays = {name: getattr(self, name) for name in (*_INT_FIELDS, *_FLOAT_FIELDS)}
        arrays["model"] = np.array(self.model)
        arrays["accel"] = np.array(self.accel)
        arrays["layer_names"] = np.array(self.layer_names, dtype=str)
        arrays["kinds"] = np.array(self.kinds, dtype=str)
        arrays["static_power_w"] = np.array(self.static_power_w, dtype=np.float64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ModelCostTable:
        """Inverse of ``to_arrays``; raises ``KeyError`` if an array is missing."""
        numeric = {name: _frozen(arrays[name], np.int64) for name in _INT_FIELDS}
        numeric |= {name: _frozen(arrays[name], np.float64) for name in _FLOAT_FIELDS}
        return cls(
            model=str(arrays["model"]),
            accel=str(arrays["accel"]),
            layer_names=tuple(str(x) for x in arrays["layer_names"]),
            kinds=tuple(str(x) for x in arrays["kinds"]),
            static_power_w=float(arrays["static_power_w"]),
            **numeric,
        )


def build_cost_table(
    model: str, layers: Sequence[Layer], spec: AcceleratorSpec, dram: DramSpec
) -> ModelCostTable:
    """Cost every layer of ``model`` on ``spec``; the input order is kept."""
    costs = [layer_cost(layer, spec, dram) for layer in layers]
    return ModelCostTable(
        model=model,
        accel=spec.name,
        layer_names=tuple(layer.name for layer in layers),
        kinds=tuple(layer.kind for layer in layers),
        macs=_frozen([c.macs for c in costs], np.int64),
        cycles=_frozen([c.cycles for c in costs], np.int64),
        compute_s=_frozen([c.compute_s for c in costs], np.float64),
        dram_bytes=_frozen([c.dram_bytes for c in costs], np.float64),
        energy_dynamic_j=_frozen([c.dynamic_energy.total_j for c in costs], np.float64),
        utilization=_frozen([c.utilization for c in costs], np.float64),
        static_power_w=spec.static_power_w,
    )
