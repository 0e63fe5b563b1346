"""Validated hardware specifications: one sub-accelerator type, the shared DRAM, a composition.

The YAML files under ``hardware_models/`` are parsed into these models by
``relmas.loaders.hardware``. They are frozen and reject unknown keys so that a typo in a spec file
fails loudly instead of silently falling back to a default, which would corrupt every cost table
built from it. The cost model (``relmas.hardware.cost``) only ever sees these validated objects.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Dataflow = Literal["weight_stationary", "row_stationary"]


class _Frozen(BaseModel):
    """Base for all spec models: immutable, unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ArraySpec(_Frozen):
    """Geometry of the MAC array, written so that both dataflows fit one schema.

    Row-stationary (Eyeriss-like) uses ``pe_rows x pe_cols`` scalar PEs. Weight-stationary
    (Simba-like) uses ``pe_rows x pe_cols`` PEs, each with ``lanes_per_pe`` vector-MAC lanes
    (mapped to output channels K) of ``vector_width`` multipliers (mapped to input channels C).
    """

    pe_rows: int = Field(gt=0, description="PE array rows (Eyeriss: filter rows R map here).")
    pe_cols: int = Field(gt=0, description="PE array columns (Eyeriss: output rows P map here).")
    lanes_per_pe: int = Field(
        default=1,
        gt=0,
        description="Vector-MAC lanes per PE; weight-stationary maps K across them.",
    )
    vector_width: int = Field(
        default=1, gt=0, description="Multipliers per lane; weight-stationary maps C across them."
    )

    @property
    def num_pes(self) -> int:
        """Number of processing elements."""
        return self.pe_rows * self.pe_cols

    @property
    def mac_units(self) -> int:
        """Multipliers that can work in one cycle (peak MACs/cycle)."""
        return self.num_pes * self.lanes_per_pe * self.vector_width


class PeBufferSpec(_Frozen):
    """Capacity of the storage inside one PE, per operand, in words (psum entries for outputs)."""

    input_words: int = Field(gt=0, description="Input (ifmap) words one PE can hold.")
    weight_words: int = Field(gt=0, description="Weight words one PE can hold.")
    psum_words: int = Field(gt=0, description="Partial-sum entries one PE can hold.")


class OnChipBandwidthSpec(_Frozen):
    """Words per cycle the on-chip network can move between the global buffer and the array.

    These bounds are what keep depthwise and FC layers from looking perfect on row-stationary
    (Eyeriss v1's known weakness, the motivation of Eyeriss v2).
    """

    glb_read_words_per_cycle: float = Field(gt=0, description="GLB read bandwidth (words/cycle).")
    glb_write_words_per_cycle: float = Field(gt=0, description="GLB write bandwidth (words/cycle).")
    input_bus_words_per_cycle: float = Field(
        gt=0, description="Input multicast bus into the array (words/cycle)."
    )
    weight_bus_words_per_cycle: float = Field(
        gt=0, description="Weight delivery into PE storage (words/cycle); weights bypass the GLB."
    )


class EnergySpec(_Frozen):
    """Energy per action, all from ONE normalised table shared by every accelerator type.

    Per-byte figures depend only on the storage size class (register file, small SRAM, GLB), never
    on which accelerator owns the storage, so an energy comparison reflects the dataflow.
    """

    mac_pj: float = Field(gt=0, description="One 8-bit multiply-accumulate (pJ).")
    pe_input_pj_per_byte: float = Field(ge=0, description="PE input storage access (pJ/B).")
    pe_weight_pj_per_byte: float = Field(ge=0, description="PE weight storage access (pJ/B).")
    pe_psum_pj_per_byte: float = Field(ge=0, description="PE partial-sum storage access (pJ/B).")
    weight_register_pj_per_byte: float = Field(
        default=0.0, ge=0, description="Per-MAC weight register read (pJ/B); 0 if none."
    )
    glb_pj_per_byte: float = Field(gt=0, description="Global buffer access (pJ/B).")
    noc_pj_per_byte: float = Field(ge=0, description="On-chip network transfer (pJ/B).")


class AcceleratorSpec(_Frozen):
    """One sub-accelerator type (e.g. ``eyeriss``, ``simba``)."""

    name: str = Field(min_length=1, description="Type name, equal to the YAML file stem.")
    dataflow: Dataflow = Field(description="weight_stationary (Simba) or row_stationary (Eyeriss).")
    description: str = Field(default="", description="One line saying what this spec models.")
    clock_hz: float = Field(gt=0, description="Core clock (Hz).")
    word_bytes: int = Field(gt=0, description="Bytes per weight/activation word.")
    psum_bytes: int = Field(gt=0, description="Bytes per partial sum.")
    array: ArraySpec = Field(description="MAC array geometry.")
    pe_buffers: PeBufferSpec = Field(description="Per-PE storage capacities.")
    glb_bytes: int = Field(gt=0, description="Global buffer capacity (inputs + outputs), bytes.")
    onchip_bandwidth: OnChipBandwidthSpec = Field(description="GLB/NoC bandwidths.")
    energy: EnergySpec = Field(description="Energy per action (normalised table).")
    static_power_w: float = Field(ge=0, description="Leakage power while powered (W).")

    @property
    def mac_units(self) -> int:
        """Peak MACs per cycle."""
        return self.array.mac_units

    @property
    def peak_macs_per_s(self) -> float:
        """Peak MAC throughput, for summaries and plots."""
        return self.mac_units * self.clock_hz


class DramSpec(_Frozen):
    """The off-chip DRAM shared by every sub-accelerator of a composition."""

    bandwidth_bytes_per_s: float = Field(
        gt=0, description="Default bandwidth when a composition does not set one (B/s)."
    )
    energy_per_byte_j: float = Field(gt=0, description="Access energy per byte moved (J/B).")
    static_power_w: float = Field(ge=0, description="Background/refresh power while powered (W).")


class Composition(_Frozen):
    """A named heterogeneous system: how many of each accelerator type, and the DRAM bandwidth."""

    name: str = Field(min_length=1, description="Composition name, e.g. '2s2e'.")
    counts: dict[str, int] = Field(description="Accelerator type name -> number of instances.")
    dram_bandwidth_gbps: float = Field(
        gt=0, description="Shared DRAM bandwidth in GB/s (1 GB/s = 1e9 B/s)."
    )
    description: str = Field(default="", description="Why this composition exists.")

    @model_validator(mode="after")
    def _check_counts(self) -> Composition:
        """Reject negative counts and empty systems: a scheduler needs at least one device."""
        for accel, count in self.counts.items():
            if count < 0:
                raise ValueError(f"count of {accel!r} is {count}; counts must be >= 0")
        if sum(self.counts.values()) == 0:
            raise ValueError("composition has no sub-accelerators; give at least one count > 0")
        return self

    @property
    def accel_types(self) -> tuple[str, ...]:
        """Type name of each instance, one entry per instance.

        Types are sorted by name so the instance order does not depend on the key order in the
        YAML file; instance ``i`` of the simulator is ``accel_types[i]``.
        """
        return tuple(accel for accel in sorted(self.counts) for _ in range(self.counts[accel]))

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Shared DRAM bandwidth in bytes/s."""
        return self.dram_bandwidth_gbps * 1e9
