"""Dynamic energy of one layer from its access counts and the normalised energy table.

Energy is split by level (MAC, PE-local storage, global buffer, NoC, DRAM) so that a comparison of
two accelerators can show *where* a dataflow saves energy. Dynamic energy does not depend on the
DRAM bandwidth a layer gets; only static energy (power x time) does, and that is added in
``relmas.hardware.cost`` once the latency is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from relmas.hardware.accesses import DataflowResult
from relmas.hardware.spec import AcceleratorSpec, DramSpec

PJ = 1e-12


@dataclass(frozen=True, slots=True)
class EnergyBreakdown:
    """Dynamic energy of one layer, joules per level.

    Attributes:
        mac_j: Multiply-accumulates.
        rf_j: PE-local storage: spads, registers, PE buffers, accumulation buffers.
        glb_j: Global buffer, both array-side traffic and DRAM fills/drains.
        noc_j: On-chip network between the GLB and the PEs.
        dram_j: Off-chip DRAM accesses.
    """

    mac_j: float
    rf_j: float
    glb_j: float
    noc_j: float
    dram_j: float

    @property
    def total_j(self) -> float:
        """Sum over all levels."""
        return self.mac_j + self.rf_j + self.glb_j + self.noc_j + self.dram_j

    def as_dict(self) -> dict[str, float]:
        """Level name -> joules, for JSON output and plots."""
        return asdict(self)


def dynamic_energy(
    macs: int,
    result: DataflowResult,
    dram_bytes: float,
    spec: AcceleratorSpec,
    dram: DramSpec,
) -> EnergyBreakdown:
    """Energy of the MACs and of every access the dataflow and the DRAM tiling reported."""
    e = spec.energy
    rf_pj = (
        result.pe_input_bytes * e.pe_input_pj_per_byte
        + result.pe_weight_bytes * e.pe_weight_pj_per_byte
        + result.pe_psum_bytes * e.pe_psum_pj_per_byte
        + result.weight_register_bytes * e.weight_register_pj_per_byte
    )
    # every DRAM byte is staged through the GLB once; weights really bypass it on both designs,
    # a small overcount (weights are a minority of the traffic) accepted to keep one formula
    glb_pj = (result.glb_bytes + dram_bytes) * e.glb_pj_per_byte
    return EnergyBreakdown(
        mac_j=macs * e.mac_pj * PJ,
        rf_j=rf_pj * PJ,
        glb_j=glb_pj * PJ,
        noc_j=result.noc_bytes * e.noc_pj_per_byte * PJ,
        dram_j=dram_bytes * dram.energy_per_byte_j,
    )
