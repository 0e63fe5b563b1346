"""The rollout scheduler: it reproduces its base with one candidate, waits where waiting is
provably right, sees no future arrival unless it is the oracle, and its teacher API (``advise``)
agrees with ``decide``. Workloads are tiny toy chips, so every run takes milliseconds."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from relmas.errors import UserError
from relmas.schedulers import make_scheduler
from relmas.schedulers.rollout import Advice, RolloutScheduler
from relmas.sim import Chip, RequestSpec, Simulator
from relmas.sim.request import Dispatch
from relmas.sim.snapshot import deepcopy_memo
from relmas.sim.toy import toy_chip

TYPES = ("simba", "eyeriss")


def _chip(seed: int) -> Chip:
    rng = np.random.default_rng(seed)
    layers, dram, energy = {}, {}, {}
    for m in range(3):
        n = int(rng.integers(1, 5))
        layers[f"m{m}"] = {t: rng.uniform(0.5, 3.0, n).tolist() for t in TYPES}
        dram[f"m{m}"] = {t: rng.uniform(0.0, 4e12, n).tolist() for t in TYPES}
        energy[f"m{m}"] = {t: rng.uniform(0.5, 2.0, n).tolist() for t in TYPES}
    units = ["simba", "eyeriss", "simba", "eyeriss"]
    return toy_chip(units, layers, dram_bytes=dram, energy_j=energy, bandwidth_bytes_per_s=2e12)


def _specs(chip: Chip, seed: int, n: int = 30) -> list[RequestSpec]:
    rng = np.random.default_rng(seed + 1)
    out = []
    for i, t in enumerate(np.cumsum(rng.exponential(0.5, n))):
        m = int(rng.integers(len(chip.model_names)))
        slack = float(rng.choice([1.2, 2.0, 4.0]))
        prio = int(rng.choice([1, 3, 9]))
        out.append(
            RequestSpec(float(t), i % 2, m, prio, float(t) + slack * chip.isolated_latency_s[m])
        )
    return out


def _sim(seed: int, drop: bool = False, policy: str = "proportional") -> Simulator:
    chip = _chip(seed)
    return Simulator(chip, _specs(chip, seed), drop_hopeless=drop, bandwidth_policy=policy,
                     record_trace=True)  # fmt: skip


def _outcome(sim: Simulator) -> tuple[object, ...]:
    res = sim.result()
    return (res.trace, res.finish_s.tolist(), res.dropped.tolist(), res.dynamic_energy_j)


def _rollout(**params: object) -> RolloutScheduler:
    sched = make_scheduler("rollout", {"horizon_s": 4.0, **params})
    assert isinstance(sched, RolloutScheduler)
    return sched


@pytest.mark.parametrize(
    ("base", "drop", "policy"),
    [("planaria", False, "proportional"), ("planaria", True, "proportional"),
     ("sjf", False, "proportional"), ("edf", True, "maxmin"), ("random", False, "proportional"),
     ("cd-msa", True, "proportional"), ("veltair", False, "proportional"),
     ("prema", False, "proportional"), ("moca", False, "capped")],
)  # fmt: skip
def test_one_candidate_reproduces_the_base_bit_for_bit(base: str, drop: bool, policy: str) -> None:
    for seed in (0, 1, 2):
        alone = _sim(seed, drop, policy)
        alone.run(make_scheduler(base), seed=seed)
        rolled = _sim(seed, drop, policy)
        rolled.run(_rollout(base=base, base_params={}, max_candidates=1), seed=seed)
        assert _outcome(rolled) == _outcome(alone), (base, seed)


@pytest.mark.parametrize("base", ["planaria", "sjf", "random", "cd-msa", "round-robin"])
def test_running_ahead_decides_exactly_as_fresh_rollouts(base: str) -> None:
    for seed in (3, 4):
        runs = []
        for reuse in (True, False):
            sim = _sim(seed, drop=seed == 4)
            sched = _rollout(base=base)
            sched.reuse = reuse
            sim.run(sched, seed=seed)
            runs.append(_outcome(sim))
        assert runs[0] == runs[1], (base, seed)


@pytest.mark.parametrize("base", ["planaria", "sjf", "least-laxity", "cd-msa"])
def test_option_zero_is_what_the_base_decides_at_that_state(base: str) -> None:
    sim = _sim(5, drop=True)
    sched = _rollout(base=base)
    sched.reset(sim, np.random.default_rng(0))
    while sim.advance():
        advice = sched.advise(sim)
        ref = make_scheduler(base, sched._base_params.model_dump())
        clone = sim.snapshot()
        ref.reset(clone, np.random.default_rng(0))
        batch = ref.decide(clone)
        drops = [d.request.rid for d in batch if not isinstance(d, Dispatch)]
        first = [(d.request.rid, d.accel) for d in batch if isinstance(d, Dispatch)][:1]
        got = advice.options[0].decisions
        pending = sched._pending  # a batch split at this instant: the base is not asked again
        if pending is None or not pending[1]:
            assert [d.request.rid for d in got if not isinstance(d, Dispatch)] == drops
            assert [(d.request.rid, d.accel) for d in got if isinstance(d, Dispatch)] == first
        sim.apply(sched.decide(sim))


def test_advise_and_decide_agree_and_advise_changes_nothing() -> None:
    plain = _sim(6)
    plain.run(_rollout(), seed=0)
    sim = _sim(6)
    sched = _rollout()
    sched.reset(sim, np.random.default_rng(0))
    seen_skipped = False
    while sim.advance():
        advice = sched.advise(sim)
        assert isinstance(advice, Advice)
        assert advice.options[0].source == "base"
        assert sched.advise(sim) is advice
        assert sched.decide(sim) == advice.options[advice.best].decisions
        best = advice.options[advice.best]
        assert all(o.score <= best.score for o in advice.options if o.evaluated)
        seen_skipped |= any(not o.evaluated for o in advice.options)
        sim.apply(sched.decide(sim))
    assert seen_skipped
    assert _outcome(sim) == _outcome(plain)


def _wait_case(late_arrival: bool = False) -> Simulator:
    # Unit 0 simba, unit 1 eyeriss. R0 (model X) arrives at 0 and takes simba until 1. R1 (model
    # A) arrives at 0.5 with deadline 2.5: on the free eyeriss it ends at 3.5 (a miss); waiting
    # for simba it runs 1..2 (met). EDF is work-conserving and takes the eyeriss.
    layers = {"X": {"simba": [1.0], "eyeriss": [5.0]}, "A": {"simba": [1.0], "eyeriss": [3.0]}}
    chip = toy_chip(["simba", "eyeriss"], layers)
    specs = [RequestSpec(0.0, 0, 0, 1, 10.0), RequestSpec(0.5, 0, 1, 1, 2.5)]
    if late_arrival:  # an urgent request at 1.0 that only simba can serve in time
        specs.append(RequestSpec(1.0, 0, 1, 9, 2.1))
    return Simulator(chip, specs, record_trace=True)


def test_the_rollout_waits_where_waiting_is_provably_right() -> None:
    base = _wait_case()
    res_base = base.run(make_scheduler("edf"), seed=0)
    assert not res_base.met_deadline[1]
    sim = _wait_case()
    sched = _rollout(base="edf")
    sched.reset(sim, np.random.default_rng(0))
    assert sim.advance() and sim.now_s == 0.0
    sim.apply(sched.decide(sim))
    assert sim.advance() and sim.now_s == 0.5
    advice = sched.advise(sim)
    assert advice.options[0].decisions == [Dispatch(sim.ready[1], 1)]
    assert advice.options[advice.best].source == "wait"
    assert advice.options[advice.best].decisions == []
    res = _wait_case().run(_rollout(base="edf"), seed=0)
    assert res.met_deadline.sum() == 2 > res_base.met_deadline.sum()
    assert [(a, rid) for a, rid, *_ in res.trace] == [(0, 0), (0, 1)]


def test_rollouts_see_no_future_arrival_unless_clairvoyant() -> None:
    for clairvoyant, specs in ((False, 1), (True, 3)):
        sim = _wait_case(late_arrival=True)
        sched = _rollout(base="edf", clairvoyant=clairvoyant)
        sched.reset(sim, np.random.default_rng(0))
        assert sim.advance() and sim.now_s == 0.0
        assert sched.advise(sim).best == 0  # the base's dispatch: its shadow is kept
        shadow = sched._shadow
        assert shadow is not None
        assert len(shadow.sim.specs) == specs  # only R0 has arrived at t = 0
    # Without clairvoyance, what happens before an arrival cannot depend on it.
    before = _wait_case().run(_rollout(base="edf"), seed=0).trace
    after = _wait_case(late_arrival=True).run(_rollout(base="edf"), seed=0).trace
    assert [t for t in after if t[3] < 1.0] == [t for t in before if t[3] < 1.0]


def test_a_copy_of_the_rollout_continues_like_the_original() -> None:
    for base in ("planaria", "prema"):
        sim = _sim(7)
        sched = _rollout(base=base)
        sched.reset(sim, np.random.default_rng(0))
        for _ in range(25):
            assert sim.advance()
            sim.apply(sched.decide(sim))
        clone = sim.snapshot(clairvoyant=True)
        twin = copy.deepcopy(sched, deepcopy_memo(sim, clone))
        for s, d in ((clone, twin), (sim, sched)):
            while s.advance():
                s.apply(d.decide(s))
        assert _outcome(clone) == _outcome(sim)


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"base": "plan"}, "did you mean 'planaria'"),
     ({"base": "rollout"}, "lookahead"),
     ({"horizon_s": 0}, "horizon_s"),
     ({"horizon_s": float("inf")}, "horizon_s"),
     ({"max_candidates": 0}, "max_candidates"),
     ({"base_params": {"priority_exponent": -1}}, "priority_exponent"),
     ({"base": "sjf", "base_params": {"beta": 1}}, "beta"),
     ({"bogus": 1}, "bogus")],
)  # fmt: skip
def test_bad_parameters_are_one_line_user_errors(params: dict[str, object], expected: str) -> None:
    with pytest.raises(UserError) as exc:
        make_scheduler("rollout", params)
    assert expected in str(exc.value)
    assert "\n" not in str(exc.value)


def test_the_default_base_is_the_best_heuristic_on_heavy() -> None:
    sched = _rollout()
    assert sched._base_params.model_dump()["priority_exponent"] == 0.5
    assert (
        _rollout(base="planaria", base_params={})._base_params.model_dump()["priority_exponent"]
        == 1.0
    )
