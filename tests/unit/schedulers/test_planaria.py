"""Planaria adaptation: meetable requests by priority / (slack x rem) onto the cheapest feasible
unit; requests that cannot meet their deadline last, on their fastest unit."""

from __future__ import annotations

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip

# 0 = simba, 1 = eyeriss. Energy per layer in J is given where placement depends on it.
CHIP = toy_chip(
    ["simba", "eyeriss"],
    {
        "A": {"simba": [2.0], "eyeriss": [3.0]},
        "B": {"simba": [4.0], "eyeriss": [8.0]},
        "C": {"simba": [1.0], "eyeriss": [6.0]},
        "X": {"simba": [1.0], "eyeriss": [10.0]},
        "Y": {"simba": [1.0], "eyeriss": [4.0]},
    },
    energy_j={"A": {"simba": [5.0], "eyeriss": [1.0]}},
)


def _placement(specs: list[RequestSpec], **params: object) -> dict[int, tuple[int, float, float]]:
    sim = Simulator(CHIP, specs, record_trace=True)
    sched = make_scheduler("planaria", params)
    sched.reset(sim, np.random.default_rng(0))
    res: SimResult = sim.run(sched, seed=0)
    return {rid: (a, start, end) for a, rid, _, start, end in res.trace}


def test_requests_that_cannot_meet_their_deadline_go_last() -> None:
    # t=0: C (rid 0, p1, deadline 5): rem 1 <= 5, score 1/(5*1) = 0.2; feasible only on simba
    #      (eyeriss 6 > 5).
    #      A (rid 1, p1, deadline 10): score 1/(10*2) = 0.05; feasible on both, eyeriss is the
    #      least energy (1 J vs 5 J).
    #      B (rid 2, p9, deadline 1): rem 4 > 1, cannot meet: score -9/4, last.
    # So C simba 0..1, A eyeriss 0..3, then B on simba 1..5 -- EDF or priority order would have
    # started B first.
    specs = [
        RequestSpec(0.0, 0, 2, 1, 5.0),
        RequestSpec(0.0, 0, 0, 1, 10.0),
        RequestSpec(0.0, 0, 1, 9, 1.0),
    ]
    got = _placement(specs)
    assert got[0] == (0, 0.0, pytest.approx(1.0))
    assert got[1] == (1, 0.0, pytest.approx(3.0))
    assert got[2] == (0, pytest.approx(1.0), pytest.approx(5.0))


@pytest.mark.parametrize(
    ("deadline_s", "prefer_low_energy", "unit", "finish_s"),
    [
        (10.0, True, 1, 3.0),  # both types meet 10 s: eyeriss uses 1 J instead of 5 J
        (2.5, True, 0, 2.0),  # eyeriss (3 s) would miss 2.5 s: simba is the only feasible type
        (10.0, False, 0, 2.0),  # latency preference: the fastest feasible type
    ],
)
def test_placement_is_the_cheapest_type_that_meets_the_slack(
    deadline_s: float, prefer_low_energy: bool, unit: int, finish_s: float
) -> None:
    got = _placement([RequestSpec(0.0, 0, 0, 1, deadline_s)], prefer_low_energy=prefer_low_energy)
    assert got[0] == (unit, 0.0, pytest.approx(finish_s))


def _waiting_specs() -> list[RequestSpec]:
    # X (rid 0, deadline 2): score 1/(2*1) = 0.5, feasible on simba only -> simba 0..1.
    # Y (rid 1, deadline 3): score 1/(3*1) = 0.33, feasible on simba only (eyeriss 4 > 3), and
    #   simba is taken.
    # A (rid 2, deadline 100): score 1/200, feasible on eyeriss (1 J) -> eyeriss 0..3.
    return [
        RequestSpec(0.0, 0, 3, 1, 2.0),
        RequestSpec(0.0, 0, 4, 1, 3.0),
        RequestSpec(0.0, 0, 0, 1, 100.0),
    ]


def test_meetable_request_waits_for_a_feasible_unit() -> None:
    # Y waits for simba (free at 1) and meets its deadline: 1..2 <= 3. Greedy fastest-free
    # placement would put Y on eyeriss 0..4 and miss it.
    got = _placement(_waiting_specs())
    assert got[0] == (0, 0.0, pytest.approx(1.0))
    assert got[2] == (1, 0.0, pytest.approx(3.0))
    assert got[1] == (0, pytest.approx(1.0), pytest.approx(2.0))


def test_work_conserving_gives_spare_units_to_blocked_requests() -> None:
    # Only X and Y: eyeriss stays free at t=0 because Y is feasible on simba only. By default Y
    # waits for simba (1..2, meets 3); with work_conserving=True it takes the spare eyeriss at
    # once (0..4, a miss) -- the knob trades deadline awareness for utilisation.
    specs = _waiting_specs()[:2]
    assert _placement(specs)[1] == (0, pytest.approx(1.0), pytest.approx(2.0))
    assert _placement(specs, work_conserving=True)[1] == (1, 0.0, pytest.approx(4.0))


def test_priority_exponent_zero_ranks_by_slack_and_work_only() -> None:
    # One unit. B (rid 0, p9, deadline 10, 4 s): score 9/(10*4) = 0.225; C (rid 1, p1,
    # deadline 5, 1 s): 1/(5*1) = 0.2. Planaria runs B first; with priority ** 0 the scores are
    # 1/40 vs 1/5 and C runs first.
    chip = toy_chip(["simba"], {"B": {"simba": [4.0]}, "C": {"simba": [1.0]}})
    specs = [RequestSpec(0.0, 0, 0, 9, 10.0), RequestSpec(0.0, 0, 1, 1, 5.0)]

    def starts(**params: object) -> list[float]:
        sim = Simulator(chip, specs, record_trace=True)
        sched = make_scheduler("planaria", params)
        sched.reset(sim, np.random.default_rng(0))
        trace = sim.run(sched, seed=0).trace
        return [start for _, _, _, start, _ in sorted(trace, key=lambda t: t[1])]

    assert starts() == [0.0, 4.0]
    assert starts(priority_exponent=0.0) == [1.0, 0.0]


