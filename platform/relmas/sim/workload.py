"""Turn a scenario and a seed into the concrete list of requests for one episode.

Each tenant draws from its own child of ``SeedSequence(seed)``, so adding a tenant or changing
one tenant's rate leaves the other tenants' request streams unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from relmas.config.scenario import (
    BurstyArrival,
    PeriodicArrival,
    PoissonArrival,
    Scenario,
    Tenant,
    TraceArrival,
)
from relmas.errors import UserError
from relmas.sim import arrivals
from relmas.sim.chip import Chip
from relmas.sim.request import RequestSpec


@dataclass(frozen=True)
class TraceRecords:
    """A replayed arrival trace (read from CSV by ``relmas.loaders``)."""

    arrival_s: np.ndarray
    model: tuple[str, ...]
    priority: np.ndarray | None = None
    deadline_s: np.ndarray | None = None


def service_s(chip: Chip, model: int) -> float:
    """Seconds of the bottleneck resource (compute or DRAM) one request of ``model`` occupies.

    Compute: ``1 / sum_a (1 / model latency on a's type)``, since the chip's rate for the model is
    the sum of its instances' rates (a slow instance counts for less than a fast one). DRAM: the
    model's traffic divided by the shared bandwidth, each instance contributing in proportion to
    the requests it would serve. Whole-model placement, no contention: a load of 1.0 saturates the
    tighter of the two.
    """
    rem, dram = chip.remaining_latency_s[model], chip.dram_bytes[model]
    speeds = [1.0 / rem[t][0] for t in chip.accel_type]
    total = sum(speeds)
    traffic = sum(v / total * sum(dram[t]) for v, t in zip(speeds, chip.accel_type, strict=True))
    return max(1.0 / total, traffic / chip.bandwidth_bytes_per_s)


def mean_service_s(tenant: Tenant, chip: Chip) -> float:
    """Mean :func:`service_s` of one request of this tenant (weighted over its models)."""
    weights = np.array(list(tenant.models.values()))
    work = np.array([service_s(chip, chip.model_index(m)) for m in tenant.models])
    return float((weights * work).sum() / weights.sum())


def resolve_rates(scenario: Scenario, chip: Chip) -> list[float]:
    """Mean request rate of each tenant; ``load_share`` tenants split what fixed ones leave.

    Offered load is ``sum_t rate_t * mean_service_s_t``: 1.0 keeps every sub-accelerator busy
    with whole-model placement and no DRAM contention.
    """
    rates: list[float] = []
    fixed_load = 0.0
    for t in scenario.tenants:
        arr = t.arrival
        rate = arr.fps * arr.probability if isinstance(arr, PeriodicArrival) else 0.0
        rate = getattr(arr, "rate_per_s", None) or rate
        rates.append(rate)
        fixed_load += rate * mean_service_s(t, chip)
    if scenario.offered_load is None:
        return rates
    left = scenario.offered_load - fixed_load
    if left <= 0:
        raise UserError(
            "offered_load",
            f"{scenario.offered_load} is below the fixed tenants' load {fixed_load:.3f}",
            "raise offered_load or lower the fixed rates",
        )
    shares: dict[int, float] = {}
    for i, t in enumerate(scenario.tenants):
        share = getattr(t.arrival, "load_share", None)  # only load-based arrivals have one
        if share:
            shares[i] = float(share)
    total = sum(shares.values())
    for i, share in shares.items():
        rates[i] = left * (share / total) / mean_service_s(scenario.tenants[i], chip)
    return rates


def _times(
    tenant: Tenant,
    rate: float,
    rng: np.random.Generator,
    scenario: Scenario,
    trace: TraceRecords | None,
) -> np.ndarray:
    arr, n, h = tenant.arrival, scenario.num_requests, scenario.horizon_s
    if isinstance(arr, PoissonArrival):
        return arrivals.poisson(rng, rate, n, h)
    if isinstance(arr, BurstyArrival):
        return arrivals.on_off(rng, rate, arr.on_fraction, arr.mean_burst_s, n, h)
    if isinstance(arr, PeriodicArrival):
        return arrivals.periodic(rng, arr.fps, arr.jitter_s, arr.probability, n, h)
    assert isinstance(arr, TraceArrival) and trace is not None
    return trace.arrival_s


def _tenant_requests(
    ti: int,
    tenant: Tenant,
    rate: float,
    rng: np.random.Generator,
    scenario: Scenario,
    chip: Chip,
    trace: TraceRecords | None,
) -> list[RequestSpec]:
    times = _times(tenant, rate, rng, scenario, trace)
    names = list(tenant.models)
    weights = np.array(list(tenant.models.values()))
    if trace is not None:
        models = [chip.model_index(m) for m in trace.model]
    else:
        picks = rng.choice(len(names), size=times.size, p=weights / weights.sum())
        models = [chip.model_index(names[i]) for i in picks]
    prios = np.array(list(tenant.priorities))
    pw = np.array(list(tenant.priorities.values()))
    prio = prios[rng.choice(len(prios), size=times.size, p=pw / pw.sum())]
    if trace is not None and trace.priority is not None:
        prio = trace.priority
    if isinstance(tenant.arrival, PeriodicArrival):
        budget = np.full(times.size, tenant.sla_multiplier / tenant.arrival.fps)
    else:
        iso = np.array([chip.isolated_latency_s[m] for m in models])
        budget = tenant.sla_multiplier * iso
    deadlines = times + budget
    if trace is not None and trace.deadline_s is not None:
        deadlines = trace.deadline_s
    horizon = scenario.horizon_s if scenario.horizon_s is not None else np.inf
    return [
        RequestSpec(float(t), ti, m, int(p), float(d))
        for t, m, p, d in zip(times, models, prio, deadlines, strict=True)
        if t < horizon  # generated times already are; a replayed trace may run past it
    ]


def generate_requests(
    scenario: Scenario,
    chip: Chip,
    seed: int,
    traces: Mapping[str, TraceRecords] | None = None,
) -> list[RequestSpec]:
    """All requests of one episode, sorted by arrival (ties: tenant order)."""
    rates = resolve_rates(scenario, chip)
    streams = np.random.SeedSequence(seed).spawn(len(scenario.tenants))
    specs: list[RequestSpec] = []
    for ti, (tenant, rate, ss) in enumerate(zip(scenario.tenants, rates, streams, strict=True)):
        trace = (traces or {}).get(tenant.name)
        specs += _tenant_requests(
            ti, tenant, rate, np.random.default_rng(ss), scenario, chip, trace
        )
    specs.sort(key=lambda s: (s.arrival_s, s.tenant))
    if scenario.num_requests is not None:
        specs = specs[: scenario.num_requests]
    return specs
