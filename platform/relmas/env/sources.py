"""Where the env's episodes come from: a chip plus one seeded request trace per episode seed.

Two sources share one tiny interface, so tests, benchmarks and training use the same env code:

* ``experiment``: the real scenario presets and hardware compositions, through
  ``relmas.experiment.load_setup`` / ``make_simulator`` (imported lazily: it pulls in the cost
  model, which tests of the env contract do not need).
* ``toy``: a hand-made Simba/Eyeriss chip (``relmas.sim.toy``) with three models of different
  dataflow affinity and DRAM intensity, and seeded Poisson arrivals. Fast and self-contained.

Select with ``scenario: "toy"``; any other scenario name goes to ``relmas.experiment``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from relmas.env.config import EnvConfig
from relmas.errors import UserError
from relmas.sim.chip import Chip
from relmas.sim.engine import Simulator
from relmas.sim.request import RequestSpec
from relmas.sim.toy import toy_chip

_HW = re.compile(r"^(?:(\d+)s)?(?:(\d+)e)?$")


class EpisodeSource(Protocol):
    """A chip and a way to build the simulator of one seeded episode."""

    chip: Chip

    def make_simulator(self, seed: int, bandwidth_policy: str | None = None) -> Simulator:
        """A fresh simulator over the request trace of ``seed`` (``None``: default policy)."""
        ...


def parse_hardware(hardware: str) -> list[str]:
    """``"2s2e"`` -> ``["simba", "simba", "eyeriss", "eyeriss"]`` (toy source only)."""
    match = _HW.match(hardware)
    if not match or not any(match.groups()):
        raise UserError("hardware", f"cannot parse {hardware!r}", "use a form like 2s2e or 1s3e")
    n_s, n_e = (int(g or 0) for g in match.groups())
    if n_s + n_e == 0:
        raise UserError("hardware", "has no sub-accelerators", "give at least one instance")
    return ["simba"] * n_s + ["eyeriss"] * n_e


def _toy_tables(rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-layer compute times and DRAM bytes of three toy models (ms-scale layers).

    ``conv`` prefers Eyeriss (row-stationary), ``gemm`` prefers Simba (weight-stationary) and
    ``mixed`` alternates; ``gemm`` layers are DRAM-heavy so bandwidth contention matters.
    """
    shapes = {"conv": (8, 1.6, 1.0, 2e6), "gemm": (6, 1.0, 1.7, 8e6), "mixed": (10, 1.0, 1.0, 4e6)}
    compute: dict[str, Any] = {}
    dram: dict[str, Any] = {}
    for name, (n, simba_x, eyeriss_x, bytes_per_layer) in shapes.items():
        base = rng.uniform(0.5e-3, 2e-3, n)
        flip = np.where(np.arange(n) % 2 == 0, 0.8, 1.25) if name == "mixed" else np.ones(n)
        compute[name] = {"simba": base * simba_x * flip, "eyeriss": base * eyeriss_x / flip}
        d = rng.uniform(0.5, 1.5, n) * bytes_per_layer
        dram[name] = {"simba": d, "eyeriss": d * 1.2}
    return compute, dram


class ToySource:
    """Toy chip + Poisson requests; deadlines are ``sla_multiplier`` x isolated latency."""

    def __init__(self, config: EnvConfig | Mapping[str, Any]) -> None:
        config = EnvConfig.from_mapping(config)
        accel_types = parse_hardware(str(config.hardware))
        compute, dram = _toy_tables(np.random.default_rng(0))
        energy = {m: {t: v * 1e3 for t, v in per.items()} for m, per in compute.items()}
        bandwidth = config.toy_bandwidth_bytes_per_s * len(accel_types) / 4
        self.chip = toy_chip(
            accel_types, compute, bandwidth_bytes_per_s=bandwidth, dram_bytes=dram, energy_j=energy
        )
        self.num_requests = config.num_requests or 60
        self.load = config.load
        self.sla_multiplier = config.sla_multiplier
        self.drop_hopeless = config.drop_hopeless
        self.decision_period_s = config.decision_period_s

    def specs(self, seed: int) -> list[RequestSpec]:
        """The request trace of ``seed``: Poisson arrivals at the configured offered load."""
        rng = np.random.default_rng(seed)
        chip, n = self.chip, self.num_requests
        models = rng.integers(len(chip.num_layers), size=n)
        mean_iso = float(np.mean(chip.isolated_latency_s))
        rate_per_s = self.load * chip.num_accels / mean_iso
        arrivals = np.cumsum(rng.exponential(1.0 / rate_per_s, n))
        prios = rng.choice([1, 3, 9], size=n)
        return [
            RequestSpec(
                float(t),
                int(p > 1),
                int(m),
                int(p),
                float(t + self.sla_multiplier * chip.isolated_latency_s[m]),
            )
            for t, m, p in zip(arrivals, models, prios, strict=True)
        ]

    def make_simulator(self, seed: int, bandwidth_policy: str | None = None) -> Simulator:
        """A simulator over the trace of ``seed``."""
        return Simulator(
            self.chip,
            self.specs(seed),
            drop_hopeless=self.drop_hopeless,
            decision_period_s=self.decision_period_s,
            bandwidth_policy=bandwidth_policy or "proportional",
        )


class ExperimentSource:
    """A scenario preset on a hardware composition, via ``relmas.experiment``."""

    def __init__(self, config: EnvConfig | Mapping[str, Any]) -> None:
        from relmas import experiment  # lazy: pulls in the cost model and the scenario loader

        config = EnvConfig.from_mapping(config)
        self._experiment = experiment
        setup = experiment.load_setup(str(config.scenario), str(config.hardware))
        if config.num_requests:  # shorter training episodes over the same arrival process
            scen = setup.scenario.model_copy(update={"num_requests": config.num_requests})
            setup = dataclasses.replace(setup, scenario=scen)
        self.setup = setup
        self.chip = setup.chip
        self.decision_period_s = config.decision_period_s

    def make_simulator(self, seed: int, bandwidth_policy: str | None = None) -> Simulator:
        """The experiment's seeded simulator (same requests the heuristics see for ``seed``)."""
        return self._experiment.make_simulator(
            self.setup,
            seed,
            decision_period_s=self.decision_period_s,
            bandwidth_policy=bandwidth_policy,
        )


def make_source(config: EnvConfig | Mapping[str, Any] | None) -> EpisodeSource:
    """The source named by the config's ``scenario`` (``"toy"`` or a scenario preset); for a
    config with several (scenario, hardware) pairs, the first pair's."""
    cfg = EnvConfig.from_mapping(config)
    cfg = cfg.single(*cfg.pairs()[0])
    return ToySource(cfg) if cfg.scenario == "toy" else ExperimentSource(cfg)
