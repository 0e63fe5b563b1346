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
from relmas.env.features import OUTLOOK_HORIZON_S, FeatureEncoder
from relmas.env.sources import make_source
from relmas.errors import UserError
from relmas.rl.policy_scheduler import PolicyScheduler, load_policy_scheduler
from relmas.rl.router import ROUTER_JSON, RoutedScheduler
from relmas.rl.search import PolicySearch
from relmas.schedulers import _lookahead as la
from relmas.schedulers.registry import make_scheduler
from relmas.sim.engine import Simulator
from relmas.sim.metrics import compute_metrics


def _fresh_score(search: PolicySearch, sim: Simulator, enc: FeatureEncoder, action: int) -> int:
    """A candidate's score by a fresh, unpruned rollout (Planaria's too, not the shadow's)."""
    end_s = sim.now_s + OUTLOOK_HORIZON_S
    live = la.scored(sim, end_s, clairvoyant=False)[0]
    if enc.outlook is not None and enc.outlook.last is not None:
        assert enc.outlook.last[:2] == (end_s, live)  # the outlook's horizon and requests
    return search._score(sim, enc, action, end_s, live, -1)


class _Checked(PolicySearch):
    """The real search, checked at every call against fresh rollouts of every candidate."""

    calls = 0

    def choose(self, sim: Simulator, enc: FeatureEncoder, ranked: Any) -> int:
        assert not enc.gate_closed
        order = [int(a) for a in ranked[: self.width]]
        planaria = enc.planaria_action()
        if enc.outlook_gate and planaria not in order and enc.mask[planaria] > 0.5:
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


@pytest.mark.parametrize(
    ("ref", "scenario"),
    [
        ("rl:gate_ensemble?search=1", "heavy"),
        ("rl:gate_ensemble?search=3", "heavy"),
        ("rl:default?search=2&search_base=edf&search_confidence=0.9", "tight"),  # no gate
    ],
)
def test_the_search_takes_the_best_simulated_future_first_by_preference(
    ref: str, scenario: str
) -> None:
    sched = make_scheduler(ref)
    assert isinstance(sched, PolicyScheduler) and sched.search is not None
    real = sched.search
    checked = _Checked(real.width, real._roller, real.confidence)
    sched.search = checked
    _Checked.calls = 0
    _episode(sched, scenario)
    assert _Checked.calls > 10  # enough open gates / unsure states to check many
    assert checked.searches == _Checked.calls and checked.rollouts > 0


def test_a_confidence_searches_only_where_the_policy_is_unsure() -> None:
    sched = make_scheduler("rl:default?search=2&search_base=edf&search_confidence=0.9")
    assert isinstance(sched, PolicyScheduler) and sched.search is not None
    asked: list[tuple[float, bool]] = []
    wanted = sched.search.wanted
    sched.search.wanted = lambda p: asked.append((p, wanted(p))) or asked[-1][1]  # type: ignore[method-assign]
    _episode(sched, "tight")
    assert asked and all(w == (p < 0.9) for p, w in asked)
    searched = sum(w for _, w in asked)
    assert 0 < searched < len(asked) and sched.search.searches == searched


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
        ("rl:default?search=2", "search_base"),  # no gate: it must say what and where
        ("rl:gate_ensemble?search=-1", "search"),
        ("rl:gate_ensemble?search=true", "search"),
        ("rl:gate_ensemble?search=1.5", "search"),
        ("rl:gate_ensemble?search=99", "search"),
        ("rl:gate_ensemble?serach=2", "--param"),
        ("rl:gate_ensemble?search=2&search_base=edf", "search_base"),  # gated: Planaria's
        ("rl:default?search=2&search_confidence=0.9", "search_base"),
        ("rl:default?search=2&search_base=edf", "search_confidence"),
        ("rl:default?search=2&search_base=prema&search_confidence=0.9", "search_base"),
        ("rl:default?search=2&search_base=edf&search_confidence=0", "search_confidence"),
        ("rl:default?search=2&search_base=edf&search_confidence=1.5", "search_confidence"),
        ("rl:sla_router?search_base=edf", "search_base"),
        ("rl:default?search_confidence=0.9", "search"),  # not silently without a search
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
    with pytest.raises(UserError, match="no policy of router"):
        load_policy_scheduler(out)
    (out / ROUTER_JSON).write_text(json.dumps({**doc, "search": -2}), encoding="utf-8")
    with pytest.raises(UserError, match="search -2"):
        load_policy_scheduler(out)
    odd = {**doc, "search": 0, "tight": "rl:default?seach=2"}  # a part's unknown parameter
    (out / ROUTER_JSON).write_text(json.dumps(odd), encoding="utf-8")
    with pytest.raises(UserError, match="'seach'"):
        load_policy_scheduler(out)


def test_a_routers_policy_keeps_its_own_search_parameters(tmp_path: Path) -> None:
    tight = "rl:default?search=2&search_base=edf&search_confidence=0.9"
    out = tmp_path / "r"
    argv = ["route", "--tight", tight, "--calm", "rl:gate_ensemble", "--threshold", "2.5"]
    assert main([*argv, "--search", "2", "--out", str(out)]) == 0
    doc = json.loads((out / ROUTER_JSON).read_text(encoding="utf-8"))
    assert (doc["tight"], doc["calm"], doc["search"]) == (tight, "rl:gate_ensemble", 2)
    router = load_policy_scheduler(out)
    assert isinstance(router, RoutedScheduler)
    tight_search, calm_search = (p.search for p in router.parts)  # type: ignore[attr-defined]
    assert tight_search.confidence == 0.9 and calm_search.confidence is None
    off = load_policy_scheduler(out, search=0)  # the router's width off, the part's own kept
    assert off.tight.search is not None and off.calm.search is None  # type: ignore[union-attr]


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
            ranked, probability = policy.ranked(*args)
            assert ranked[0] == policy.act(*args)
            assert sorted(ranked) == list(np.flatnonzero(enc.mask > 0.5))
            assert np.isclose(probability.sum(), 1.0) and np.all(np.diff(probability) <= 0)
        checked += 1
        sim.apply(sched.decide(sim))
        if checked == 40:
            break
    assert checked == 40
