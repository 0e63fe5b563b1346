"""``compute_metrics`` on hand-built results, every number worked out in a comment."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from relmas.schedulers import make_scheduler
from relmas.sim import RequestSpec, Simulator
from relmas.sim.metrics import compute_metrics, fairness, stp
from relmas.sim.result import SimResult
from relmas.sim.toy import toy_chip


def _result(**overrides: object) -> SimResult:
    # Four requests, two models (isolated latency 1 s and 2 s), two tenants, two units:
    #   rid  tenant model prio arrival deadline finish  state      latency
    #   0    0      0     1    0       4        2       met        2
    #   1    0      0     1    1       3        5       late       4
    #   2    1      1     9    2       10       4       met        2
    #   3    0      1     9    3       6        5       dropped    -
    fields: dict[str, object] = {
        "tenant": np.array([0, 0, 1, 0]),
        "model": np.array([0, 0, 1, 1]),
        "priority": np.array([1, 1, 9, 9]),
        "arrival_s": np.array([0.0, 1.0, 2.0, 3.0]),
        "deadline_s": np.array([4.0, 3.0, 10.0, 6.0]),
        "finish_s": np.array([2.0, 5.0, 4.0, 5.0]),
        "dropped": np.array([False, False, False, True]),
        "isolated_latency_s": np.array([1.0, 1.0, 2.0, 2.0]),
        "busy_s": np.array([4.0, 2.5]),
        "layers_run": np.array([3, 2]),
        "accel_types": ("simba", "eyeriss"),
        "model_names": ("m0", "m1"),
        "dynamic_energy_j": 6.0,
        "static_power_w": 0.5,
        "dram_bytes": 10e9,
        "bandwidth_bytes_per_s": 4e9,
        "makespan_s": 5.0,
        "dispatches": 5,
    }
    fields.update(overrides)
    return SimResult(**fields)  # type: ignore[arg-type]


def test_every_metric_by_hand() -> None:
    m = compute_metrics(_result(), ["alpha", "beta"])
    assert m["requests"] == 4
    assert m["completed"] == 3  # the dropped one is not completed though its finish_s is set
    # SLA: rids 0 and 2 met out of 4 (the drop is a violation) -> 0.5; one drop -> 0.25.
    assert m["sla_rate"] == 0.5
    assert m["violation_rate"] == 0.5
    assert m["drop_rate"] == 0.25
    # Per tenant: alpha has rids 0 (met), 1 (late), 3 (dropped) -> 1/3; beta rid 2 -> 1.
    assert m["sla_rate_per_tenant"] == {"alpha": pytest.approx(1 / 3), "beta": 1.0}
    # Per priority: 1 -> rids 0, 1 -> 1/2; 9 -> rids 2, 3 -> 1/2.
    assert m["sla_rate_per_priority"] == {"1": 0.5, "9": 0.5}
    # A dropped request is charged max(drop time, deadline, arrival + isolated): rid 3 ->
    # max(5, 6, 3 + 2) = 6, turnaround 3. Turnarounds of all four: [2, 4, 2, 3].
    # ANTT over all: mean(2/1, 4/1, 2/2, 3/2) = 8.5/4; over completed: mean(2, 4, 1) = 7/3.
    assert m["antt"] == pytest.approx(8.5 / 4)
    assert m["antt_completed"] == pytest.approx(7 / 3)
    # STP: model 0 mean latency (2 + 4)/2 = 3, iso 1 -> 1/3; model 1 mean (2 + 3)/2 = 2.5,
    # iso 2 -> 0.8. Sum 17/15.
    assert m["stp"] == pytest.approx(17 / 15)
    # Fairness: mean priorities 1 and 9 (sum 10). PP0 = (1/3) / (1/10) = 10/3,
    # PP1 = 0.8 / (9/10) = 8/9; min / max = (8/9) / (10/3) = 4/15.
    assert m["fairness"] == pytest.approx(4 / 15)
    # Latencies, all four: mean 11/4; sorted [2, 2, 3, 4] with numpy's linear interpolation:
    # p50 at index 1.5 -> 2.5, p95 at 2.85 -> 3.85, p99 at 2.97 -> 3.97.
    assert m["mean_latency_s"] == pytest.approx(11 / 4)
    assert m["p50_latency_s"] == pytest.approx(2.5)
    assert m["p95_latency_s"] == pytest.approx(3.85)
    assert m["p99_latency_s"] == pytest.approx(3.97)
    # Completed only: [2, 4, 2], mean 8/3; sorted [2, 2, 4]: p50 2, p95 at 1.9 -> 3.8, p99 3.96.
    assert m["mean_latency_completed_s"] == pytest.approx(8 / 3)
    assert m["p50_latency_completed_s"] == 2.0
    assert m["p95_latency_completed_s"] == pytest.approx(3.8)
    assert m["p99_latency_completed_s"] == pytest.approx(3.96)
    # Throughput: 3 completions between the first arrival (0) and the last completion (5).
    assert m["throughput_per_s"] == pytest.approx(0.6)
    # Energy: 6 J dynamic + 0.5 W x 5 s = 8.5 J; per completed inference 8.5 / 3, per request
    # 8.5 / 4; EDP = energy per inference x mean latency = (8.5/3) x (11/4) = 187/24.
    assert m["energy_j"] == pytest.approx(8.5)
    assert m["dynamic_energy_j"] == 6.0
    assert m["static_energy_j"] == pytest.approx(2.5)
    assert m["energy_per_inference_j"] == pytest.approx(8.5 / 3)
    assert m["energy_per_request_j"] == pytest.approx(8.5 / 4)
    assert m["edp"] == pytest.approx(187 / 24)
    # Utilisation: busy / makespan = [4/5, 2.5/5]; mean 0.65. DRAM: 10 GB over 4 GB/s x 5 s.
    assert m["utilization"] == pytest.approx([0.8, 0.5])
    assert m["mean_utilization"] == pytest.approx(0.65)
    assert m["dram_utilization"] == pytest.approx(0.5)
    assert m["makespan_s"] == 5.0
    assert m["dispatches"] == 5
    json.dumps(m)  # JSON-serialisable: plain floats, ints, lists and dicts


def test_the_helpers_agree_with_compute_metrics() -> None:
    res = _result()
    assert stp(res) == pytest.approx(17 / 15)
    assert fairness(res) == pytest.approx(4 / 15)


def test_tenant_labels_default_to_indices() -> None:
    m = compute_metrics(_result())
    assert set(m["sla_rate_per_tenant"]) == {"0", "1"}


def test_a_deadline_met_exactly_counts_as_met() -> None:
    res = _result(finish_s=np.array([4.0, 3.0, 10.0, 5.0]))  # finish == deadline for 0, 1, 2
    assert compute_metrics(res)["sla_rate"] == 0.75


def test_equal_progress_per_priority_is_perfectly_fair() -> None:
    # Nothing dropped; model 1 gets latencies 6 and 6 (slowdown 1/3, like model 0's mean 3),
    # priorities equal: fairness 1.
    finish, kept = np.array([2.0, 5.0, 8.0, 9.0]), np.zeros(4, dtype=bool)
    res = _result(finish_s=finish, dropped=kept, priority=np.array([1, 1, 1, 1]))
    assert compute_metrics(res)["fairness"] == pytest.approx(1.0)
    # Same slowdowns but model 1 has 9x the priority: it should have progressed 9x more.
    res9 = _result(finish_s=finish, dropped=kept)
    assert compute_metrics(res9)["fairness"] == pytest.approx(1 / 9)


def test_a_single_model_type_is_fair_and_stp_is_its_progress() -> None:
    res = _result(model=np.array([0, 0, 0, 0]), isolated_latency_s=np.ones(4))
    m = compute_metrics(res)
    assert m["fairness"] == 1.0
    # Latencies 2, 4, 2 and the drop charged max(5, 6, 3 + 1) - 3 = 3 -> mean 11/4 -> STP 4/11.
    assert m["stp"] == pytest.approx(4 / 11)


def test_nothing_completed_gives_nan_not_a_charge() -> None:
    # All four dropped: no latency was observed, so every latency figure is missing (NaN, ranked
    # last) rather than charged. Charges here would be max(drop, deadline, arrival + iso) =
    # 4, 5, 10, 6 -> NTT 4, 4, 4, 1.5: with deadlines below the isolated latency a charge is
    # a + iso, the best latency there is, so a drop-everything policy could rank first on it.
    res = _result(dropped=np.array([True, True, True, True]))
    m = compute_metrics(res)
    assert m["completed"] == 0 and m["sla_rate"] == 0.0 and m["drop_rate"] == 1.0
    for key in (
        "antt",
        "antt_completed",
        "fairness",
        "mean_latency_s",
        "p99_latency_s",
        "mean_latency_completed_s",
        "p99_latency_completed_s",
        "throughput_per_s",
    ):
        assert math.isnan(m[key]), key  # fmt: skip
    assert math.isnan(m["energy_per_inference_j"]) and math.isnan(m["edp"])
    assert m["stp"] == 0.0
    assert m["energy_j"] == pytest.approx(8.5)  # static energy is still spent
    assert m["energy_per_request_j"] == pytest.approx(8.5 / 4)


def test_one_completion_is_enough_to_charge_the_drops() -> None:
    # rid 0 completes (latency 2, NTT 2); rids 1-3 dropped and charged 5, 10, 6 (NTT 4, 4, 1.5):
    # ANTT mean(2, 4, 4, 1.5) = 2.875; STP: model 0 mean (2 + 4)/2 = 3 -> 1/3, model 1 mean
    # (8 + 3)/2 = 5.5 -> 2/5.5 = 4/11.
    res = _result(dropped=np.array([False, True, True, True]))
    m = compute_metrics(res)
    assert m["antt"] == pytest.approx(2.875)
    assert m["antt_completed"] == pytest.approx(2.0)
    assert m["stp"] == pytest.approx(1 / 3 + 4 / 11)


def test_empty_run() -> None:
    empty = np.array([], dtype=float)
    res = _result(
        tenant=empty.astype(int),
        model=empty.astype(int),
        priority=empty.astype(int),
        arrival_s=empty,
        deadline_s=empty,
        finish_s=empty,
        dropped=empty.astype(bool),
        isolated_latency_s=empty,
        busy_s=np.zeros(2),
        dynamic_energy_j=0.0,
        dram_bytes=0.0,
        makespan_s=0.0,
        dispatches=0,
    )
    m = compute_metrics(res)
    assert m["requests"] == 0 and m["completed"] == 0
    assert math.isnan(m["sla_rate"]) and math.isnan(m["drop_rate"])
    assert m["energy_j"] == 0.0
    assert all(math.isnan(u) for u in m["utilization"])  # no time elapsed: undefined
    json.dumps(m)


def test_metrics_of_a_toy_run() -> None:
    # One unit, 2 s one-layer model (isolated 2 s), static 1 W. Three requests at 0 with
    # deadlines 2, 10 and 3 under FCFS with drop_hopeless: r0 runs [0, 2) (met exactly);
    # r2 must start by 3 - 2 = 1, so at t = 2 it is dropped; r1 runs [2, 4), latency 4 (met).
    # r2 is charged max(2, 3, 0 + 2) = 3: turnarounds [2, 4, 3].
    # sla 2/3, drop 1/3, antt mean(2/2, 4/2, 3/2) = 1.5 (completed only: mean(1, 2) = 1.5 too),
    # p50 = 3, throughput 2 / 4 = 0.5/s, energy 2 x 1 J + 1 W x 4 s = 6 J, 3 J per completed
    # inference, 2 J per request, edp 3 x mean(2, 4, 3) = 9, utilisation 1.
    chip = toy_chip(["simba"], {"m": {"simba": [2.0]}}, static_power_w={"simba": 1.0})
    specs = [RequestSpec(0.0, 0, 0, 1, d) for d in (2.0, 10.0, 3.0)]
    res = Simulator(chip, specs, drop_hopeless=True).run(make_scheduler("fcfs"), seed=0)
    m = compute_metrics(res)
    assert m["sla_rate"] == pytest.approx(2 / 3)
    assert m["drop_rate"] == pytest.approx(1 / 3)
    assert m["antt"] == pytest.approx(1.5)
    assert m["antt_completed"] == pytest.approx(1.5)
    assert m["p50_latency_s"] == pytest.approx(3.0)
    assert m["throughput_per_s"] == pytest.approx(0.5)
    assert m["energy_j"] == pytest.approx(6.0)
    assert m["energy_per_inference_j"] == pytest.approx(3.0)
    assert m["energy_per_request_j"] == pytest.approx(2.0)
    assert m["edp"] == pytest.approx(9.0)
    assert m["utilization"] == pytest.approx([1.0])
    assert m["stp"] == pytest.approx(2 / 3)  # iso 2 / mean latency 3 (the drop charged 3)
    assert m["fairness"] == 1.0
