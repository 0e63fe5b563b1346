"""Options of ``relmas train``: one pydantic model shared by the flags and ``--config FILE``.

Why one model: a training recipe must be reproducible from a single file
(``tune_configs/train_heavy.yaml``) and still tweakable from the command line, without two lists
of defaults drifting apart. Flags default to ``None`` (= "not given"), so precedence is simply
model defaults < file < flags, and every mistake in the file is a one-line ``UserError`` naming
the field.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relmas.cli.common import check_output
from relmas.env.features import CANDIDATE_RULES
from relmas.errors import UserError, did_you_mean
from relmas.loaders.safe_yaml import read_yaml
from relmas.loaders.validation import validation_error

Width = Annotated[int, Field(ge=1, le=65536)]


class FaultToleranceOptions(BaseModel):
    """RLlib's EnvRunner fault tolerance (``config.fault_tolerance``), under RLlib's names.

    Defaults are RLlib's, except the pause before a failed runner exits (60 s in RLlib): it
    stalls every sampling call waiting on that runner, so one crash cost a minute of training.
    """

    model_config = ConfigDict(extra="forbid")

    restart_failed_env_runners: bool = True
    max_num_env_runner_restarts: int = Field(1000, ge=0)
    restart_failed_sub_environments: bool = False
    delay_between_env_runner_restarts_s: float = Field(5.0, ge=0)


class TrainOptions(BaseModel):
    """Every ``relmas train`` option; field names are the flags' ``dest`` names."""

    # NaN and infinity pass ``gt=0`` checks (inf > 0); a learning rate of inf is still a mistake.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    scenario: str = "heavy"
    hardware: str = "2s2e"
    iterations: int = Field(20, ge=1)
    env_runners: int = Field(0, ge=0)
    envs_per_runner: int = Field(1, ge=1)
    checkpoint_every: int = Field(10, ge=1)
    seed: int = Field(0, ge=0)
    train_seeds: int = Field(100, ge=1, description="episode seeds 0..N-1")
    episode_requests: int = Field(0, ge=0, description="0 = the scenario's trace length")
    top_k: int = Field(8, ge=1, le=1024)
    candidates: str = Field("heuristic", description=f"one of {', '.join(CANDIDATE_RULES)}")
    reward: str | dict[str, Any] = Field("relmas", description="preset name or {name, coefs}")
    decision_period_s: float | None = Field(None, gt=0)
    batch_size: int = Field(2000, ge=1)
    minibatch_size: int = Field(256, ge=1)
    epochs: int = Field(4, ge=1)
    lr: float = Field(3e-4, gt=0)
    gamma: float = Field(0.99, gt=0, le=1)
    entropy_coeff: float = Field(0.01, ge=0)
    hidden: list[Width] = Field(default_factory=lambda: [128, 128], min_length=1)
    lstm: int = Field(0, ge=0)
    prior_weight: float = Field(0.0, ge=0, description="logit bonus of Planaria's action")
    planaria_params: dict[str, Any] = Field(
        default_factory=dict,
        description="the Planaria variant behind the heuristic flags and the prior, e.g. "
        "{priority_exponent: 0.5}; {} = the paper's",
    )
    pair_hidden: list[int] = Field(
        default_factory=list, description="[] = flat MLP pi head; e.g. [64] = shared pair scorer"
    )
    out: Path | None = None
    fault_tolerance: FaultToleranceOptions = Field(default_factory=FaultToleranceOptions)
    fault_injection: dict[str, Any] | None = Field(None, description="tests: env/faults.py")

    def reward_spec(self) -> dict[str, Any]:
        """The env's ``reward`` config dict."""
        return {"name": self.reward} if isinstance(self.reward, str) else dict(self.reward)


def _read_config(path: Path) -> dict[str, Any]:
    """The ``--config`` file as a mapping."""
    if not path.is_file():
        raise UserError("--config", f"file {str(path)!r} does not exist", "see tune_configs/")
    loaded = read_yaml(path, "--config")
    if not isinstance(loaded, dict):
        raise UserError("--config", f"{path} must hold a mapping", "write 'key: value' lines")
    return loaded


def check_reward(spec: dict[str, Any]) -> None:
    """Validate the reward now, not after Ray and RLlib have started (~10 s later)."""
    from relmas.env.rewards import make_reward

    for key, value in spec.items():
        if key == "name":
            continue
        ok = isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value))
        if not ok:
            raise UserError(f"reward.{key}", f"must be a finite number, got {value!r}", "e.g. 0.1")
    make_reward(spec, 1.0, 1.0)


def check_planaria_params(params: dict[str, Any]) -> None:
    """Validate the prior's Planaria variant before Ray starts (the env would fail later)."""
    from relmas.env.features import planaria_variant

    planaria_variant(params)


def load_options(path: Path | None, flags: dict[str, Any]) -> TrainOptions:
    """Defaults, then the file's values, then the flags that were given (not ``None``)."""
    data: dict[str, Any] = _read_config(path) if path is not None else {}
    data.update({k: v for k, v in flags.items() if v is not None})
    try:
        opts = TrainOptions.model_validate(data)
    except ValidationError as exc:
        label = f"train config {path.name if path else '(flags)'}"
        raise validation_error(
            label, exc, TrainOptions, "see tune_configs/train_heavy.yaml"
        ) from None
    if opts.candidates not in CANDIDATE_RULES:
        problem = f"unknown rule {opts.candidates!r}"
        raise UserError("candidates", problem, did_you_mean(opts.candidates, CANDIDATE_RULES))
    check_reward(opts.reward_spec())
    check_planaria_params(opts.planaria_params)
    if opts.out is None:
        raise UserError("out", "no output directory", "pass --out DIR or set 'out:' in the file")
    check_output(opts.out, "out", directory=True)
    return opts


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The option flags of a parsed ``train`` command (``None`` = not given)."""
    return {k: getattr(args, k) for k in TrainOptions.model_fields if hasattr(args, k)}
