"""The sweep file (``tune_configs/*.yaml``), validated with pydantic into one-line errors.

Why a schema of our own instead of raw Tune syntax: sweep files are edited by hand, must be
checked before Ray starts (a typo should cost one second, not a cluster start-up), and must not
allow choices that make results meaningless, e.g. ASHA/PBT selecting on the *shaped* return,
which is not comparable across reward coefficients. This module never imports Ray.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from relmas.errors import UserError
from relmas.loaders.scenarios import read_yaml, validation_error

# Unshaped KPIs every trainable reports at the top level of its results. ASHA and PBT may only
# select on these: the shaped episode return depends on the reward coefficients being searched.
SELECTABLE_METRICS = ("sla_rate", "energy_per_inference_j", "p99_latency_s", "antt", "edp")
Scalar = int | float | str | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dim(_Strict):
    """One searchable value: exactly one of grid / choice / uniform / loguniform / randint."""

    grid: list[Scalar] | None = None
    choice: list[Scalar] | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Dim:
        set_ = [
            k
            for k in ("grid", "choice", "uniform", "loguniform", "randint")
            if getattr(self, k) is not None
        ]
        if len(set_) != 1:
            raise ValueError("give exactly one of grid, choice, uniform, loguniform, randint")
        rng = self.uniform or self.loguniform or self.randint
        if rng is not None and not rng[0] < rng[1]:
            raise ValueError(f"range {list(rng)} must have low < high")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError("loguniform needs low > 0")
        if (self.grid is not None and not self.grid) or (
            self.choice is not None and not self.choice
        ):
            raise ValueError("a grid or choice needs at least one value")
        return self

    def values(self) -> list[Scalar] | None:
        """Finite values (grid/choice), or None for a continuous distribution."""
        return self.grid if self.grid is not None else self.choice

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
    if isinstance(value, int | float | str | bool):
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

    @model_validator(mode="after")
    def _non_empty(self) -> HardwareSpace:
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

    schedulers: list[str] | Literal["all"] = "all"
    seeds: int = Field(3, ge=1, description="seeds 0..N-1; one Tune iteration per seed")


class RLSettings(_Strict):
    """The ``rl`` trainable: PPO through relmas.rl.trainer, then a held-out evaluation."""

    iterations: int = Field(5, ge=1)
    train_batch_size: int = Field(500, ge=16)
    minibatch_size: int = Field(128, ge=8)
    num_epochs: int = Field(2, ge=1)
    lr: float | Dim = 3e-4
    hidden: list[int] = [64, 64]
    train_seeds: int = Field(20, ge=1)
    episode_requests: int = Field(0, ge=0, description="truncate training episodes (0 = off)")
    top_k: int = Field(8, ge=1)
    reward: dict[str, Any] = Field(default_factory=lambda: {"name": "relmas"})
    eval_seeds: int = Field(3, ge=1, description="held-out seeds 10000.. for the final eval")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("lr"), list | dict):
            return {**data, "lr": _as_dim(data["lr"])}
        return data


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
    rl: RLSettings = RLSettings()
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


def load_sweep(path: Path) -> SweepConfig:
    """Read and validate a sweep file; every mistake is one line naming the field."""
    if not path.is_file():
        raise UserError("sweep", f"file {str(path)!r} does not exist", "see tune_configs/")
    data = read_yaml(path, "sweep")
    if not isinstance(data, dict):
        raise UserError("sweep", f"{path} must hold a mapping", "start with 'name: ...'")
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error("sweep", path, exc) from exc
