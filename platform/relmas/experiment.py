"""Assemble a simulation from names: scenario preset + hardware composition + seed.

This is the one place where files (specs, model catalog, scenario YAML, cost-table cache) meet the
pure simulator, so the CLI, the Gymnasium env, Tune trials and tests all build simulations the same
way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from relmas.config.scenario import Scenario
from relmas.errors import UserError
from relmas.hardware.spec import Composition
from relmas.loaders.cost_cache import cost_tables
from relmas.loaders.hardware import load_composition, load_dram
from relmas.loaders.scenarios import load_scenario
from relmas.sim.chip import Chip, build_chip
from relmas.sim.engine import Simulator
from relmas.sim.workload import TraceRecords, generate_requests


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


def resolve_composition(hardware: str) -> Composition:
    """A named composition (``compositions.yaml``) or an ad-hoc ``<N>s<M>e@<GB/s>`` chip."""
    match = _AD_HOC.match(hardware)
    if match is None:
        return load_composition(hardware)
    n_s, n_e, bw = int(match[1]), int(match[2]), float(match[3])
    try:
        return Composition(name=hardware, counts={"simba": n_s, "eyeriss": n_e},
                           dram_bandwidth_gbps=bw)  # fmt: skip
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"]
        raise UserError("hardware", f"{hardware!r}: {msg}", "e.g. 2s2e@14.8") from None


def build_chip_for(hardware: str, models: list[str], bandwidth_gbps: float | None = None) -> Chip:
    """Chip for a named composition, with cost tables for ``models`` (cached on disk)."""
    comp = resolve_composition(hardware)
    bandwidth = comp.bandwidth_bytes_per_s
    if bandwidth_gbps is not None:
        if not bandwidth_gbps > 0:
            raise UserError("bandwidth_gbps", f"must be > 0, got {bandwidth_gbps}", "use e.g. 16")
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
    return Setup(scen, hardware, chip, traces)


def make_simulator(
    setup: Setup,
    seed: int,
    *,
    record_trace: bool = False,
    decision_period_s: float | None = None,
    bandwidth_policy: str | None = None,
) -> Simulator:
    """A fresh simulator over the seeded request trace of ``setup``."""
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
