"""Smoke tests with tiny budgets: DAgger rounds through `relmas train`, PPO fine-tuning from the
imitation weights, and the result running on chips it never saw (real Ray, toy chips)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from relmas.cli.main import main
from relmas.env.sources import ToySource
from relmas.errors import UserError
from relmas.schedulers.registry import make_scheduler
from relmas.sim.metrics import compute_metrics

pytestmark = pytest.mark.slow
RECIPE: dict[str, Any] = {
    "scenario": "toy",
    "hardware": ["2s1e", "1s2e"],
    "types": ["simba", "eyeriss"],
    "train_seeds": 6,
    "episode_requests": 20,
    "pair_hidden": [16],
    "hidden": [16],
    "imitation": {
        "teacher": "rollout",
        "teacher_params": {"base": "auto"},
        "rounds": 2,
        "episodes": 2,
        "epochs": 2,
        "validation_seeds": 1,
    },
    "batch_size": 64,
    "minibatch_size": 32,
    "epochs": 1,
}


def _train(tmp_path: Path, **changes: Any) -> Path:
    out = tmp_path / "run"
    cfg = tmp_path / "recipe.yaml"
    cfg.write_text(yaml.safe_dump({**RECIPE, **changes, "out": str(out)}))
    assert main(["train", "--config", str(cfg), "--no-track"]) == 0
    return out


def _sla(policy: Path, hardware: str) -> float:
    sim = ToySource({"hardware": hardware, "num_requests": 20}).make_simulator(7)
    return float(compute_metrics(sim.run(make_scheduler(f"rl:{policy}"), seed=7))["sla_rate"])


def test_imitation_only_then_unseen_chips(
    ray_local: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _train(tmp_path, iterations=0)
    err = capsys.readouterr().err  # not a terminal: progress and the best round as plain lines
    assert "relmas: imitate: 4/4 (100%)" in err and "relmas: imitation: best round" in err
    for r in (0, 1):  # every round's validation, the last one's too (no episode follows it)
        assert f"relmas: imitation: round {r}: validation SLA" in err
    rounds = [json.loads(x) for x in (out / "imitation" / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1]
    assert all(r["states"] > 0 and r["kept"] > 0 for r in rounds)
    teacher = json.loads((out / "imitation" / "teacher.json").read_text())
    assert set(teacher) == {"toy/2s1e", "toy/1s2e"} and all(teacher.values())
    meta = json.loads((out / "policy.json").read_text())
    assert meta["types"] == ["simba", "eyeriss"] and meta["layout"]["num_accels"] == 3
    for chip in ("2s1e", "4s4e", "0s2e", "1s0e"):  # unseen sizes, one type missing
        assert 0.0 <= _sla(out, chip) <= 1.0


def test_ppo_fine_tunes_from_the_imitation_weights(ray_local: Any, tmp_path: Path) -> None:
    # A learning rate so small that one PPO iteration cannot move the weights: the exported
    # policy must then be the imitation round PPO started from, parameter for parameter.
    out = _train(tmp_path, iterations=1, lr=1e-10)
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["env_steps"] >= 64
    start = json.loads((out / "warm_start.json").read_text())
    assert start["fresh"] == []  # same network: every parameter came from the round
    with np.load(Path(start["init"]) / "policy.npz") as a, np.load(out / "policy.npz") as b:
        assert set(a.files) <= set(b.files)
        for name in a.files:
            np.testing.assert_allclose(a[name], b[name], atol=1e-6, err_msg=name)

    # The baseline ablation starts from the same round: only the critic's input layer, which
    # no longer sees the upcoming arrivals, starts fresh.
    cfg = tmp_path / "recipe.yaml"
    other = tmp_path / "no_future"
    argv = ["train", "--config", str(cfg), "--init", start["init"], "--no-critic-future",
            "--out", str(other), "--no-track"]  # fmt: skip
    assert main(argv) == 0
    fresh = json.loads((other / "warm_start.json").read_text())["fresh"]
    assert fresh and all(name.startswith("critic.0.") for name in fresh), fresh
    assert not (other / "imitation").exists()  # --init skips imitation


def test_a_chip_with_an_unknown_type_is_refused(ray_local: Any, tmp_path: Path) -> None:
    out = _train(tmp_path, iterations=0)
    meta = json.loads((out / "policy.json").read_text())
    meta["types"] = ["simba"]  # as if trained on Simba-like units only
    (out / "policy.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=r"hardware: sub-accelerator type 'eyeriss' is not one"):
        _sla(out, "1s1e")


def test_the_policy_is_chosen_on_validation_seeds(
    ray_local: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _train(tmp_path, iterations=2, checkpoint_every=1, select_seeds=1)
    err = capsys.readouterr().err
    table = json.loads((out / "selection.json").read_text())
    names = [c["name"] for c in table["candidates"]]
    assert names[0].startswith("start (round_0") and names[1:] == [
        "PPO iteration 1",
        "PPO iteration 2",
    ]
    assert table["seeds"] == [5000, 5000] and set(table["pairs"]) == {"toy/2s1e", "toy/1s2e"}
    assert all(c["minus_reference"]["wins"] + c["minus_reference"]["losses"]
               + c["minus_reference"]["ties"] == 2 for c in table["candidates"])  # fmt: skip
    slas = [c["validation_sla"] for c in table["candidates"]]
    chosen = table["candidates"][names.index(table["chosen"])]
    assert chosen["validation_sla"] == max(slas)
    # the run's policy is the chosen candidate's export, byte for byte
    for name in ("policy.json", "policy.npz"):
        assert (out / name).read_bytes() == (Path(chosen["path"]) / name).read_bytes()
    assert f"relmas: chose {table['chosen']}: validation SLA" in err


def test_the_same_seed_fits_the_same_student_whatever_task_finishes_first(
    ray_local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labelling tasks finish in an order set by the machine's load; the fit must not see it.
    Two runs whose ``ray.wait`` hands back the tasks first-submitted-first and
    last-submitted-first must export the same weights, round for round (small minibatches, so
    that the order of the rows would matter)."""
    real_wait, calls = ray_local.wait, []

    def in_order(last_first: bool) -> Any:
        def wait(refs: list[Any], num_returns: int = 1, **kw: Any) -> Any:
            real_wait(
                refs, num_returns=len(refs), **{k: v for k, v in kw.items() if k != "timeout"}
            )
            ready = (refs[::-1] if last_first else refs)[:num_returns]
            calls.append(len(refs))
            return ready, [r for r in refs if r not in ready]

        return wait

    imitation = {**RECIPE["imitation"], "minibatch": 8}
    runs = []
    for name, last_first in (("a", False), ("b", True)):
        (tmp_path / name).mkdir()
        monkeypatch.setattr(ray_local, "wait", in_order(last_first))
        runs.append(_train(tmp_path / name, iterations=0, imitation=imitation))
    assert max(calls) >= 2  # a round had tasks to reorder
    for r in ("round_00", "round_01"):
        with (
            np.load(runs[0] / "imitation" / r / "policy.npz") as a,
            np.load(runs[1] / "imitation" / r / "policy.npz") as b,
        ):
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files), r
