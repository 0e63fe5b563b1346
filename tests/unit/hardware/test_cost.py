"""LayerCost arithmetic, tables, and input validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from relmas.errors import UserError
from relmas.hardware.cost import layer_cost
from relmas.hardware.layer import Layer
from relmas.hardware.spec import AcceleratorSpec, DramSpec
from relmas.hardware.tables import ModelCostTable, build_cost_table

CONV = Layer("conv", "conv", n=1, c=64, k=64, groups=1, p=56, q=56, r=3, s=3)
FC = Layer("fc", "fc", n=1, c=4096, k=4096, groups=1, p=1, q=1, r=1, s=1)


def test_latency_is_compute_bound_above_required_bandwidth(
    simba: AcceleratorSpec, dram: DramSpec
) -> None:
    cost = layer_cost(CONV, simba, dram)
    need = cost.required_bandwidth_bytes_per_s
    assert cost.latency_s(2 * need) == cost.compute_s
    assert cost.latency_s(need / 4) == pytest.approx(4 * cost.compute_s)
    assert cost.compute_s == pytest.approx(cost.cycles / simba.clock_hz)
    assert cost.utilization == pytest.approx(cost.macs / (cost.cycles * simba.mac_units))


def test_energy_adds_static_power_over_latency(eyeriss: AcceleratorSpec, dram: DramSpec) -> None:
    cost = layer_cost(FC, eyeriss, dram)
    slow, fast = 1e9, 1e12
    extra = cost.energy_j(slow) - cost.energy_j(fast)
    expected = eyeriss.static_power_w * (cost.latency_s(slow) - cost.latency_s(fast))
    assert extra == pytest.approx(expected)
    breakdown = cost.energy_breakdown_j(slow)
    assert set(breakdown) == {"mac_j", "rf_j", "glb_j", "noc_j", "dram_j", "static_j"}
    assert sum(breakdown.values()) == pytest.approx(cost.energy_j(slow))
    assert breakdown["dram_j"] == pytest.approx(cost.dram_bytes * dram.energy_per_byte_j)


def test_fc_weights_are_read_from_dram_once(simba: AcceleratorSpec, dram: DramSpec) -> None:
    cost = layer_cost(FC, simba, dram)
    compulsory = FC.weight_words + FC.input_words + FC.output_words
    assert cost.dram_bytes == compulsory * simba.word_bytes


def test_activation_operand_is_not_reused_across_batch(
    eyeriss: AcceleratorSpec, dram: DramSpec
) -> None:
    gemm = Layer("qk", "matmul", n=4, c=64, k=128, groups=1, p=128, q=1, r=1, s=1)
    shared = layer_cost(gemm, eyeriss, dram).dram_bytes
    streamed = layer_cost(
        dataclasses.replace(gemm, weights_are_activations=True), eyeriss, dram
    ).dram_bytes
    assert streamed - shared == pytest.approx(3 * gemm.weight_words * eyeriss.word_bytes)


@pytest.mark.parametrize("field", ["n", "c", "k", "groups", "p", "q", "r", "s", "stride"])
@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_layer_size_names_the_field(
    field: str, value: int, eyeriss: AcceleratorSpec, dram: DramSpec
) -> None:
    with pytest.raises(UserError, match=rf"\.{field}: must be a positive integer"):
        layer_cost(dataclasses.replace(CONV, **{field: value}), eyeriss, dram)


def test_groups_must_divide_channels(eyeriss: AcceleratorSpec, dram: DramSpec) -> None:
    with pytest.raises(UserError, match="groups"):
        layer_cost(dataclasses.replace(CONV, groups=5), eyeriss, dram)


@pytest.mark.parametrize("bandwidth", [0.0, -1.0])
def test_non_positive_bandwidth_is_a_user_error(
    bandwidth: float, eyeriss: AcceleratorSpec, dram: DramSpec
) -> None:
    cost = layer_cost(CONV, eyeriss, dram)
    with pytest.raises(UserError, match="bandwidth_bytes_per_s"):
        cost.latency_s(bandwidth)
    with pytest.raises(UserError, match="bandwidth_bytes_per_s"):
        cost.energy_j(bandwidth)


def test_table_matches_layer_costs_and_round_trips(
    eyeriss: AcceleratorSpec, dram: DramSpec
) -> None:
    table = build_cost_table("toy", [CONV, FC], eyeriss, dram)
    costs = [layer_cost(x, eyeriss, dram) for x in (CONV, FC)]
    assert table.layer_names == ("conv", "fc")
    assert table.macs.dtype == np.int64 and table.compute_s.dtype == np.float64
    assert list(table.compute_s) == [c.compute_s for c in costs]
    assert list(table.energy_dynamic_j) == [c.dynamic_energy.total_j for c in costs]
    assert not table.dram_bytes.flags.writeable
    again = ModelCostTable.from_arrays(table.to_arrays())
    assert again.layer_names == table.layer_names and again.kinds == table.kinds
    assert again.static_power_w == table.static_power_w == eyeriss.static_power_w
    for name in ("macs", "cycles", "compute_s", "dram_bytes", "energy_dynamic_j", "utilization"):
        np.testing.assert_array_equal(getattr(again, name), getattr(table, name))
