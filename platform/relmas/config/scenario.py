"""Scenario schema: tenants, their models, priorities, SLAs and arrival processes.

Scenarios are hardware-independent. Rates can be absolute (``rate_per_s``) or a share of an
``offered_load`` that is resolved against the chosen chip, so one ``heavy`` preset means "about
1.1x the chip's capacity" on 2s2e and on 4s4e alike.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Priorities become numpy int64 arrays and feature values; a bound keeps them exact and small.
MAX_PRIORITY = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _RateOrShare(_Strict):
    rate_per_s: Positive | None = Field(None, description="Mean arrival rate (requests/s).")
    load_share: Positive | None = Field(
        None, description="Share of the scenario's offered_load carried by this tenant."
    )

    @model_validator(mode="after")
    def _one_of(self) -> _RateOrShare:
        if (self.rate_per_s is None) == (self.load_share is None):
            raise ValueError("give exactly one of rate_per_s or load_share")
        return self


class PoissonArrival(_RateOrShare):
    """Open-loop Poisson arrivals (Dysta, Planaria): exponential gaps."""

    process: Literal["poisson"]


class BurstyArrival(_RateOrShare):
    """On/off modulated Poisson (a 2-state MMPP): bursts at ``rate / on_fraction``, then silence."""

    process: Literal["bursty"]
    on_fraction: float = Field(0.25, gt=0, le=1, description="Fraction of time in a burst.")
    mean_burst_s: Positive = Field(0.05, description="Mean burst length in seconds.")


class PeriodicArrival(_Strict):
    """Periodic frames (XRBench/DREAM AR/VR style); the deadline scales the frame period."""

    process: Literal["periodic"]
    fps: Positive = Field(description="Frames per second.")
    jitter_s: float = Field(1e-5, ge=0, description="Uniform jitter added to each frame time.")
    probability: float = Field(
        1.0, gt=0, le=1, description="Chance a frame triggers the model (cascaded models)."
    )


class TraceArrival(_Strict):
    """Replay arrivals from a CSV with columns ``arrival_s,model[,priority][,deadline_s]``."""

    process: Literal["trace"]
    path: str = Field(description="CSV path, relative to the scenario file.")


Arrival = Annotated[
    PoissonArrival | BurstyArrival | PeriodicArrival | TraceArrival,
    Field(discriminator="process"),
]


class Tenant(_Strict):
    """One tenant: a stream of requests for a mix of models with one SLA."""

    name: str = Field(min_length=1)
    models: dict[str, Positive] = Field(min_length=1, description="Model name -> sampling weight.")
    priorities: dict[int, Positive] = Field(
        default_factory=lambda: {1: 1.0}, description="Priority -> sampling weight."
    )
    sla_multiplier: Positive = Field(
        description="Deadline = arrival + multiplier x isolated latency (periodic: x frame period)."
    )
    arrival: Arrival

    @model_validator(mode="before")
    @classmethod
    def _priority_shorthand(cls, data: object) -> object:
        if isinstance(data, dict) and "priority" in data:
            data = dict(data)
            if "priorities" in data:
                raise ValueError("give priority or priorities, not both")
            priority = data.pop("priority")
            if not isinstance(priority, int | str) or isinstance(priority, bool):
                raise ValueError(f"priority must be an integer, got {priority!r}")
            data["priorities"] = {priority: 1.0}
        return data

    @model_validator(mode="after")
    def _priorities_positive(self) -> Tenant:
        if any(not 0 < p <= MAX_PRIORITY for p in self.priorities):
            raise ValueError(f"priorities must be positive integers <= {MAX_PRIORITY}")
        return self


class Scenario(_Strict):
    """A multi-tenant workload preset (``envs/*.yaml``)."""

    name: str = Field(min_length=1)
    description: str = ""
    num_requests: int | None = Field(None, gt=0, description="Stop after this many arrivals.")
    horizon_s: Positive | None = Field(None, description="Stop generating arrivals after this.")
    offered_load: Positive | None = Field(
        None, description="Target load: sum over tenants of rate x service time (docs/metrics.md)."
    )
    drop_policy: Literal["keep", "drop_hopeless"] = Field(
        "keep",
        description="drop_hopeless: firm real-time, drop requests that can no longer meet"
        " their deadline (counted as violations).",
    )
    bandwidth_policy: Literal["proportional", "maxmin", "capped"] = "proportional"
    decision_period_s: Positive | None = Field(
        None, description="RELMAS-style periodic scheduling cycle T_s (None: event-driven)."
    )
    tenants: list[Tenant] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.num_requests is None and self.horizon_s is None:
            raise ValueError("give num_requests or horizon_s (or both)")
        names = [t.name for t in self.tenants]
        if len(set(names)) != len(names):
            raise ValueError(f"tenant names must be unique, got {names}")
        shared = [t.name for t in self.tenants if getattr(t.arrival, "load_share", None)]
        if shared and self.offered_load is None:
            raise ValueError(f"tenants {shared} use load_share but offered_load is not set")
        if self.offered_load is not None and not shared:
            raise ValueError("offered_load is set but no tenant has a load_share")
        return self

    @property
    def model_names(self) -> list[str]:
        """All models used, in first-use order (the chip's model index order)."""
        return list(dict.fromkeys(m for t in self.tenants for m in t.models))
