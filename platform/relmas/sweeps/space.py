"""Turn a validated sweep file into a Tune ``param_space`` (and prepare its scenario files).

Why scenarios are rewritten: presets give an ``offered_load`` that is resolved against the chip,
so a 4s4e chip would get four times the requests of a 1s1e one and every chip would look equally
loaded. A hardware DSE needs the *same* request stream on every chip, so with
``reference_hardware`` the per-tenant rates are fixed on that chip and written to a scenario
file that every trial reads (a path is plain data: it pickles to trials and logs as a param).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from relmas.errors import UserError
from relmas.experiment import load_setup
from relmas.files import write_atomic
from relmas.loaders.scenarios import load_scenario
from relmas.schedulers import scheduler_names
from relmas.sim.workload import resolve_rates
from relmas.sweeps.config import Dim, SweepConfig
from relmas.sweeps.rl_space import RecipeSpace, parse_space


def prepare_scenario(ref: str, cfg: SweepConfig, out_dir: Path) -> str:
    """A scenario file with ``num_requests`` and fixed rates applied (or ``ref`` unchanged)."""
    if cfg.num_requests is None and cfg.reference_hardware is None:
        return str(Path(ref).resolve()) if ref.endswith((".yaml", ".yml")) else ref
    scen, traces = load_scenario(ref)
    if traces:
        raise UserError(
            "scenarios",
            f"{ref!r} replays traces",
            "drop num_requests and reference_hardware for trace scenarios",
        )
    data = scen.model_dump(mode="json", exclude_none=True)
    if cfg.num_requests is not None:
        data["num_requests"] = cfg.num_requests
    if cfg.reference_hardware is not None and scen.offered_load is not None:
        rates = resolve_rates(scen, load_setup(ref, cfg.reference_hardware).chip)
        for tenant, rate in zip(data["tenants"], rates, strict=True):
            arrival = tenant["arrival"]
            if "load_share" in arrival:
                del arrival["load_share"]
                arrival["rate_per_s"] = rate
        del data["offered_load"]
        data["description"] = f"{scen.description} [rates fixed on {cfg.reference_hardware}]"
    path = out_dir / f"{scen.name}.yaml"
    write_atomic(path, yaml.safe_dump(data, sort_keys=False))
    return str(path.resolve())


def _grid(values: list[Any], choice: bool) -> Any:
    """One value as itself, several as a grid (or a random ``choice``)."""
    from ray import tune

    if len(values) == 1:
        return values[0]
    return tune.choice(values) if choice else tune.grid_search(values)


def to_tune(dim: Dim, searcher: bool) -> Any:
    """A Tune domain; grids become ``choice`` for Optuna/HyperOpt, which reject grid_search."""
    from ray import tune

    vals = dim.values()
    if vals is not None:
        return _grid(list(vals), searcher or dim.choice is not None)
    if dim.uniform is not None:
        return tune.uniform(*dim.uniform)
    if dim.loguniform is not None:
        return tune.loguniform(*dim.loguniform)
    assert dim.randint is not None  # guaranteed by Dim's validator
    return tune.randint(dim.randint[0], dim.randint[1] + 1)  # inclusive upper bound


def schedulers_of(cfg: SweepConfig) -> list[str]:
    """Scheduler names of a heuristic sweep (``all`` = every built-in)."""
    names = scheduler_names()
    wanted = names if cfg.heuristic.schedulers == "all" else cfg.heuristic.schedulers
    from relmas.errors import unknown_name

    for name in wanted:
        if name not in names:
            raise unknown_name("heuristic.schedulers", name, names)
    return list(wanted)


def param_space(cfg: SweepConfig, scenario_dir: Path) -> dict[str, Any]:
    """The Tune search space of a sweep (plain values, Tune domains and grid markers)."""
    searcher = cfg.search.algorithm in ("optuna", "hyperopt")
    scenarios = [prepare_scenario(s, cfg, scenario_dir) for s in cfg.scenarios]
    hw = cfg.hardware
    space: dict[str, Any] = {
        "kind": cfg.trainable,
        "scenario": _grid(scenarios, searcher),
        "n_simba": to_tune(hw.n_simba, searcher),
        "n_eyeriss": to_tune(hw.n_eyeriss, searcher),
        "dram_bandwidth_gbps": to_tune(hw.dram_bandwidth_gbps, searcher),
    }
    names = [] if cfg.trainable == "rl" else schedulers_of(cfg)
    names = [*names, "rl"] if cfg.trainable != "heuristic" else names
    space["scheduler"] = _grid(names, searcher)
    space["seeds"] = cfg.heuristic.seeds
    if cfg.trainable == "heuristic":
        return space
    recipe = rl_space(cfg)
    domains = {path: to_tune(dim, searcher) for path, dim in recipe.dims.items()}
    for key, dim in cfg.scheduler.mutations.items():  # PBT: start each trial at a random point
        domains[("reward", key)] = to_tune(Dim(choice=dim.values()) if dim.values() else dim, True)
    space["rl"] = {"eval_seeds": cfg.rl.eval_seeds, "recipe": recipe.with_values(domains)}
    return space


def rl_space(cfg: SweepConfig) -> RecipeSpace:
    """The sweep's ``rl:`` section as fixed recipe values and dimensions."""
    return parse_space(cfg.rl, f"sweep {cfg.name}")


def expected_trials(cfg: SweepConfig) -> int:
    """How many trials the sweep creates: ``num_samples`` x the product of grid sizes.

    Tune creates grid variants lazily, so after an interruption its result grid lists only the
    trials started so far; this count tells how many are still missing.
    """
    if cfg.search.algorithm in ("optuna", "hyperopt"):
        return cfg.search.num_samples
    names = [] if cfg.trainable == "rl" else schedulers_of(cfg)
    sizes = [len(cfg.scenarios), len(names) + (cfg.trainable != "heuristic")]
    dims = [cfg.hardware.n_simba, cfg.hardware.n_eyeriss, cfg.hardware.dram_bandwidth_gbps]
    if cfg.trainable != "heuristic":  # Tune crosses every grid with every other one
        dims += rl_space(cfg).dims.values()
    sizes += [len(d.grid) if d.grid is not None else 1 for d in dims]
    return cfg.search.num_samples * math.prod(sizes)
