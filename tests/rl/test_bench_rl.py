"""``relmas bench rl`` without the RLlib part: the env and decision-latency numbers are produced."""

from __future__ import annotations

import argparse
import json
from typing import Any

from relmas.cli import bench_rl


def test_bench_rl_env_and_latency_json(capsys: Any) -> None:
    parser = argparse.ArgumentParser(prog="relmas")
    bench = parser.add_subparsers(required=True).add_parser("bench")
    bench_rl.register_bench(bench.add_subparsers(required=True))
    args = parser.parse_args(
        ["bench", "rl", "--scenario", "toy", "--seconds", "0.2", "--no-rllib", "--json"]
    )
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["env_steps_per_s"] > 0 and out["cartpole_steps_per_s"] > 0
    assert out["cartpole_ratio"] == out["env_steps_per_s"] / out["cartpole_steps_per_s"]
    assert 0 < out["decision_latency_us_median"] <= out["decision_latency_us_p99"]
    assert "rllib_steps_per_s_1_runner" not in out


def test_bench_rl_reports_how_often_a_searching_policy_searched(capsys: Any) -> None:
    # A shipped policy with ?parameters, as after rl:; the search's counters come out per decision.
    parser = argparse.ArgumentParser(prog="relmas")
    bench = parser.add_subparsers(required=True).add_parser("bench")
    bench_rl.register_bench(bench.add_subparsers(required=True))
    argv = ["bench", "rl", "--scenario", "heavy", "--seconds", "0.2", "--no-rllib", "--json",
            "--checkpoint", "gate_ensemble?search=2"]  # fmt: skip
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 < out["decisions_searched_share"] < 1
    assert 0 < out["rollouts_per_decision"] <= 2 * out["decisions_searched_share"]
    assert out["decision_latency_us_median"] <= out["decision_latency_us_mean"]
