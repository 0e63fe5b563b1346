"""An ensemble of exported policies (``relmas ensemble``) acts as the mean of their probabilities.

Why: an ensemble is how a recipe's seeds run as one scheduler (``relmas ensemble``, ``relmas
train --ensemble-seeds``); it must agree with its members where they agree, follow the mean
probability (not a vote, not a product) where they do not, skip every member where one action
is valid, and refuse members whose observations differ. Numpy only: no torch or Ray.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from relmas.cli.main import main
from relmas.env.sources import make_source
from relmas.errors import UserError
from relmas.rl.ensemble import EnsemblePolicy, check_members, observation_signature
from relmas.rl.policy_scheduler import SHIPPED_DIR, load_export, load_policy_scheduler
from relmas.schedulers.registry import make_scheduler
from relmas.sim.metrics import compute_metrics


class _Fixed:
    """A member whose logits are fixed (what EnsemblePolicy reads of a NumpyPolicy)."""

    pair = None
    obs_dim = 1

    def __init__(self, logits: list[float]) -> None:
        self.values = np.array(logits, np.float32)
        self.calls = 0

    def logits(self, obs: np.ndarray, layout: object = None) -> np.ndarray:
        self.calls += 1
        return self.values


def _act(members: list[_Fixed], mask: list[float]) -> int:
    policy = EnsemblePolicy(members)  # type: ignore[arg-type]
    return policy.act(np.zeros(1, np.float32), np.array(mask, np.float32))


def test_the_mean_probability_decides_not_the_vote_nor_the_product() -> None:
    mask = [1.0, 1.0, 0.0]  # action 2 is masked out, whatever its logit
    # A is sure of action 0 (p = 0.98), B and C lean to action 1 (p = 0.62 each): mean
    # probability 0.58 for action 0, where a majority vote would take action 1.
    sure, lean = [4.0, 0.0, 9.0], [0.0, 0.5, 9.0]
    assert _act([_Fixed(sure), _Fixed(lean), _Fixed(lean)], mask) == 0
    # A all but rules out action 1 (p = 0.001), B and C favour it (p = 0.9): mean 0.60 for
    # action 1, where the product of the probabilities (mean log-probability) takes action 0.
    veto, favour = [0.0, -6.9, 9.0], [0.0, 2.2, 9.0]
    assert _act([_Fixed(veto), _Fixed(favour), _Fixed(favour)], mask) == 1
    assert _act([_Fixed(lean), _Fixed(lean)], mask) == 1


def test_a_closed_gate_asks_no_member() -> None:
    members = [_Fixed([0.0, 5.0]), _Fixed([0.0, 5.0])]
    assert _act(members, [1.0, 0.0]) == 0
    assert [m.calls for m in members] == [0, 0]


def test_members_must_build_one_observation() -> None:
    _, medium = load_export(SHIPPED_DIR / "medium_specialist")
    _, heavy = load_export(SHIPPED_DIR / "heavy_specialist")
    check_members([medium, heavy], ["m", "h"])  # same observation, another teacher: fine
    changed = json.loads(json.dumps(heavy))
    changed["recipe"]["outlook_gate"] = False
    assert observation_signature(changed) != observation_signature(heavy)
    with pytest.raises(UserError, match=r"recipe\.outlook_gate False"):
        check_members([medium, changed], ["m", "h"])


def test_an_ensemble_of_one_policy_twice_schedules_as_that_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ens"
    assert main(["ensemble", "--out", str(out), "medium_specialist", "medium_specialist"]) == 0
    assert f"rl:{out}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["ensemble.json", "member_00", "member_01"]
    source = make_source({"scenario": "heavy", "hardware": "2s2e", "num_requests": 120})
    results = []
    for ref in ("rl:medium_specialist", f"rl:{out}"):
        sim = source.make_simulator(5000)
        results.append(compute_metrics(sim.run(make_scheduler(ref), seed=5000)))
    assert results[0] == results[1]
    assert isinstance(load_policy_scheduler(out).policy, EnsemblePolicy)


def test_relmas_list_counts_an_ensembles_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import relmas.rl.policy_scheduler as ps

    shipped = tmp_path / "policies"
    assert main(["ensemble", "--out", str(shipped / "pair"), "default", "default"]) == 0
    monkeypatch.setattr(ps, "SHIPPED_DIR", shipped)
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["policies"]
    assert listed["pair"]["members"] == 2
    assert (
        listed["pair"]["hardware"]
        == json.loads((SHIPPED_DIR / "default/policy.json").read_text())["recipe"]["hardware"]
    )
