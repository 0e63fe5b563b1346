"""RLlib smoke tests with tiny budgets: train, checkpoint, export, then schedule with the policy.

Marked ``slow`` (they start Ray); one session-scoped Ray instance is shared (``ray_local``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from relmas.cli import train as train_cli
from relmas.env.sources import ToySource
from relmas.errors import UserError
from relmas.schedulers.registry import make_scheduler
from relmas.sim.metrics import compute_metrics

pytestmark = pytest.mark.slow
TINY = [
    "--scenario",
    "toy",
    "--hardware",
    "2s2e",
    "--batch-size",
    "128",
    "--minibatch-size",
    "64",
    "--epochs",
    "1",
    "--hidden",
    "16",
    "--train-seeds",
    "4",
]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="relmas")
    train_cli.register(parser.add_subparsers(required=True))
    return parser.parse_args(argv)


def _schedule_with(policy_dir: Path) -> float:
    sched = make_scheduler(f"rl:{policy_dir}")
    sim = ToySource({"hardware": "2s2e"}).make_simulator(123)
    sched.reset(sim, np.random.default_rng(0))
    return float(compute_metrics(sim.run(sched, seed=0))["sla_rate"])


def test_cli_train_local_then_evaluate(
    ray_local: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    out = tmp_path / "run"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.delenv("RELMAS_NO_TRACK", raising=False)
    track = ["--tracking-uri", store]
    args = _parse(
        ["train", *TINY, "--iterations", "2", "--checkpoint-every", "1", "--out", str(out), *track]
    )
    assert args.func(args) == 0
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["iteration"] for x in lines] == [1, 2]
    assert lines[-1]["env_steps"] >= 256
    for it in (1, 2):
        assert (out / "checkpoints" / f"iter_{it:06d}" / "rllib_checkpoint.json").is_file()
        assert (out / "checkpoints" / f"iter_{it:06d}" / "policy.npz").is_file()
    assert 0.0 <= _schedule_with(out) <= 1.0
    assert _schedule_with(out / "checkpoints" / "iter_000001") >= 0.0
    capsys.readouterr()
    ev = _parse(
        ["evaluate", "--checkpoint", str(out), "--scenario", "toy", "--seeds", "2", "--json",
         *track]
    )  # fmt: skip
    assert ev.func(ev) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["best_heuristic"] in report["heuristics"]
    assert set(report["ratios"]) == {"sla_rate", "energy_per_inference_j"}
    _assert_tracked(store, report)


def _assert_tracked(store: str, report: dict[str, Any]) -> None:
    """train and evaluate each left one finished MLflow run in the store they were given."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    for kind in ("train", "evaluate"):
        exp = client.get_experiment_by_name(f"relmas-{kind}")
        assert exp is not None, f"relmas {kind} was not tracked"
        (run,) = client.search_runs([exp.experiment_id])
        assert run.info.status == "FINISHED"
    assert run.data.metrics["policy/sla_rate"] == report["policy"]["sla_rate"]


def test_one_env_runner_two_envs_logs_kpis(ray_local: Any, tmp_path: Path) -> None:
    from relmas.rl.recipe import Recipe
    from relmas.rl.trainer import train

    s = Recipe(
        scenario="toy",
        hardware="1s1e",
        train_seeds=2,
        episode_requests=6,
        iterations=1,
        env_runners=1,
        envs_per_runner=2,
        batch_size=128,
        minibatch_size=64,
        epochs=1,
        hidden=[16],
    )
    stats = train(s, tmp_path, None)
    assert len(stats) == 1 and stats[0].env_steps >= 128
    assert 0.0 <= stats[0].sla_rate <= 1.0, "KPI callback must log env_runners/sla_rate"
    assert not math.isnan(stats[0].episode_return_mean)
    assert (tmp_path / "policy.npz").is_file()


def test_lstm_policy_trains_exports_and_schedules(ray_local: Any, tmp_path: Path) -> None:
    args = _parse(["train", *TINY, "--iterations", "1", "--lstm", "8", "--out", str(tmp_path)])
    assert args.func(args) == 0
    meta = json.loads((tmp_path / "policy.json").read_text())
    assert meta["lstm"] is True
    assert 0.0 <= _schedule_with(tmp_path) <= 1.0


def test_too_many_env_runners_is_a_user_error(tmp_path: Path) -> None:
    args = _parse(["train", *TINY, "--env-runners", "999", "--out", str(tmp_path)])
    with pytest.raises(UserError, match="--env-runners"):
        args.func(args)


def test_ensemble_seeds_train_each_seed_then_schedule_as_one_policy(
    ray_local: Any, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "ens"
    argv = ["train", *TINY, "--iterations", "1", "--ensemble-seeds", "3,5", "--out", str(out)]
    args = _parse(argv)
    assert args.func(args) == 0
    assert "an ensemble of 2 runs" in capsys.readouterr().out
    doc = json.loads((out / "ensemble.json").read_text())
    assert doc["members"] == ["seed_3", "seed_5"]
    seeds = [
        json.loads((out / m / "policy.json").read_text())["recipe"]["seed"] for m in doc["members"]
    ]
    assert seeds == [3, 5]  # each member is the run `--seed N --out OUT/seed_N` would make
    assert 0.0 <= _schedule_with(out) <= 1.0
    before = (out / "seed_3" / "policy.npz").read_bytes()
    again = _parse([*argv, "--resume"])
    assert again.func(again) == 0
    assert capsys.readouterr().err.count("already trained, kept") == 2
    assert (out / "seed_3" / "policy.npz").read_bytes() == before
