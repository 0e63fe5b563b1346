"""Policy-guided search (``rl:DIR?search=N``): where the outlook gate is open, the policy's N
most probable actions and Planaria's are simulated and the best future wins.

Why: the search is what lifts ``rl:search_router`` above the best heuristic on ``heavy``
(docs/rl.md, "Policy-guided search"); it must choose exactly the action a fresh, unpruned
simulation of every candidate would choose (the shadow's free score for Planaria and the
early stop of a losing rollout are only shortcuts), break ties by the policy's preference,
never take an invalid action, search only behind an open gate, and refuse a policy without a
gate or a width that is not a small whole number with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from relmas.cli.main import main
from relmas.env.features import FeatureEncoder
from relmas.env.sources import make_source
from relmas.errors import UserError
from relmas.rl.policy_scheduler import PolicyScheduler, load_policy_scheduler
from relmas.rl.router import ROUTER_JSON, RoutedScheduler
from relmas.rl.search import PolicySearch
from relmas.schedulers.registry import make_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.metrics import compute_metrics


def _fresh_score(search: PolicySearch, sim: Simulator, enc: FeatureEncoder, action: int) -> int:
    """A candidate's score by a fresh, unpruned rollout (Planaria's too, not the shadow's)."""
    assert enc.outlook is not None and enc.outlook.last is not None
    end_s, live, _ = enc.outlook.last
    return search._score(sim, enc, action, end_s, live, -1)


class _Checked(PolicySearch):
    """The real search, checked at every call against fresh rollouts of every candidate."""

    calls = 0

    def choose(self, sim: Simulator, enc: FeatureEncoder, ranked: Any) -> int:
        assert not enc.gate_closed
        order = [int(a) for a in ranked[: self.width]]
        planaria = enc.planaria_action()
        if planaria not in order and enc.mask[planaria] > 0.5:
            order.append(planaria)
        scores = [_fresh_score(self, sim, enc, a) for a in order]
        expected = order[scores.index(max(scores))]  # the first of the best: preference order
        chosen = super().choose(sim, enc, ranked)
        assert chosen == expected and enc.mask[chosen] > 0.5
        assert type(chosen) is int  # a numpy int fails in the compiled engine (Dispatch)
        _Checked.calls += 1
        return chosen


def _episode(sched: Any, scenario: str = "heavy", requests: int = 80) -> dict[str, Any]:
    source = make_source({"scenario": scenario, "hardware": "2s2e", "num_requests": requests})
    return compute_metrics(source.make_simulator(5000).run(sched, seed=0))


@pytest.mark.parametrize("width", [1, 3])
def test_the_search_takes_the_best_simulated_future_first_by_preference(width: int) -> None:
    sched = make_scheduler(f"rl:gate_ensemble?search={width}")
    assert isinstance(sched, PolicyScheduler) and sched.search is not None
    checked = _Checked(width, sched.recipe.planaria_params)
    sched.search = checked
    _Checked.calls = 0
    _episode(sched)
    assert _Checked.calls > 10  # heavy opens the gate often enough to check many states
    assert checked.searches == _Checked.calls and checked.rollouts > 0


def test_search_zero_is_the_policy_and_a_search_repeats_exactly() -> None:
    plain = _episode(make_scheduler("rl:gate_ensemble"))
    assert _episode(make_scheduler("rl:gate_ensemble?search=0")) == plain
    first = _episode(make_scheduler("rl:gate_ensemble?search=2"))
    assert _episode(make_scheduler("rl:gate_ensemble?search=2")) == first


def test_a_router_searches_with_its_gated_policy_only(tmp_path: Path) -> None:
    router = make_scheduler("rl:sla_router?search=2")
    assert isinstance(router, RoutedScheduler)
    assert router.tight.search is None and router.calm.search is not None  # type: ignore[attr-defined]
    out = tmp_path / "r"
    argv = ["route", "--tight", "rl:default", "--calm", "rl:gate_ensemble", "--threshold", "2.5"]
    assert main([*argv, "--search", "2", "--out", str(out)]) == 0
    assert json.loads((out / ROUTER_JSON).read_text(encoding="utf-8"))["search"] == 2
    written = load_policy_scheduler(out)
    assert written.calm.search is not None  # type: ignore[union-attr]
    off = load_policy_scheduler(out, search=0)  # the argument overrides the file
    assert off.calm.search is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ref", "field"),
    [
        ("rl:default?search=2", "search"),  # no outlook gate: it would search every decision
        ("rl:gate_ensemble?search=-1", "search"),
        ("rl:gate_ensemble?search=true", "search"),
        ("rl:gate_ensemble?search=1.5", "search"),
        ("rl:gate_ensemble?search=99", "search"),
        ("rl:gate_ensemble?serach=2", "--param"),
    ],
)
def test_a_bad_search_is_one_line_naming_the_field(ref: str, field: str) -> None:
    with pytest.raises(UserError) as err:
        make_scheduler(ref)
    assert err.value.field == field and "\n" not in str(err.value)


def test_a_router_with_no_gated_policy_refuses_a_search(tmp_path: Path) -> None:
    out = tmp_path / "r"
    out.mkdir()
    doc = {"format_version": 1, "route": "min_sla_multiplier", "threshold": 2.5,
           "tight": "rl:default", "calm": "rl:default", "search": 2}  # fmt: skip
    (out / ROUTER_JSON).write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(UserError, match="neither policy"):
        load_policy_scheduler(out)
    (out / ROUTER_JSON).write_text(json.dumps({**doc, "search": -2}), encoding="utf-8")
    with pytest.raises(UserError, match="search -2"):
        load_policy_scheduler(out)


def test_relmas_route_refuses_a_bad_search_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["route", "--tight", "rl:default", "--calm", "rl:gate_ensemble", "--threshold", "2.5"]
    assert main([*argv, "--search", "-1", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "search" in err
    assert list(tmp_path.iterdir()) == []


def test_ranked_puts_the_policys_own_action_first() -> None:
    sched = make_scheduler("rl:gate_ensemble")
    assert isinstance(sched, PolicyScheduler)
    source = make_source({"scenario": "heavy", "hardware": "2s2e", "num_requests": 60})
    sim = source.make_simulator(5001)
    sched.reset(sim, np.random.default_rng(0))
    enc = sched.encoder
    assert enc is not None
    checked = 0
    while sim.advance():
        enc.encode(sim)
        args = (enc.obs, enc.mask, enc.prior, 0.0, enc.layout)
        for policy in [sched.policy, *sched.policy.members]:  # type: ignore[union-attr]
            ranked = policy.ranked(*args)
            assert ranked[0] == policy.act(*args)
            assert sorted(ranked) == list(np.flatnonzero(enc.mask > 0.5))
        checked += 1
        sim.apply(sched.decide(sim))
        if checked == 40:
            break
    assert checked == 40