# --- the published forms (form=dysta, form=authors) beside relmas's -----------------------------

# One unit; single-layer models, so a request started runs to its end and the order is the story.
ONE = toy_chip(
    ["simba"],
    {"A": {"simba": [1.0]}, "B": {"simba": [4.0]}, "C": {"simba": [2.0]}, "D": {"simba": [1.0]}},
)


def _finishes(chip: object, specs: list[RequestSpec], **params: object) -> list[float]:
    sim = Simulator(chip, specs)  # type: ignore[arg-type]
    res = sim.run(make_scheduler("planaria", params), seed=0)
    return res.finish_s.tolist()


def _forms_specs() -> list[RequestSpec]:
    # All at t=0 on one unit (rem = the model's single layer):
    #   rid model rem prio deadline  meets?
    #   0   A     1   1    2.5       yes (1 <= 2.5)
    #   1   B     4   3    5         yes (4 <= 5)
    #   2   C     2   9    1.5       no  (2 > 1.5)
    #   3   D     1   1    0.5       no  (1 > 0.5)
    rows = ((0, 1, 2.5), (1, 3, 5.0), (2, 9, 1.5), (3, 1, 0.5))  # (model, priority, deadline)
    return [RequestSpec(0.0, 0, m, p, d) for m, p, d in rows]


def test_relmas_form_scores_slack_times_work_and_runs_hopeless_smallest_score_first() -> None:
    # t=0: meetable r0 1/(2.5 x 1) = 0.4 > r1 3/(5 x 4) = 0.15 -> r0 [0, 1].
    # t=1: r1 slack 4, rem 4: meets, runs [1, 5] (met exactly). t=5: r2 and r3 hopeless, by
    # descending -p/rem: r3 -1/1 = -1 before r2 -9/2 = -4.5 -> r3 [5, 6], r2 [6, 8].
    assert _finishes(ONE, _forms_specs()) == [1.0, 5.0, 8.0, 6.0]


def test_authors_form_scores_priority_over_slack_and_hopeless_by_priority_over_work() -> None:
    # t=0: meetable by p/slack: r1 3/5 = 0.6 > r0 1/2.5 = 0.4 -> r1 [0, 4] (met).
    # t=4: all hopeless (r0 slack -1.5); by p/rem, largest first: r2 9/2 = 4.5 -> [4, 6];
    # then r0 and r3 tie at 1/1 and the earlier arrival goes first: r0 [6, 7], r3 [7, 8].
    assert _finishes(ONE, _forms_specs(), form="authors") == [7.0, 4.0, 6.0, 8.0]


def test_dysta_form_scores_priority_over_slack_even_for_hopeless_requests() -> None:
    # t=0: p/slack for all: r0 0.4, r1 0.6, r2 9/1.5 = 6, r3 1/0.5 = 2 -> r2 [0, 2] (hopeless,
    # but the smallest slack wins). t=2: r0 1/0.5 = 2, r1 3/3 = 1, r3 past its deadline
    # (negative) -> r0 [2, 3]. t=3: r1 3/2 -> [3, 7]; then r3 [7, 8]. Not one deadline is met,
    # against two for the relmas form.
    assert _finishes(ONE, _forms_specs(), form="dysta") == [3.0, 7.0, 2.0, 8.0]


def test_dysta_form_runs_past_deadline_requests_newest_first() -> None:
    # Three 1 s jobs at t=0 with deadlines 0.5, 0.6, 0.7: p/slack 2, 1.67, 1.43 -> r0 [0, 1].
    # At t=1 both others are past their deadline: Dysta's pick loop keeps replacing a negative
    # best, so the last in arrival order wins: r2 [1, 2], then r1 [2, 3].
    specs = [RequestSpec(0.0, 0, 0, 1, d) for d in (0.5, 0.6, 0.7)]
    assert _finishes(ONE, specs, form="dysta") == [1.0, 3.0, 2.0]


def test_published_forms_place_on_the_fastest_free_unit_without_waiting() -> None:
    # The two-unit case of test_meetable_request_waits_for_a_feasible_unit with form=authors:
    # p/slack: X 1/2 > Y 1/3 > A 1/100. X takes the fastest free unit (simba [0, 1]), Y the
    # remaining eyeriss at once ([0, 4], a miss: the relmas form waits for simba and meets it),
    # A waits for simba: [1, 3].
    got = _placement(_waiting_specs(), form="authors")
    assert got[0] == (0, 0.0, pytest.approx(1.0))
    assert got[1] == (1, 0.0, pytest.approx(4.0))
    assert got[2] == (0, pytest.approx(1.0), pytest.approx(3.0))


def test_the_form_does_not_change_the_relmas_rank_the_env_uses() -> None:
    # rank() and feasible_unit() are the relmas form's whatever the form, so the RL env's
    # features (built on them) cannot shift under a form change.
    sim = Simulator(CHIP, _waiting_specs())
    assert sim.advance()
    req = sim.ready[0]
    ranks = [make_scheduler("planaria", {"form": f}).rank(sim, req) for f in ("relmas", "dysta")]
    assert ranks[0] == ranks[1] == (True, pytest.approx(0.5))
