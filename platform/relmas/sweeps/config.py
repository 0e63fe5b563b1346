"""The sweep file (``tune_configs/*.yaml``), validated with pydantic into one-line errors.

Why a schema of our own instead of raw Tune syntax: sweep files are edited by hand, must be
checked before Ray starts (a typo should cost one second, not a cluster start-up), and must not
allow choices that make results meaningless, e.g. ASHA/PBT selecting on the *shaped* return,
which is not comparable across reward coefficients. This module never imports Ray.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relmas.errors import UserError, unknown_name
from relmas.loaders.paths import sweep_path
from relmas.loaders.safe_yaml import read_yaml
from relmas.loaders.validation import validation_error

# Unshaped KPIs every trainable reports at the top level of its results. ASHA and PBT may only
# select on these: the shaped episode return depends on the reward coefficients being searched.
SELECTABLE_METRICS = ("sla_rate", "energy_per_inference_j", "p99_latency_s", "antt", "edp")
_KINDS = ("grid", "choice", "uniform", "loguniform", "randint")


def _number(value: Any) -> int | float:
    """A finite YAML number (chip counts, bandwidths): one clear error beats pydantic's one
    error per union member."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


class _Strict(BaseModel):
    # NaN/inf would pass range checks (inf > 0) and turn into nonsense chips or learning rates.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Dim(_Strict):
    """One searchable value: exactly one of grid / choice / uniform / loguniform / randint."""

    grid: list[Any] | None = None  # numbers for chips; any recipe value under rl:
    choice: list[Any] | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Dim:
        if len([k for k in _KINDS if getattr(self, k) is not None]) != 1:
            raise ValueError("give exactly one of grid, choice, uniform, loguniform, randint")
        rng = self.uniform or self.loguniform or self.randint
        if rng is not None and not rng[0] < rng[1]:
            raise ValueError(f"range {list(rng)} must have low < high")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError("loguniform needs low > 0")
        if any(v is not None and not v for v in (self.grid, self.choice)):
            raise ValueError("a grid or choice needs at least one value")
        return self

    def integral(self) -> bool:
        """True if every value this dimension can take is a whole number."""
        vals = self.values()
        return self.randint is not None if vals is None else all(isinstance(v, int) for v in vals)

    def values(self) -> list[Any] | None:
        """Finite values (grid/choice), or None for a continuous distribution."""
        return self.grid if self.grid is not None else self.choice

    def high(self) -> float:
        """Largest value this dimension can take."""
        vals = self.values()
        if vals:
            return float(max(vals))
        return float((self.uniform or self.loguniform or self.randint or (0, 0))[1])

    def low(self) -> float:
        """Smallest value this dimension can take."""
        vals = self.values()
        return (
            float(min(vals))
            if vals
            else float((self.uniform or self.loguniform or self.randint or (0, 0))[0])
        )


def _as_dim(value: Any) -> Any:
    """Shorthand: a scalar is a one-value grid, a list is a grid."""
    if isinstance(value, list):
        return {"grid": value}
    if isinstance(value, int | float | str):
        return {"grid": [value]}
    return value


DimField = Annotated[Dim, Field(description="scalar, list (grid) or {grid|choice|uniform|...}")]


class HardwareSpace(_Strict):
    """Chips to build: counts of each sub-accelerator type and the shared DRAM bandwidth."""

    n_simba: DimField
    n_eyeriss: DimField
    dram_bandwidth_gbps: DimField

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {k: _as_dim(v) for k, v in data.items()} if isinstance(data, dict) else data

    @field_validator("n_simba", "n_eyeriss", "dram_bandwidth_gbps")
    @classmethod
    def _numbers(cls, dim: Dim) -> Dim:
        for value in dim.values() or ():
            _number(value)
        return dim

    @model_validator(mode="after")
    def _non_empty(self) -> HardwareSpace:
        for key in ("n_simba", "n_eyeriss"):
            if not getattr(self, key).integral():
                raise ValueError(f"{key} must be whole numbers (grid, choice or randint)")
        if self.n_simba.low() < 0 or self.n_eyeriss.low() < 0:
            raise ValueError("counts must be >= 0")
        if self.n_simba.low() == 0 and self.n_eyeriss.low() == 0:
            raise ValueError(
                "n_simba and n_eyeriss can both be 0 (a chip with no devices); "
                "make one of them start at 1"
            )
        if self.dram_bandwidth_gbps.low() <= 0:
            raise ValueError("dram_bandwidth_gbps must be > 0")
        return self


class HeuristicSettings(_Strict):
    """The ``heuristic`` trainable: schedulers x seeds through the evaluation runner."""

    schedulers: Annotated[list[str], Field(min_length=1)] | Literal["all"] = "all"
    seeds: int = Field(3, ge=1, description="seeds 0..N-1; one Tune iteration per seed")


class RLSpace(_Strict):
    """The ``rl`` trainable's ``rl:`` section: recipe fields, each a value or a search dimension.

    The keys are :class:`relmas.rl.recipe.Recipe`'s (scenario and hardware come from the sweep's
    own grid; runners, checkpoints and fault settings are the trial's, not the recipe's), plus
    ``eval_seeds``. Any value may be a dimension (``{grid|choice|uniform|loguniform|randint}``,
    or a list for a field that is not itself a list), and so may each value of the mapping fields
    ``planaria_params`` and ``reward``. Parsing and checks live in :mod:`relmas.sweeps.rl_space`.
    """

    eval_seeds: int = Field(3, ge=1, description="held-out seeds 10000.. for the final eval")
    recipe: dict[str, Any] = Field(default_factory=dict, description="recipe fields or dims")

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "recipe" in data:
            return data
        rest = {k: v for k, v in data.items() if k != "eval_seeds"}
        return {**({"eval_seeds": data["eval_seeds"]} if "eval_seeds" in data else {}),
                "recipe": rest}  # fmt: skip


