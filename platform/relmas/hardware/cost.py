"""Per-layer cost of one layer on one accelerator type: the single entry point of the cost model.

A ``LayerCost`` separates what does not depend on the DRAM bandwidth (compute time, DRAM bytes,
dynamic energy) from what does (latency, static energy). The simulator shares DRAM bandwidth
among concurrently running layers and re-evaluates ``latency_s`` whenever the share changes, so
the bandwidth-independent part is computed once here and the rest is a two-line roofline.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmas.errors import UserError
from relmas.hardware.dataflow_rs import rs_cost
from relmas.hardware.dataflow_ws import ws_cost
from relmas.hardware.dram_traffic import dram_bytes as layer_dram_bytes
from relmas.hardware.energy import EnergyBreakdown, dynamic_energy
from relmas.hardware.layer import LAYER_KINDS, Layer
from relmas.hardware.spec import AcceleratorSpec, DramSpec

_SIZE_FIELDS = ("n", "c", "k", "groups", "p", "q", "r", "s", "stride")


@dataclass(frozen=True, slots=True)
class LayerCost:
    """Cost of one layer on one accelerator type.

    Attributes:
        layer: Layer name.
        accel: Accelerator type name.
        macs: Multiply-accumulates.
        cycles: Cycles at unlimited DRAM bandwidth (compute or on-chip delivery bound).
        compute_s: ``cycles / clock``: latency when DRAM is not the bottleneck.
        dram_bytes: Bytes read from and written to DRAM.
        utilization: ``macs / (cycles * MAC units)``.
        required_bandwidth_bytes_per_s: ``dram_bytes / compute_s``: what the layer needs to run
            at compute speed. Above it, extra bandwidth does not help.
        dynamic_energy: Bandwidth-independent energy by level.
        static_power_w: Accelerator leakage, charged for the layer's whole latency.
    """

    layer: str
    accel: str
    macs: int
    cycles: int
    compute_s: float
    dram_bytes: float
    utilization: float
    required_bandwidth_bytes_per_s: float
    dynamic_energy: EnergyBreakdown
    static_power_w: float

    def latency_s(self, bandwidth_bytes_per_s: float) -> float:
        """Roofline latency with this much DRAM bandwidth: ``max(compute_s, bytes / bw)``."""
        check_bandwidth(bandwidth_bytes_per_s)
        return max(self.compute_s, self.dram_bytes / bandwidth_bytes_per_s)

    def energy_j(self, bandwidth_bytes_per_s: float) -> float:
        """Dynamic energy plus leakage over the latency at this bandwidth."""
        return self.dynamic_energy.total_j + self.static_power_w * self.latency_s(
            bandwidth_bytes_per_s
        )

    def energy_breakdown_j(self, bandwidth_bytes_per_s: float) -> dict[str, float]:
        """Per-level energy at this bandwidth, including ``static_j``."""
        breakdown = self.dynamic_energy.as_dict()
        breakdown["static_j"] = self.static_power_w * self.latency_s(bandwidth_bytes_per_s)
        return breakdown


def check_bandwidth(bandwidth_bytes_per_s: float) -> None:
    """A layer with no bandwidth never finishes; reject it instead of dividing by zero."""
    if not bandwidth_bytes_per_s > 0:
        raise UserError(
            "bandwidth_bytes_per_s",
            f"must be > 0, got {bandwidth_bytes_per_s}",
            "give a positive DRAM bandwidth",
        )


def validate_layer(layer: Layer) -> None:
    """Reject shapes the formulas cannot cost (zero/negative sizes, groups not dividing C/K)."""
    for field in _SIZE_FIELDS:
        value = getattr(layer, field)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise UserError(
                f"layer {layer.name!r}.{field}", f"must be a positive integer, got {value!r}"
            )
    if layer.c % layer.groups or layer.k % layer.groups:
        raise UserError(
            f"layer {layer.name!r}.groups",
            f"groups={layer.groups} must divide c={layer.c} and k={layer.k}",
        )
    if layer.kind not in LAYER_KINDS:
        raise UserError(
            f"layer {layer.name!r}.kind",
            f"unknown kind {layer.kind!r}",
            f"choose one of: {', '.join(LAYER_KINDS)}",
        )


def layer_cost(layer: Layer, spec: AcceleratorSpec, dram: DramSpec) -> LayerCost:
    """Cost ``layer`` on accelerator ``spec`` attached to ``dram``."""
    validate_layer(layer)
    result = rs_cost(layer, spec) if spec.dataflow == "row_stationary" else ws_cost(layer, spec)
    moved_bytes = layer_dram_bytes(layer, result, spec.word_bytes, spec.psum_bytes)
    cycles = result.cycles
    compute_s = cycles / spec.clock_hz
    return LayerCost(
        layer=layer.name,
        accel=spec.name,
        macs=layer.macs,
        cycles=cycles,
        compute_s=compute_s,
        dram_bytes=moved_bytes,
        utilization=layer.macs / (cycles * spec.mac_units),
        required_bandwidth_bytes_per_s=moved_bytes / compute_s,
        dynamic_energy=dynamic_energy(layer.macs, result, moved_bytes, spec, dram),
        static_power_w=spec.static_power_w,
    )
