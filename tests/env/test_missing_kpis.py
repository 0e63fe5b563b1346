"""A KPI with no value is reported as missing (NaN), never as a number that ranks best.

An episode in which no request completes has no energy per inference; it used to be logged as
0.0, which a sweep minimising energy then preferred over every real policy.
"""

from __future__ import annotations

import math

import pytest

from relmas.env import multi_accel
from relmas.env.multi_accel import KPI_KEYS, MultiAccelEnv
from relmas.evaluation.summary import best_by, rank_key, summarize
from relmas.sim.metrics import compute_metrics

# SLA 0.1 x the isolated latency with drop-hopeless: every request is dropped on arrival.
HOPELESS = {"scenario": "toy", "hardware": "2s2e", "seeds": [1], "num_requests": 12,
            "sla_multiplier": 0.1, "drop_hopeless": True}  # fmt: skip


def test_a_kpi_without_value_stays_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    env = MultiAccelEnv(HOPELESS)
    env.sim, env.steps = env.source.make_simulator(1), 0
    assert not env.sim.advance()  # every request was dropped: the episode has ended
    metrics = compute_metrics(env.sim.result())
    info = env.episode_kpis()
    assert info["completed"] == 0 and info["requests"] == 12
    assert info["sla_rate"] == 0.0  # a rate over all requests does have a value
    for key in KPI_KEYS:  # NaN exactly where the metric has no value, never a 0.0 stand-in
        assert math.isnan(info[key]) == math.isnan(metrics[key]), key
    # energy per completed inference has no value without a completion
    monkeypatch.setattr(multi_accel, "compute_metrics", lambda res: {**metrics,
                        "energy_per_inference_j": math.nan})  # fmt: skip
    assert math.isnan(env.episode_kpis()["energy_per_inference_j"])


def test_missing_values_rank_last_in_either_order() -> None:
    rows = [
        {"scheduler": "dropper", "sla_rate": 0.0, "energy_per_inference_j": math.nan},
        {"scheduler": "worker", "sla_rate": 0.0, "energy_per_inference_j": 2.0},
    ]
    filled = [dict(r, **{k: 0.0 for k in ("drop_rate", "antt", "stp", "fairness",
              "p99_latency_s", "throughput_per_s", "edp", "mean_utilization",
              "dram_utilization")}) for r in rows]  # fmt: skip
    for order in (filled, filled[::-1]):
        assert best_by(summarize(order))["scheduler"] == "worker"
    assert rank_key(0.5, math.nan) < rank_key(0.5, 9.0) < rank_key(0.5, 1.0)
    assert rank_key(math.nan, 1.0) < rank_key(0.0, 9.0)
