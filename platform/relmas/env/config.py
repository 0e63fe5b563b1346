"""The env's configuration, as one typed model validated once in the env's constructor.

Why here and not in each caller: ``gym.make``, RLlib (which pickles the dict to every
EnvRunner), Tune trials, ``relmas train`` and the numpy policy scheduler all build the env from a
plain mapping. Validating in the constructor gives every route the same one-line error; before,
``MultiAccelEnv({"topk": 2})`` was accepted silently (``top_k`` stayed 8) and a scenario without
hardware raised a bare ``KeyError``. The mapping stays plain data (it pickles and logs as is);
:meth:`EnvConfig.from_mapping` is the one gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from relmas.loaders.validation import validation_error

# One description for the env's and the recipe's ``wait_guard`` field.
WAIT_GUARD_DESCRIPTION = (
    "the wait action is invalid while a unit of every type is free: such a wait cannot be for "
    "a faster type to free up (the rollout teacher waits so in at most 1 in 20 of its waits, "
    "while a student out of its training distribution did so with 3 of 4 units free and ~95 "
    "requests queued, and lost 25 SLA points)"
)

CANDIDATE_RULES = ("heuristic", "mixed", "deadline")
TOY_ONLY = ("load", "sla_multiplier", "drop_hopeless", "toy_bandwidth_bytes_per_s")


class EnvConfig(BaseModel):
    """Every key of the env config; unknown keys are errors (with a "did you mean")."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    scenario: str | list[str] = Field(
        "toy",
        description="'toy' (a hand-made chip, no cost model) or a scenario preset / YAML; a "
        "list trains on every (scenario, hardware) pair, one drawn per episode",
    )
    hardware: str | list[str] = Field(
        "2s2e", description="composition name or <N>s<M>e@<GB/s>, or a list of them"
    )
    types: list[str] | None = Field(
        None,
        min_length=1,
        description="the accelerator types the observation knows, in order (None: the types "
        "of the chips, in the order they first appear)",
    )
    max_units: int | None = Field(
        None, ge=1, le=1024, description="unit slots (None: the largest chip's units)"
    )
    seeds: list[int] = Field(
        default_factory=lambda: list(range(100)),
        min_length=1,
        description="episode seeds; reset(seed=s) picks one deterministically",
    )
    num_requests: int | None = Field(
        None, ge=1, description="truncate each episode's trace to N requests (None: the scenario's)"
    )
    top_k: int = Field(8, ge=1, le=1024, description="candidate requests per decision")
    candidates: Literal["heuristic", "mixed", "deadline"] = Field(
        "heuristic", description="candidate rule (see relmas.env.features)"
    )
    planaria_params: dict[str, Any] = Field(
        default_factory=dict, description="Planaria variant behind the flags and the prior"
    )
    wait_slack: bool = Field(
        False, description="add each candidate's slack after waiting for each unit type"
    )
    outlook: bool = Field(
        False,
        description="add each candidate's slack where Planaria's own simulated future ends "
        "and how many requests that future loses",
    )
    outlook_gate: bool = Field(
        False,
        description="only Planaria's action is valid wherever its own simulated future loses no "
        "request (the rollout teacher's early exit); needs outlook and the heuristic rule",
    )
    wait_guard: bool = Field(False, description=WAIT_GUARD_DESCRIPTION)
    reward: dict[str, Any] | None = Field(
        None, description="{name: preset, <coefficient>: value} (None: the relmas preset)"
    )
    decision_period_s: float | None = Field(
        None, gt=0, description="RELMAS's periodic decisions (None: event-driven)"
    )
    strict: bool = Field(True, description="stepping a masked action raises (False: check_env)")
    fault_injection: dict[str, Any] | None = Field(
        None, description="tests only: crash EnvRunners (relmas.env.faults)"
    )
    load: float = Field(0.7, gt=0, description="toy only: offered load")
    sla_multiplier: float = Field(3.0, gt=0, description="toy only: deadline / isolated latency")
    drop_hopeless: bool = Field(False, description="toy only: drop requests that cannot make it")
    toy_bandwidth_bytes_per_s: float = Field(
        16e9, gt=0, description="toy only: DRAM bandwidth of a 4-unit chip (scaled by units)"
    )

    @field_validator("reward")
    @classmethod
    def _reward(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from relmas.env.rewards import make_reward  # a UserError naming reward.<key>

        make_reward(value, 1.0, 1.0)
        return value

    @field_validator("planaria_params")
    @classmethod
    def _planaria(cls, value: dict[str, Any]) -> dict[str, Any]:
        from relmas.env.features import planaria_variant  # a UserError naming the key

        planaria_variant(value)
        return value

    @field_validator("fault_injection")
    @classmethod
    def _faults(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from relmas.env.faults import parse_fault_spec  # a UserError naming the key

        parse_fault_spec({"fault_injection": value})
        return value

    @field_validator("scenario", "hardware")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one")
        return value

    def pairs(self) -> list[tuple[str, str]]:
        """Every (scenario, hardware) pair an episode can be drawn from."""
        scenarios = [self.scenario] if isinstance(self.scenario, str) else self.scenario
        chips = [self.hardware] if isinstance(self.hardware, str) else self.hardware
        return [(s, h) for s in scenarios for h in chips]

    def single(self, scenario: str, hardware: str) -> EnvConfig:
        """This config restricted to one (scenario, hardware) pair."""
        return self.model_copy(update={"scenario": scenario, "hardware": hardware})

    @model_validator(mode="after")
    def _gate_needs_outlook(self) -> EnvConfig:
        if self.outlook_gate and not (self.outlook and self.candidates == "heuristic"):
            raise ValueError("outlook_gate needs outlook: true and candidates: heuristic")
        return self

    @model_validator(mode="after")
    def _toy_keys(self) -> EnvConfig:
        if any(s != "toy" for s, _ in self.pairs()):
            given = sorted(k for k in TOY_ONLY if k in self.model_fields_set)
            if given:
                raise ValueError(f"{given[0]} only applies to scenario 'toy'")
        return self

    @classmethod
    def from_mapping(cls, config: EnvConfig | Mapping[str, Any] | None) -> EnvConfig:
        """Validate a plain config mapping (RLlib's ``EnvContext`` included)."""
        if isinstance(config, EnvConfig):
            return config
        try:
            return cls.model_validate(dict(config or {}))
        except ValidationError as exc:
            raise validation_error(
                "env config", exc, cls, "see relmas.env.config.EnvConfig"
            ) from None

    def as_mapping(self) -> dict[str, Any]:
        """Plain data with only the keys that differ from the defaults (pickles, logs, JSON)."""
        return self.model_dump(mode="json", exclude_defaults=True)
