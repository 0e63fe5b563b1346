"""The shipped YAML specs and the pydantic models that validate them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from relmas.hardware.spec import AcceleratorSpec, Composition
from relmas.loaders import hardware

REQUIRED_COMPOSITIONS = ("2s2e", "3s1e", "1s3e", "4s4e", "1s1e", "2s0e", "0s2e")


def test_exercise_pair_sizes_and_shared_clock(
    eyeriss: AcceleratorSpec, simba: AcceleratorSpec, simba_chiplet: AcceleratorSpec
) -> None:
    assert (eyeriss.dataflow, eyeriss.mac_units) == ("row_stationary", 168)
    assert (simba.dataflow, simba.mac_units) == ("weight_stationary", 256)
    assert simba_chiplet.mac_units == 1024
    assert eyeriss.clock_hz == simba.clock_hz
    assert eyeriss.word_bytes == simba.word_bytes == 1


def test_one_normalised_energy_table(
    eyeriss: AcceleratorSpec, simba: AcceleratorSpec, simba_chiplet: AcceleratorSpec
) -> None:
    """Costs that exist on every design must be identical, so comparisons reflect dataflow."""
    for other in (simba, simba_chiplet):
        for field in ("mac_pj", "glb_pj_per_byte", "noc_pj_per_byte"):
            assert getattr(eyeriss.energy, field) == getattr(other.energy, field), field
    # same size class -> same cost: register files and the ~0.2-0.4 KB SRAMs
    assert eyeriss.energy.pe_input_pj_per_byte == simba.energy.weight_register_pj_per_byte
    assert eyeriss.energy.pe_weight_pj_per_byte == simba.energy.pe_psum_pj_per_byte


def test_all_required_compositions_exist_and_are_valid() -> None:
    compositions = hardware.load_compositions()
    assert set(REQUIRED_COMPOSITIONS) <= set(compositions)
    c = compositions["2s2e"]
    assert c.accel_types == ("eyeriss", "eyeriss", "simba", "simba")
    assert c.bandwidth_bytes_per_s == pytest.approx(c.dram_bandwidth_gbps * 1e9)
    assert compositions["2s0e"].accel_types == ("simba", "simba")
    assert compositions["0s2e"].accel_types == ("eyeriss", "eyeriss")


def test_accel_types_order_does_not_depend_on_key_order() -> None:
    a = Composition(name="a", counts={"simba": 1, "eyeriss": 2}, dram_bandwidth_gbps=1)
    b = Composition(name="b", counts={"eyeriss": 2, "simba": 1}, dram_bandwidth_gbps=1)
    assert a.accel_types == b.accel_types == ("eyeriss", "eyeriss", "simba")


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"simba": -1, "eyeriss": 2}, "must be >= 0"),
        ({"simba": 0}, "no sub-accelerators"),
        ({}, "no sub"),
    ],
)
def test_invalid_compositions_rejected(counts: dict[str, int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Composition(name="bad", counts=counts, dram_bandwidth_gbps=10)


def test_spec_is_frozen_and_rejects_unknown_keys(eyeriss: AcceleratorSpec) -> None:
    with pytest.raises(ValidationError):
        eyeriss.clock_hz = 2e9  # type: ignore[misc]
    data = eyeriss.model_dump()
    data["clock_mhz"] = 200
    with pytest.raises(ValidationError, match="clock_mhz"):
        AcceleratorSpec.model_validate(data)


def test_accelerator_names_exclude_dram_and_compositions() -> None:
    assert hardware.accelerator_names() == ["eyeriss", "simba", "simba_chiplet"]
