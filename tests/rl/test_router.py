"""A router (``relmas route``) sends each decision to one of two policies by the SLA multipliers
of the requests that have arrived so far.

Why: the router is how one shipped reference serves tight and calm regimes (docs/rl.md, "One
policy for every regime"); it must switch exactly when a request below the threshold has
arrived (not before: that would need clairvoyance; not per decision: the policies would see
states they were not trained on), be the calm policy on an episode that never goes below the
threshold, and refuse a malformed ``router.json`` or ``relmas route`` call with one line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from relmas.cli.main import main
from relmas.env.sources import make_source
from relmas.errors import UserError
from relmas.loaders.paths import data_root
from relmas.rl.evaluate import evaluate, format_table
from relmas.rl.policy_scheduler import load_one_policy, load_policy_scheduler, resolve_policy_dir
from relmas.rl.router import ROUTER_JSON, RoutedScheduler, read_router
from relmas.schedulers.base import Decision, Scheduler
from relmas.sim.engine import Simulator
from relmas.sim.metrics import compute_metrics
from relmas.sim.request import Dispatch, RequestSpec
from relmas.sim.toy import toy_chip


class _Recorder(Scheduler):
    """FCFS onto unit 0, recording the clock of every decision it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.decision_period_s: float | None = None
        self.asked_at: list[float] = []
        self.resets = 0

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        super().reset(sim, rng)
        self.resets += 1

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        self.asked_at.append(sim.now_s)
        if 0 in sim.busy or not sim.ready:
            return []
        return [Dispatch(sim.ready[min(sim.ready)], 0)]


def _run(deadlines: Sequence[float], threshold: float) -> tuple[_Recorder, _Recorder]:
    """Requests of a 1 s model arriving at t = 0, 10, 20, ... with the given relative deadlines."""
    chip = toy_chip(["simba"], {"m": {"simba": [1.0]}})
    specs = [RequestSpec(10.0 * i, 0, 0, 1, 10.0 * i + d) for i, d in enumerate(deadlines)]
    tight, calm = _Recorder(), _Recorder()
    router = RoutedScheduler(tight, calm, threshold)
    Simulator(chip, specs).run(router, seed=0)
    assert (tight.resets, calm.resets) == (1, 1)
    return tight, calm


def test_decisions_go_to_the_tight_policy_from_the_first_tight_arrival_on() -> None:
    # Multipliers 4, 3, 1.5, 6: calm for the first two requests, tight from t = 20 on, even
    # after the 6x request (the minimum only falls).
    tight, calm = _run([4.0, 3.0, 1.5, 6.0], threshold=2.0)
    assert calm.asked_at and max(calm.asked_at) < 20.0
    assert tight.asked_at and min(tight.asked_at) == 20.0
    assert any(t >= 30.0 for t in tight.asked_at)


def test_an_episode_that_never_goes_below_the_threshold_stays_calm() -> None:
    tight, calm = _run([4.0, 3.0, 2.0, 6.0], threshold=2.0)  # 2.0 is not below 2.0
    assert tight.asked_at == [] and len(calm.asked_at) >= 4


def _write(path: Path, doc: object) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / ROUTER_JSON).write_text(json.dumps(doc), encoding="utf-8")
    return path


GOOD = {"format_version": 1, "route": "min_sla_multiplier", "threshold": 1.75,
        "tight": "rl:default", "calm": "rl:gate_ensemble"}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format_version": 2}, "checkpoint"),
        ({"route": "vote"}, "checkpoint"),
        ({"tight": "../elsewhere"}, "checkpoint"),
        ({"calm": "rl:"}, "checkpoint"),
        ({"threshold": 1.0}, "threshold"),
        ({"threshold": "2"}, "threshold"),
        ({"calm": "rl:no_such_policy"}, "checkpoint"),
        ({"calm": "missing_subdir"}, "checkpoint"),
        ({"calm": "rl:sla_router"}, "checkpoint"),  # a router of routers
    ],
)
def test_a_malformed_router_json_is_one_line_naming_the_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    with pytest.raises(UserError) as err:
        load_policy_scheduler(_write(tmp_path / "r", {**GOOD, **change}))
    assert err.value.field == field


def test_the_shipped_router_reads_and_names_shipped_policies() -> None:
    spec = read_router(Path(load_policy_scheduler("sla_router").source))
    assert (spec.tight, spec.calm) == ("rl:default", "rl:gate_ensemble")
    with pytest.raises(UserError, match="is a router of two policies"):  # where one is needed
        load_one_policy(resolve_policy_dir("sla_router"))


def _metrics(scheduler: Scheduler, scenario: str, seed: int) -> dict[str, object]:
    source = make_source({"scenario": scenario, "hardware": "2s2e", "num_requests": 120})
    return compute_metrics(source.make_simulator(seed).run(scheduler, seed=seed))


def test_relmas_route_writes_a_router_that_acts_as_each_policy_in_its_regime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # tight has a 1.5x tenant, heavy's lowest is 3x: with threshold 2.5 the router is
    # rl:default on tight and the copied ensemble on heavy, decision for decision.
    out = tmp_path / "router"
    args = ["route", "--tight", "rl:default", "--calm", "gate_ensemble", "--threshold", "2.5"]
    assert main([*args, "--out", str(out)]) == 0
    assert "use rl:" in capsys.readouterr().out
    router = load_policy_scheduler(out)
    for scenario, expert in (("tight", "default"), ("heavy", "gate_ensemble")):
        routed, alone = (_metrics(load_policy_scheduler(p), scenario, 5000) for p in (out, expert))
        assert routed == alone, scenario
    assert isinstance(router, RoutedScheduler)


def test_relmas_route_refuses_bad_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["route", "--tight", "rl:default", "--calm", "gate_ensemble"]
    cases = [
        ([*base, "--threshold", "0.5"], "threshold"),
        ([*base[:4], str(tmp_path / "none"), "--threshold", "2"], "--calm"),
    ]
    for argv, field in cases:
        assert main([*argv, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and field in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(("scenario", "tight"), [("tight", True), ("heavy", False)])
def test_evaluate_reports_which_policy_each_episode_ended_on(
    tmp_path: Path, scenario: str, tight: bool
) -> None:
    # tight has a 1.5x tenant (routed to rl:default within a few arrivals), heavy's lowest is 3x.
    text = (data_root() / "envs" / f"{scenario}.yaml").read_text(encoding="utf-8")
    path = tmp_path / f"{scenario}.yaml"
    path.write_text(text.replace("num_requests: 800", "num_requests: 60"), encoding="utf-8")
    report = evaluate(resolve_policy_dir("sla_router"), str(path), "2s2e", [5000, 5001], (), [])
    assert report["policy"]["routed_to_tight_per_seed"] == [tight, tight]
    assert f"router: {2 * tight} of 2 episodes ended on its tight policy" in format_table(report)
