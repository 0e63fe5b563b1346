"""Weight-stationary (Simba-like) dataflow: compute cycles and GLB<->array traffic.

Formulas are costmodel.md §3.2/§3.3. Each PE has ``lanes_per_pe`` (V) vector-MAC lanes carrying
output channels K, each ``vector_width`` (L) multipliers wide carrying input channels C; PEs split
K first and, when K runs out, output pixels. Weights sit in per-MAC registers while output pixels
stream past, so small C or K wastes lanes: depthwise keeps one multiplier per PE busy, which is
the heterogeneity the scheduler is meant to exploit.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmas.hardware.accesses import DataflowResult, ceil_div, onchip_cycles
from relmas.hardware.dataflow_rs import is_depthwise
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec


@dataclass(frozen=True, slots=True)
class WsMapping:
    """How one layer spreads over PEs and lanes (names follow costmodel §3.2)."""

    pes_on_k: int  # NPk: PEs working on different filter groups
    pes_on_pixels: int  # NPx: leftover PEs splitting output pixels
    lanes_used: int  # useful lanes per PE (K per PE)
    width_used: int  # useful multipliers per lane (C per vector)


def ws_mapping(layer: Layer, spec: AcceleratorSpec) -> WsMapping:
    """Spread the layer over PEs and lanes; depthwise uses one lane and one multiplier."""
    arr = spec.array
    if is_depthwise(layer):
        return WsMapping(1, arr.num_pes, 1, 1)
    pes_on_k = min(arr.num_pes, ceil_div(layer.k_per_group, arr.lanes_per_pe))
    return WsMapping(
        pes_on_k=pes_on_k,
        pes_on_pixels=arr.num_pes // pes_on_k,
        lanes_used=min(arr.lanes_per_pe, layer.k_per_group),
        width_used=min(arr.vector_width, layer.c_per_group),
    )


def ws_compute_cycles(layer: Layer, spec: AcceleratorSpec, m: WsMapping) -> int:
    """Cycles of the weight-stationary mapping if operands arrived for free."""
    rs = layer.r * layer.s
    if is_depthwise(layer):
        return layer.n * rs * ceil_div(layer.groups * layer.p * layer.q, spec.array.num_pes)
    arr = spec.array
    return (
        layer.n
        * layer.groups
        * rs
        * ceil_div(layer.c_per_group, arr.vector_width)
        * ceil_div(layer.k_per_group, arr.lanes_per_pe * m.pes_on_k)
        * ceil_div(layer.p * layer.q, m.pes_on_pixels)
    )


def ws_cost(layer: Layer, spec: AcceleratorSpec) -> DataflowResult:
    """Cycles and per-level traffic of ``layer`` on a weight-stationary accelerator."""
    m = ws_mapping(layer, spec)
    arr, buf, bw = spec.array, spec.pe_buffers, spec.onchip_bandwidth
    word, psum = spec.word_bytes, spec.psum_bytes
    k_tile = arr.lanes_per_pe * m.pes_on_k
    input_words = layer.input_words * (
        1 if is_depthwise(layer) else ceil_div(layer.k_per_group, k_tile)
    )
    weight_words = layer.weight_words * (layer.n if layer.weights_are_activations else 1)
    # a lane keeps the weights of one filter; a longer reduction spills psums to the GLB
    lane_weight_words = max(1, buf.weight_words // arr.lanes_per_pe)
    c_passes = ceil_div(layer.c_per_group * layer.r * layer.s, lane_weight_words)
    psum_writes = layer.output_words * c_passes
    psum_reads = layer.output_words * (c_passes - 1)
    macs = layer.macs
    # a weight register is reloaded once per block of pixels the accumulation buffer can hold
    pixels_per_pe = layer.n * ceil_div(layer.p * layer.q, m.pes_on_pixels)
    weight_reuse = max(1, min(pixels_per_pe, buf.psum_words // arr.lanes_per_pe))
    psum_moved = (psum_reads + psum_writes) * psum
    return DataflowResult(
        compute_cycles=ws_compute_cycles(layer, spec, m),
        onchip_cycles=onchip_cycles(bw, input_words, weight_words, psum_reads, psum_writes),
        parallel_filters=k_tile,
        weight_capacity_words=arr.num_pes * buf.weight_words,
        input_capacity_words=spec.glb_bytes // word + arr.num_pes * buf.input_words,
        glb_words=spec.glb_bytes // word,
        parallel_channels=arr.vector_width,
        # one input read feeds every useful lane; one psum update per vector of products
        pe_input_bytes=(macs / m.lanes_used + input_words) * word,
        pe_weight_bytes=(macs / weight_reuse + weight_words) * word,
        pe_psum_bytes=2 * macs / m.width_used * psum,
        weight_register_bytes=macs * word,
        glb_bytes=input_words * word + psum_moved,
        noc_bytes=(input_words + weight_words) * word + psum_moved,
    )