class SearchSettings(_Strict):
    """How trials are generated."""

    algorithm: Literal["grid", "random", "optuna", "hyperopt"] = "grid"
    metric: str = "sla_rate"
    mode: Literal["max", "min"] = "max"
    num_samples: int = Field(1, ge=1)
    max_concurrent: int = Field(2, ge=1)


class SchedulerSettings(_Strict):
    """Trial scheduler; ``pbt`` mutates the reward coefficients under ``rl.reward``."""

    type: Literal["fifo", "asha", "pbt"] = "fifo"
    grace_period: int = Field(1, ge=1)
    reduction_factor: int = Field(2, ge=2)
    perturbation_interval: int = Field(2, ge=1)
    mutations: dict[str, Dim] = Field(default_factory=dict, description="reward key -> range")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("mutations"), dict):
            return {**data, "mutations": {k: _as_dim(v) for k, v in data["mutations"].items()}}
        return data

    @field_validator("mutations")
    @classmethod
    def _numbers(cls, mutations: dict[str, Dim]) -> dict[str, Dim]:
        for dim in mutations.values():  # reward coefficients: numbers only
            for value in dim.values() or ():
                _number(value)
        return mutations


class SweepConfig(_Strict):
    """A whole sweep file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    trainable: Literal["heuristic", "rl", "both"]
    scenarios: list[str] = Field(min_length=1)
    num_requests: int | None = Field(None, ge=1, description="shorter traces for speed")
    reference_hardware: str | None = Field(
        None, description="fix request rates on this chip so every swept chip sees the same load"
    )
    hardware: HardwareSpace
    heuristic: HeuristicSettings = HeuristicSettings()
    rl: RLSpace = RLSpace()
    search: SearchSettings = SearchSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    cpus_per_trial: float = Field(1.0, gt=0)
    stop: dict[str, float] = Field(default_factory=dict, description="Tune stop criteria")

    @model_validator(mode="after")
    def _coherent(self) -> SweepConfig:
        if self.search.metric not in SELECTABLE_METRICS:
            raise ValueError(
                f"search.metric {self.search.metric!r} is not an unshaped KPI; use "
                f"one of {', '.join(SELECTABLE_METRICS)}"
            )
        if self.scheduler.type == "pbt" and self.trainable != "rl":
            raise ValueError("scheduler pbt needs trainable rl (heuristics have no checkpoints)")
        if self.scheduler.type == "pbt" and not self.scheduler.mutations:
            raise ValueError("scheduler pbt needs scheduler.mutations (reward coefficient ranges)")
        return self


def _check_scenarios(cfg: SweepConfig, source: str) -> None:
    """Every scenario loads (preset name or YAML path, validated like ``--scenario``)."""
    from relmas.loaders.scenarios import load_scenario

    for i, ref in enumerate(cfg.scenarios):
        try:
            load_scenario(ref)
        except UserError as exc:
            field = f"{source}: scenarios.{i}"
            raise UserError(field, f"{exc.field}: {exc.problem}", exc.fix) from None


def _check_hardware(cfg: SweepConfig, source: str) -> None:
    """The reference chip exists and the swept chips stay within the instance cap."""
    from relmas.experiment import MAX_INSTANCES, resolve_composition

    if cfg.reference_hardware is not None:
        try:
            resolve_composition(cfg.reference_hardware)
        except UserError as exc:
            raise UserError(f"{source}: reference_hardware", exc.problem, exc.fix) from None
    largest = cfg.hardware.n_simba.high() + cfg.hardware.n_eyeriss.high()
    if largest > MAX_INSTANCES:
        problem = f"chips of up to {largest:g} sub-accelerators"
        raise UserError(f"{source}: hardware", problem, f"use at most {MAX_INSTANCES}")


def _check_rl(cfg: SweepConfig, source: str) -> None:
    """The ``rl:`` section as recipes (every value of every dimension), and the PBT-mutated
    reward coefficients at both ends of their ranges."""
    if cfg.trainable == "heuristic":
        return
    from relmas.rl.recipe import Recipe
    from relmas.sweeps.rl_space import parse_space

    space = parse_space(cfg.rl, source)
    base = space.first()
    for key, dim in cfg.scheduler.mutations.items():
        for end in (dim.low(), dim.high()):
            reward = {"name": "relmas", **base.get("reward", {}), key: end}
            Recipe.load({**base, "reward": reward}, source, prefix="scheduler.mutations")


def check_names(cfg: SweepConfig, source: str) -> None:
    """Scenarios, chips and scheduler names must exist: a typo costs a second here instead of
    a Ray start-up and a grid of failed trials."""
    from relmas.schedulers import scheduler_names

    _check_scenarios(cfg, source)
    _check_hardware(cfg, source)
    _check_rl(cfg, source)
    if cfg.trainable != "rl" and cfg.heuristic.schedulers != "all":
        known = scheduler_names()
        for i, name in enumerate(cfg.heuristic.schedulers):
            if name not in known:
                raise unknown_name(f"{source}: heuristic.schedulers.{i}", name, known)


def load_sweep(path: Path) -> SweepConfig:
    """Read and validate a sweep file; every mistake is one line naming the field."""
    path = sweep_path(path)  # also relative to the checkout, or a shipped name
    data = read_yaml(path, "sweep")
    if not isinstance(data, dict):
        raise UserError("sweep", f"{path} must hold a mapping", "start with 'name: ...'")
    try:
        cfg = SweepConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error(f"sweep {path.name}", exc, SweepConfig) from None
    check_names(cfg, f"sweep {path.name}")
    return cfg
