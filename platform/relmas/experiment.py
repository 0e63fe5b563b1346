"""Assemble a simulation from names: scenario preset + hardware composition + seed.

This is the one place where files (specs, model catalog, scenario YAML, cost-table cache) meet the
pure simulator, so the CLI, the Gymnasium env, Tune trials and tests all build simulations the same
way.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from relmas.config.scenario import PeriodicArrival, Scenario, TraceArrival
from relmas.errors import UserError, unknown_name
from relmas.hardware.spec import Composition
from relmas.loaders.cost_cache import cost_tables
from relmas.loaders.hardware import load_compositions, load_dram
from relmas.loaders.scenarios import load_scenario
from relmas.sim.chip import Chip, build_chip
from relmas.sim.engine import Simulator
from relmas.sim.workload import TraceRecords, generate_requests, resolve_rates

# Guards against inputs that are valid numbers but would exhaust memory before the first event:
# a chip of a million sub-accelerators, or a scenario drawing 10^11 arrivals.
MAX_INSTANCES = 256
MAX_ARRIVALS = 10_000_000


@dataclass(frozen=True)
class Setup:
    """A validated scenario on a concrete chip: everything needed to simulate any seed."""

    scenario: Scenario
    hardware: str
    chip: Chip
    traces: dict[str, TraceRecords] = field(default_factory=dict)


_AD_HOC = re.compile(r"^(\d+)s(\d+)e@(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)$")


def hardware_ref(n_simba: int, n_eyeriss: int, bandwidth_gbps: float) -> str:
    """Name of an ad-hoc chip, e.g. ``3s1e@12.5`` (design-space sweeps build chips from counts).

    The name travels as a plain string through ``RunSpec``, Tune configs and the RL env config,
    so every consumer that accepts a composition name accepts a swept chip too.
    """
    return f"{n_simba}s{n_eyeriss}e@{bandwidth_gbps:g}"


def _named_composition(hardware: str) -> Composition:
    """A composition of ``compositions.yaml``; an unknown name suggests the closest one."""
    compositions = load_compositions()
    if hardware not in compositions:
        err = unknown_name("hardware", hardware, compositions)
        raise UserError(err.field, err.problem, f"{err.fix} (or <N>s<M>e@<GB/s>, e.g. 3s1e@20)")
    return compositions[hardware]


def resolve_composition(hardware: str) -> Composition:
    """A named composition (``compositions.yaml``) or an ad-hoc ``<N>s<M>e@<GB/s>`` chip."""
    match = _AD_HOC.match(hardware)
    if match is None:
        comp = _named_composition(hardware)
    else:
        n_s, n_e, bw = int(match[1]), int(match[2]), float(match[3])
        if not math.isfinite(bw):
            raise UserError("hardware", f"{hardware!r}: bandwidth is not finite", "e.g. 2s2e@14.8")
        try:
            comp = Composition(name=hardware, counts={"simba": n_s, "eyeriss": n_e},
                               dram_bandwidth_gbps=bw)  # fmt: skip
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise UserError("hardware", f"{hardware!r}: {msg}", "e.g. 2s2e@14.8") from None
    if sum(comp.counts.values()) > MAX_INSTANCES:
        problem = f"{hardware!r} has {sum(comp.counts.values())} sub-accelerators"
        raise UserError("hardware", problem, f"use at most {MAX_INSTANCES}")
    return comp


def build_chip_for(hardware: str, models: list[str], bandwidth_gbps: float | None = None) -> Chip:
    """Chip for a named composition, with cost tables for ``models`` (cached on disk)."""
    comp = resolve_composition(hardware)
    bandwidth = comp.bandwidth_bytes_per_s
    if bandwidth_gbps is not None:
        if not (bandwidth_gbps > 0 and math.isfinite(bandwidth_gbps)):
            problem = f"must be a finite number > 0, got {bandwidth_gbps}"
            raise UserError("bandwidth_gbps", problem, "use e.g. 16")
        bandwidth = bandwidth_gbps * 1e9
    types = list(comp.accel_types)
    tables = cost_tables(models, sorted(set(types)))
    return build_chip(types, bandwidth, models, tables, load_dram().static_power_w)


def load_setup(scenario: str, hardware: str, bandwidth_gbps: float | None = None) -> Setup:
    """Load a scenario preset (or YAML path) and a composition into a :class:`Setup`."""
    scen, traces = load_scenario(scenario)
    models = scen.model_names
    for tr in traces.values():
        models += [m for m in dict.fromkeys(tr.model) if m not in models]
    chip = build_chip_for(hardware, models, bandwidth_gbps)
    check_arrival_budget(scen, chip)
    return Setup(scen, hardware, chip, traces)


def _draws(scenario: Scenario, arrival: object, rate: float) -> float:
    """Upper estimate of the arrival times one tenant's generator draws (``sim.arrivals``)."""
    n: float | None = scenario.num_requests
    horizon = scenario.horizon_s
    per_s = rate
    if isinstance(arrival, PeriodicArrival):
        per_s = arrival.fps
        n = None if n is None else n / arrival.probability
    if horizon is None:
        return float(n or 0)
    expected = per_s * horizon
    return expected if n is None else min(expected, n)


def check_arrival_budget(scenario: Scenario, chip: Chip) -> None:
    """Refuse a scenario whose generators would draw more than :data:`MAX_ARRIVALS` times.

    Valid-looking numbers (``num_requests: 1e11``, ``rate_per_s: 1e300`` with a horizon, a
    periodic ``probability: 1e-12``) would otherwise allocate gigabytes inside numpy.
    """
    for tenant, rate in zip(scenario.tenants, resolve_rates(scenario, chip), strict=True):
        if isinstance(tenant.arrival, TraceArrival):
            continue
        draws = _draws(scenario, tenant.arrival, rate)
        if not draws <= MAX_ARRIVALS:
            raise UserError(
                f"tenant {tenant.name}",
                f"would draw ~{draws:.3g} arrivals (limit {MAX_ARRIVALS})",
                "lower num_requests, horizon_s or the rate",
            )


def make_simulator(
    setup: Setup,
    seed: int,
    *,
    record_trace: bool = False,
    decision_period_s: float | None = None,
    bandwidth_policy: str | None = None,
) -> Simulator:
    """A fresh simulator over the seeded request trace of ``setup``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UserError("seed", f"must be an integer >= 0, got {seed!r}", "e.g. --seed 0")
    scen = setup.scenario
    specs = generate_requests(scen, setup.chip, seed, setup.traces)
    return Simulator(
        setup.chip,
        specs,
        bandwidth_policy=bandwidth_policy or scen.bandwidth_policy,
        drop_hopeless=scen.drop_policy == "drop_hopeless",
        decision_period_s=decision_period_s or scen.decision_period_s,
        record_trace=record_trace,
    )
