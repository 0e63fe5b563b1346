"""Options of ``relmas train``: one pydantic model shared by the flags and ``--config FILE``.

Why one model: a training recipe must be reproducible from a single file
(``tune_configs/train_heavy.yaml``) and still tweakable from the command line, without two lists
of defaults drifting apart. Flags default to ``None`` (= "not given"), so precedence is simply
model defaults < file < flags, and every mistake in the file is a one-line ``UserError`` naming
the field.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relmas.env.features import CANDIDATE_RULES
from relmas.errors import UserError
from relmas.loaders.scenarios import read_yaml, validation_error


class TrainOptions(BaseModel):
    """Every ``relmas train`` option; field names are the flags' ``dest`` names."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = "heavy"
    hardware: str = "2s2e"
    iterations: int = Field(20, ge=1)
    env_runners: int = Field(0, ge=0)
    envs_per_runner: int = Field(1, ge=1)
    checkpoint_every: int = Field(10, ge=1)
    seed: int = 0
    train_seeds: int = Field(100, ge=1, description="episode seeds 0..N-1")
    episode_requests: int = Field(0, ge=0, description="0 = the scenario's trace length")
    top_k: int = Field(8, ge=1)
    candidates: str = Field("heuristic", description=f"one of {', '.join(CANDIDATE_RULES)}")
    reward: str | dict[str, Any] = Field("relmas", description="preset name or {name, coefs}")
    decision_period_s: float | None = Field(None, gt=0)
    batch_size: int = Field(2000, ge=1)
    minibatch_size: int = Field(256, ge=1)
    epochs: int = Field(4, ge=1)
    lr: float = Field(3e-4, gt=0)
    gamma: float = Field(0.99, gt=0, le=1)
    entropy_coeff: float = Field(0.01, ge=0)
    hidden: list[int] = Field(default_factory=lambda: [128, 128])
    lstm: int = Field(0, ge=0)
    prior_weight: float = Field(0.0, ge=0, description="logit bonus of Planaria's action")
    out: Path | None = None

    def reward_spec(self) -> dict[str, Any]:
        """The env's ``reward`` config dict."""
        return {"name": self.reward} if isinstance(self.reward, str) else dict(self.reward)


def load_options(path: Path | None, flags: dict[str, Any]) -> TrainOptions:
    """Defaults, then the file's values, then the flags that were given (not ``None``)."""
    data: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise UserError("--config", f"file {str(path)!r} does not exist", "see tune_configs/")
        loaded = read_yaml(path, "--config")
        if not isinstance(loaded, dict):
            raise UserError("--config", f"{path} must hold a mapping", "write 'key: value' lines")
        data.update(loaded)
    data.update({k: v for k, v in flags.items() if v is not None})
    try:
        opts = TrainOptions.model_validate(data)
    except ValidationError as exc:
        raise validation_error("train config", path or Path("(flags)"), exc) from exc
    if opts.candidates not in CANDIDATE_RULES:
        raise UserError(
            "candidates", f"unknown rule {opts.candidates!r}", f"use {', '.join(CANDIDATE_RULES)}"
        )
    if opts.out is None:
        raise UserError("out", "no output directory", "pass --out DIR or set 'out:' in the file")
    return opts


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The option flags of a parsed ``train`` command (``None`` = not given)."""
    return {k: getattr(args, k) for k in TrainOptions.model_fields if hasattr(args, k)}
