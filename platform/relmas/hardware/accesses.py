"""What a dataflow model reports for one layer: cycles and on-chip traffic per storage level.

Both dataflow modules (``dataflow_rs``, ``dataflow_ws``) return this record so that the energy
and DRAM models downstream do not need to know which dataflow produced it.
"""

from __future__ import annotations

from dataclasses import dataclass

from relmas.hardware.spec import OnChipBandwidthSpec


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling division for positive ints (loop-tile counts)."""
    return -(-a // b)


def onchip_cycles(
    bw: OnChipBandwidthSpec,
    input_words: int,
    weight_words: int,
    psum_reads: int,
    psum_writes: int,
) -> int:
    """Cycles to move the operands through the slowest on-chip channel (costmodel §3.3)."""
    cycles = max(
        input_words / bw.input_bus_words_per_cycle,
        weight_words / bw.weight_bus_words_per_cycle,
        (input_words + psum_reads) / bw.glb_read_words_per_cycle,
        psum_writes / bw.glb_write_words_per_cycle,
    )
    return int(-(-cycles // 1))


@dataclass(frozen=True, slots=True)
class DataflowResult:
    """Cycles and access counts of one layer on one dataflow.

    Attributes:
        compute_cycles: Cycles of the spatial/temporal mapping if data arrived for free.
        onchip_cycles: Cycles needed to move operands between the GLB and the array.
        parallel_filters: Filters (K) resident in the array at once; sets the psum-spill check.
        weight_capacity_words: Weight words the PEs hold at once (B_W of costmodel §3.4).
        input_capacity_words: Input words on chip for tiling (B_I of costmodel §3.4).
        glb_words: Global buffer size in words.
        parallel_channels: Input channels the array consumes at once.
        pe_input_bytes: Bytes read/written in PE-level input storage.
        pe_weight_bytes: Bytes read/written in PE-level weight storage.
        pe_psum_bytes: Bytes read/written in PE-level partial-sum storage.
        weight_register_bytes: Bytes read from per-MAC weight registers (WS only).
        glb_bytes: Bytes moved between the GLB and the array (array side).
        noc_bytes: Bytes carried by the on-chip network.
    """

    compute_cycles: int
    onchip_cycles: int
    parallel_filters: int
    weight_capacity_words: int
    input_capacity_words: int
    glb_words: int
    parallel_channels: int
    pe_input_bytes: float
    pe_weight_bytes: float
    pe_psum_bytes: float
    weight_register_bytes: float
    glb_bytes: float
    noc_bytes: float

    @property
    def cycles(self) -> int:
        """Cycles at unlimited DRAM bandwidth: the slower of compute and on-chip delivery."""
        return max(self.compute_cycles, self.onchip_cycles)
