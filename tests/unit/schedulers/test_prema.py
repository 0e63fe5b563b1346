"""PREMA: token classes from priority-weighted waiting, SJF inside the top class.

The first tests pin the relmas form (each waiting interval credited once, the default before
issue 15); the form=dysta tests at the end pin the default, Dysta's PREMA_Scheduler."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.errors import UserError
from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# 0 = simba, 1 = eyeriss.
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "L": {"simba": [1.0], "eyeriss": [2.0]},  # short, iso 1
        "M": {"simba": [2.0], "eyeriss": [4.0]},  # iso 2
        "H": {"simba": [4.0], "eyeriss": [8.0]},  # long, iso 4
        "X": {"simba": [2.5], "eyeriss": [100.0]},  # blocker for simba
        "Y": {"simba": [100.0], "eyeriss": [2.5]},  # blocker for eyeriss
        "W": {"simba": [5.0], "eyeriss": [10.0]},  # mid-priority long job, iso 5
    },
)


def _run(specs: list[RequestSpec], **params: object) -> SimResult:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("prema", params)
    sched.reset(sim, np.random.default_rng(0))
    return sim.run(sched, seed=0)


def _placement(res: SimResult) -> dict[int, tuple[int, float, float]]:
    return {rid: (a, start, end) for a, rid, _, start, end in res.trace}


def test_high_priority_long_job_goes_first() -> None:
    # t=0: L (prio 1, rid 0), M (prio 3, rid 1), H (prio 9, rid 2). Tokens = priorities 1/3/9;
    # max 9 -> class 9 = {H}; then class 3 = {M}; then L. So H takes simba (0..4), M eyeriss
    # (0..4), and L waits until t=4: simba 4..5. Plain SJF would start L first on simba.
    specs = [
        RequestSpec(0.0, 0, 0, 1, 100.0),
        RequestSpec(0.0, 0, 1, 3, 100.0),
        RequestSpec(0.0, 0, 2, 9, 100.0),
    ]
    got = _placement(_run(specs, form="relmas"))
    assert got[2] == (0, 0.0, pytest.approx(4.0))
    assert got[1] == (1, 0.0, pytest.approx(4.0))
    assert got[0] == (0, pytest.approx(4.0), pytest.approx(5.0))
    # form=dysta (the default): at t=0 all three are new, so no old token sets the threshold:
    # it is the smallest (1), all are candidates and SJF places L on simba (0..1), M on eyeriss
    # (0..4). At t=1 H's token is 9 + 9 x 1/4 = 11.25 -> threshold 9 -> H on simba (1..5).
    got = _placement(_run(specs))
    assert got[0] == (0, 0.0, pytest.approx(1.0))
    assert got[1] == (1, 0.0, pytest.approx(4.0))
    assert got[2] == (0, pytest.approx(1.0), pytest.approx(5.0))


def _aging_specs() -> list[RequestSpec]:
    # Blockers X (rid 0) and Y (rid 1), prio 9, hold both units 0..2.5. L (prio 1, iso 1,
    # rid 2) arrives at 0 and waits. W (prio 3, iso 5, rid 3) arrives at 2.5.
    return [
        RequestSpec(0.0, 0, 3, 9, 100.0),
        RequestSpec(0.0, 0, 4, 9, 100.0),
        RequestSpec(0.0, 0, 0, 1, 100.0),
        RequestSpec(2.5, 0, 5, 3, 100.0),
    ]


def test_waiting_raises_a_low_priority_job_into_the_next_class() -> None:
    # At t=2.5 L's token is 1 + 1 * 2.5 / 1 = 3.5 >= 3 and W's is 3: both are in class 3 and
    # SJF picks L (1 s left vs 5 s). L takes simba (1 < 2): 2.5..3.5; W gets eyeriss: 2.5..12.5.
    # Without the token credit L would stay in class 1 and W would take simba 2.5..7.5.
    got = _placement(_run(_aging_specs(), form="relmas"))
    assert got[2] == (0, pytest.approx(2.5), pytest.approx(3.5))
    assert got[3] == (1, pytest.approx(2.5), pytest.approx(12.5))


def test_thresholds_are_a_tunable_knob() -> None:
    # Same arrivals as the first test, but one class at 20: no token (1/3/9) reaches it, so all
    # share class 0 and PREMA reduces to SJF: L (1 s) on simba 0..1, M (2 s) on eyeriss 0..4,
    # and H waits for simba: 1..5.
    specs = [
        RequestSpec(0.0, 0, 0, 1, 100.0),
        RequestSpec(0.0, 0, 1, 3, 100.0),
        RequestSpec(0.0, 0, 2, 9, 100.0),
    ]
    got = _placement(_run(specs, thresholds=[20.0], form="relmas"))
    assert got[0] == (0, 0.0, pytest.approx(1.0))
    assert got[1] == (1, 0.0, pytest.approx(4.0))
    assert got[2] == (0, pytest.approx(1.0), pytest.approx(5.0))


def test_token_class_is_the_largest_threshold_reached() -> None:
    sched = make_scheduler("prema", {"thresholds": [9, 3, 1]})
    tokens = (0.5, 1.0, 2.9, 3.5, 9.0, 20.0)
    classes = [sched.token_class(t) for t in tokens]  # type: ignore[attr-defined]
    assert classes == [0.0, 1.0, 1.0, 3.0, 9.0, 9.0]


@pytest.mark.parametrize("bad", [[], [1, 3, 9], [9, 3, 3], [9, 0]])
def test_thresholds_must_be_positive_and_decreasing(bad: list[float]) -> None:
    with pytest.raises(UserError):
        make_scheduler("prema", {"thresholds": bad})


def test_each_waiting_interval_is_credited_once() -> None:
    # The relmas form credits each interval of waiting once (form=dysta re-adds it at every
    # call). At t=2.5 L (prio 1, iso 1, waiting since 0) must hold 1 + 2.5 = 3.5 however often
    # the tokens are refreshed.
    sim = Simulator(CHIP, _aging_specs())
    sched = make_scheduler("prema", {"form": "relmas"})
    sched.reset(sim, np.random.default_rng(0))
    assert sim.advance()
    sim.apply(sched.decide(sim))  # t=0: X, Y dispatched, L waits
    assert sim.advance()
    assert sim.now_s == pytest.approx(2.5)
    for _ in range(3):
        sched.update_tokens(sim)  # type: ignore[attr-defined]
    assert sched.tokens[2] == pytest.approx(3.5)  # type: ignore[attr-defined]
    assert sched.tokens[3] == pytest.approx(3.0)  # type: ignore[attr-defined]


# --- form=dysta: Dysta's PREMA_Scheduler line by line -----------------------------------------

ONE = toy_chip(
    ["simba"],
    {
        "K": {"simba": [1.0, 1.0, 1.0]},  # three 1 s layers, iso 3
        "W": {"simba": [1.0]},  # iso 1
        "M": {"simba": [2.0]},  # iso 2
        "K4": {"simba": [1.0, 1.0, 1.0, 1.0]},  # four 1 s layers, iso 4
    },
)


def _finishes(specs: list[RequestSpec], **params: object) -> list[float]:
    sim = Simulator(ONE, specs)
    return sim.run(make_scheduler("prema", params), seed=0).finish_s.tolist()


def test_dysta_form_leaves_fresh_tokens_out_of_the_threshold() -> None:
    # One unit. At t=0: K4 (prio 9, 4 x 1 s, iso 4, rid 0) and W (prio 3, 1 s, iso 1, rid 1).
    # relmas: tokens 9 and 3 -> class 9 = {K4}: K4 [0, 1], [1, 2]; at t=1 W holds 3 + 3 x 1/1 = 6
    #   (class 3); at t=2, 6 + 3 = 9 -> class 9 with K4, SJF: W (1 s) < K4 (2 s): W [2, 3];
    #   K4 ends at 5.
    # dysta: at t=0 both are new: tokens set to 9 and 3 but the maximum of old tokens is 0, so
    #   the threshold is the smallest (1), both are candidates and SJF runs W [0, 1]; K4 [1, 5].
    specs = [RequestSpec(0.0, 0, 3, 9, 100.0), RequestSpec(0.0, 0, 1, 3, 100.0)]
    assert _finishes(specs, form="relmas") == [5.0, 3.0]
    assert _finishes(specs) == _finishes(specs, form="dysta") == [5.0, 1.0]  # dysta: the default


def test_dysta_form_adds_the_whole_idle_time_again_at_every_call() -> None:
    # K (prio 9, 3 x 1 s, iso 3, rid 0) arrives at 0 and runs [0, 1], [1, 2], [2, 3]: its
    # tokens stay 9 (idle 0). W (prio 1, 1 s, iso 1, rid 1) and M (prio 3, 2 s, iso 2, rid 2)
    # arrive at 0.5, while K runs. Tokens at the decisions t = 1, 2, 3:
    #   relmas (each interval once):  W 1 + 0.5 = 1.5, 2.5, 3.5;  M 3 + 0.75 = 3.75, 5.25, 6.75
    #   dysta (idle since 0.5 re-added): W 1 (new), 1 + 1.5 = 2.5, 2.5 + 2.5 = 5.0;
    #                                    M 3 (new), 3 + 2.25 = 5.25, 5.25 + 3.75 = 9.0
    # At t=3 (K done): relmas has W and M both in class 3 -> SJF: W [3, 4], M [4, 6];
    # dysta has M at 9 -> threshold 9, candidates {M}: M [3, 5], W [5, 6].
    specs = [
        RequestSpec(0.0, 0, 0, 9, 100.0),
        RequestSpec(0.5, 0, 1, 1, 100.0),
        RequestSpec(0.5, 0, 2, 3, 100.0),
    ]
    assert _finishes(specs, form="relmas") == [3.0, 4.0, 6.0]
    assert _finishes(specs, form="dysta") == [3.0, 6.0, 5.0]
    sim = Simulator(ONE, specs)
    sched = make_scheduler("prema")  # the default form: dysta
    sched.reset(sim, np.random.default_rng(0))
    for _ in range(4):  # decisions at t = 0, 1, 2, 3
        assert sim.advance()
        sim.apply(sched.decide(sim))
    assert sim.now_s == 3.0
    assert sched.tokens == {0: 9.0, 1: 5.0, 2: 9.0}  # type: ignore[attr-defined]
