"""The engine's sorted free list: ``take_free`` behaves as ``list.remove`` on short and long lists.

The long-list branch (a bisection, 16 free units or more) runs only on big chips, which the
other unit tests' toy chips never reach; these pin it to ``list.remove``'s result.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relmas.sim import RequestSpec, Simulator
from relmas.sim.decisions import SchedulingError
from relmas.sim.lifecycle import take_free
from relmas.sim.request import Dispatch
from relmas.sim.toy import toy_chip


@given(
    free=st.lists(st.integers(0, 80), max_size=40, unique=True).map(sorted),
    unit=st.integers(0, 80),
)
def test_take_free_is_list_remove_on_any_length(free: list[int], unit: int) -> None:
    expected = list(free)
    found = unit in expected
    if found:
        expected.remove(unit)
    assert take_free(free, unit) is found
    assert free == expected


def test_a_busy_unit_of_a_big_chip_is_refused_by_name() -> None:
    chip = toy_chip(["simba"] * 20, {"m": {"simba": [1.0, 1.0]}})
    sim = Simulator(chip, [RequestSpec(0.0, 0, 0, 1, 9.0), RequestSpec(0.0, 0, 0, 1, 9.0)])
    assert sim.advance()
    r0, r1 = sim.ready.values()
    assert len(sim.free_accels) == 20  # the bisection branch
    assert sim.apply([Dispatch(r0, 7)]) == 1
    assert 7 not in sim.free_accels and sim.free_accels == sorted(sim.free_accels)
    with pytest.raises(SchedulingError, match="sub-accelerator 7"):
        sim.apply([Dispatch(r1, 7)])
    assert len(sim.free_accels) == 19  # nothing changed
