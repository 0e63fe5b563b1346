"""Row-stationary (Eyeriss-like) dataflow: compute cycles and GLB<->array traffic.

Formulas are costmodel.md §3.2/§3.3. A logical PE set holds filter rows (R, down the PE rows) x
output rows (P, across the PE columns); each PE runs a 1-D convolution of Q outputs x S taps.
Leftover rows replicate the set over input channels, leftover columns over filters. The compute
formula reproduces Timeloop's Eyeriss-like reference cycles exactly (86,016 and 5,505,024), which
the calibration tests pin down.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmas.hardware.accesses import DataflowResult, ceil_div, onchip_cycles
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec


@dataclass(frozen=True, slots=True)
class RsMapping:
    """How one layer folds onto the PE array (names follow costmodel §3.2)."""

    r_fold: int  # nR: passes over very tall filters
    c_rep: int  # r: PE-set replicas stacked vertically, each on different input channels
    strips: int  # output-row strips of width e
    k_rep: int  # t: PE-set replicas side by side, each on different filters
    p_filters: int  # p: filters interleaved inside one PE (bounded by the psum spad)
    q_channels: int  # q: channels interleaved inside one PE (bounded by the weight spad)


def rs_mapping(layer: Layer, spec: AcceleratorSpec) -> RsMapping:
    """Fold the layer onto the array; pure integer arithmetic, no search."""
    rows, cols = spec.array.pe_rows, spec.array.pe_cols
    r_eff = min(layer.r, rows)
    c_rep = max(1, rows // r_eff)
    e = min(layer.p, cols)
    k_rep = max(1, cols // e)
    p_filters = min(layer.k_per_group, spec.pe_buffers.psum_words)
    q_channels = max(1, spec.pe_buffers.weight_words // (layer.s * p_filters))
    q_channels = min(q_channels, ceil_div(layer.c_per_group, c_rep))
    return RsMapping(
        r_fold=ceil_div(layer.r, rows),
        c_rep=c_rep,
        strips=ceil_div(layer.p, e),
        k_rep=k_rep,
        p_filters=p_filters,
        q_channels=q_channels,
    )


def is_depthwise(layer: Layer) -> bool:
    """Depthwise: one input and one output channel per group, many groups."""
    return layer.groups > 1 and layer.c_per_group == 1 and layer.k_per_group == 1


def rs_compute_cycles(layer: Layer, m: RsMapping) -> int:
    """Cycles of the row-stationary mapping if operands arrived for free."""
    inner = layer.q * layer.s * m.r_fold
    if is_depthwise(layer):
        return layer.n * m.strips * ceil_div(layer.groups, m.c_rep * m.k_rep) * inner
    return (
        layer.n
        * layer.groups
        * m.strips
        * ceil_div(layer.c_per_group, m.c_rep)
        * ceil_div(layer.k_per_group, m.k_rep)
        * inner
    )


def rs_cost(layer: Layer, spec: AcceleratorSpec) -> DataflowResult:
    """Cycles and per-level traffic of ``layer`` on a row-stationary accelerator."""
    m = rs_mapping(layer, spec)
    bw = spec.onchip_bandwidth
    word, psum = spec.word_bytes, spec.psum_bytes
    # ifmap is re-multicast once per group of p*t filters; weights once per strip and batch item.
    input_words = layer.input_words * ceil_div(layer.k_per_group, m.p_filters * m.k_rep)
    weight_words = layer.weight_words * layer.n * m.strips
    c_passes = ceil_div(layer.c_per_group, m.q_channels * m.c_rep)
    psum_writes = layer.output_words * c_passes
    psum_reads = layer.output_words * (c_passes - 1)
    macs = layer.macs
    psum_bytes_moved = (psum_reads + psum_writes) * psum
    return DataflowResult(
        compute_cycles=rs_compute_cycles(layer, m),
        onchip_cycles=onchip_cycles(bw, input_words, weight_words, psum_reads, psum_writes),
        parallel_filters=m.p_filters * m.k_rep,
        weight_capacity_words=spec.array.num_pes * spec.pe_buffers.weight_words,
        input_capacity_words=spec.glb_bytes // 2 // word,
        glb_words=spec.glb_bytes // word,
        parallel_channels=m.c_rep * m.q_channels,
        # every MAC reads one ifmap and one weight from the spads and updates one psum (r + w)
        pe_input_bytes=(macs + input_words) * word,
        pe_weight_bytes=(macs + weight_words) * word,
        pe_psum_bytes=2 * macs * psum,
        weight_register_bytes=0.0,
        glb_bytes=input_words * word + psum_bytes_moved,
        noc_bytes=(input_words + weight_words) * word + psum_bytes_moved,
    )
