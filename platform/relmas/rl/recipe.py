"""The RL training recipe: one typed model that every way of training derives from.

Why one model: the recipe used to be written four times (the train command's options, the sweep
file's ``rl:`` section, the trainer's settings and the env-config dict) with two hand-written
converters between them, and the copies had drifted (``batch_size`` vs ``train_batch_size``,
hidden sizes ``[128, 128]`` vs ``[64, 64]``). Now:

* a train file (``tune_configs/train_default.yaml``) is a :class:`Recipe` plus ``out``;
* ``relmas train`` flags are generated from its fields (same names, ``_`` -> ``-``);
* a sweep's ``rl:`` section holds its fields (scenario and hardware come from the sweep's grid),
  each one sweepable;
* ``policy.json`` records it, so ``rl:DIR`` and ``--resume`` rebuild exactly what was trained;
* the env config and the RLModule config are derived from it (:meth:`Recipe.env_config`,
  :meth:`Recipe.module_config`), never written by hand.

Ray-free: the model only needs pydantic, so sweep files and CLI flags are checked before Ray
starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from relmas.env.config import WAIT_GUARD_DESCRIPTION, EnvConfig
from relmas.errors import UserError, unknown_name
from relmas.loaders.validation import validation_error

Width = Annotated[int, Field(ge=1, le=65536)]


class FaultTolerance(BaseModel):
    """RLlib's EnvRunner fault tolerance (``config.fault_tolerance``), under RLlib's names.

    Defaults are RLlib's, except the pause before a failed runner exits (60 s in RLlib): it
    stalls every sampling call waiting on that runner, so one crash cost a minute of training.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    restart_failed_env_runners: bool = True
    max_num_env_runner_restarts: int = Field(1000, ge=0)
    restart_failed_sub_environments: bool = False
    delay_between_env_runner_restarts_s: float = Field(5.0, ge=0)


class Imitation(BaseModel):
    """Imitation of a teacher scheduler with DAgger before (or instead of) PPO.

    Round 0 acts as the teacher; later rounds act as the current student with probability
    ``1 - beta`` (the teacher otherwise), and every visited state is labelled by the teacher
    (Ross, Gordon and Bagnell, "A Reduction of Imitation Learning and Structured Prediction to
    No-Regret Online Learning", AISTATS 2011). The student is retrained on all labels so far.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    teacher: str = Field("rollout", description="scheduler reference of the teacher")
    teacher_params: dict[str, Any] = Field(default_factory=dict, description="its parameters")
    rounds: int = Field(4, ge=1, le=1000, description="DAgger rounds")
    episodes: int = Field(8, ge=1, description="labelled episodes per round")
    beta: float = Field(0.3, ge=0, le=1, description="P(act as the teacher) after round 0")
    keep_plain: float = Field(
        0.1, gt=0, le=1, description="share of uninformative states kept (all informative ones)"
    )
    informative_weight: float = Field(5.0, gt=0, description="loss weight of informative states")
    deviation_weight: float = Field(
        20.0, gt=0, description="loss weight where the teacher departs from its base"
    )
    epochs: int = Field(8, ge=1, description="supervised passes over the data per round")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate of the supervised step")
    minibatch: int = Field(256, ge=1, description="supervised minibatch")
    validation_seeds: int = Field(
        10, ge=1, description="validation seeds 5000.. that score each round's student"
    )
    # Why: on 4 seeds of 300-request episodes `auto` chose least-laxity for medium on three
    # chips, 1.7-2.3 points below Planaria 0.5 on full episodes of 20 training seeds (docs/rl.md).
    base_seeds: int = Field(
        4, ge=1, le=1000, description="training seeds 0.. on which base: auto picks each base"
    )
    base_full_episodes: bool = Field(
        False,
        description="base: auto scores full traces, not the training episodes' length",
    )
    # Why: a mix of 24 (scenario, chip) pairs in turn gives each pair a couple of episodes, too
    # few for the rare states where a teacher departs from its base on a scenario with much to
    # learn (tight), while its labels there are the cheapest (docs/rl.md).
    scenario_weights: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="relative share of labelled episodes per training scenario (unnamed: 1), "
        "e.g. {tight: 4}",
    )


def _check_teacher(imitation: Imitation) -> None:
    """The teacher must be a scheduler that exists, with valid parameters."""
    from relmas.schedulers.registry import make_scheduler

    params = dict(imitation.teacher_params)
    if params.get("base") == "auto":  # resolved per training pair (relmas.rl.teacher)
        params.pop("base")
    try:
        make_scheduler(imitation.teacher, params)
    except UserError as exc:
        raise UserError(f"imitation.teacher: {exc.field}", exc.problem, exc.fix) from None


def _check_scenario_weights(imitation: Imitation, pairs: list[tuple[str, str]]) -> None:
    """A weight must name a training scenario or a preset: a typo would silently weigh 1.

    A preset outside the mix is allowed and weighs nothing, so a recipe file's weights still
    load when ``--scenario`` narrows the mix (``relmas train --config ... --scenario heavy``).
    """
    from relmas.loaders.scenarios import scenario_names

    scenarios = {s for s, _ in pairs}
    for name in imitation.scenario_weights:
        if name not in {*scenarios, *scenario_names(), "toy"}:
            raise unknown_name("imitation.scenario_weights", name, scenarios)


class Recipe(BaseModel):
    """Everything that decides what a PPO training run produces (and nothing about where to)."""

    # NaN and infinity pass ``gt=0`` checks (inf > 0); a learning rate of inf is still a mistake.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # --- what to train on
    scenario: str | list[str] = Field(
        "heavy", description="scenario preset, YAML path or 'toy'; a list trains on a mix"
    )
    hardware: str | list[str] = Field(
        "2s2e", description="composition name or <N>s<M>e@<GB/s>; a list trains on a mix"
    )
    types: list[str] | None = Field(
        None, description="accelerator types the policy knows (None: those of the chips)"
    )
    max_units: int | None = Field(
        None, ge=1, le=1024, description="unit slots in training (None: the largest chip's)"
    )
    train_seeds: int = Field(100, ge=1, description="training episode seeds 0..N-1")
    episode_requests: int = Field(0, ge=0, description="truncate training traces (0: off)")
    top_k: int = Field(8, ge=1, le=1024, description="candidate requests per decision")
    candidates: Literal["heuristic", "mixed", "deadline"] = Field(
        "heuristic", description="candidate rule: heuristic, mixed or deadline"
    )
    planaria_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Planaria variant behind the flags and the prior, e.g. "
        "priority_exponent=0.5 ({} = the paper's)",
    )
    wait_slack: bool = Field(
        False, description="observe each candidate's slack after waiting for each unit type"
    )
    outlook: bool = Field(
        False,
        description="observe each candidate's slack where Planaria's own simulated future "
        "ends and how many requests that future loses",
    )
    outlook_gate: bool = Field(
        False,
        description="only Planaria's action is valid wherever its own simulated future loses no "
        "request (the rollout teacher's early exit); needs outlook and the heuristic rule",
    )
    wait_guard: bool = Field(False, description=WAIT_GUARD_DESCRIPTION)
    reward: dict[str, Any] = Field(
        default_factory=lambda: {"name": "relmas"},
        description="reward preset (sla, relmas, energy) and coefficient overrides, e.g. "
        "name=sla early_miss=true (a bare NAME is the preset)",
        json_schema_extra={"bare_key": "name"},
    )
    decision_period_s: float | None = Field(
        None, gt=0, description="RELMAS's periodic decision cycle (None: event-driven)"
    )
    # --- the policy network
    hidden: list[Width] = Field(
        default_factory=lambda: [128, 128], min_length=1, description="MLP widths, e.g. 128,128"
    )
    lstm: int = Field(0, ge=0, description="LSTM cell size (0: MLP policy)")
    prior_weight: float = Field(0.0, ge=0, description="logit bonus of Planaria's action")
    pair_hidden: list[Width] = Field(
        default_factory=list, description="shared pair-scorer head widths, e.g. 64 ([]: flat)"
    )
    critic_future: bool = Field(
        True,
        description="the pair-head policy's critic also sees the upcoming arrivals (an "
        "input-dependent baseline); false: the observation only",
    )
    # --- imitation (DAgger), then PPO
    imitation: Imitation | None = Field(None, description="DAgger from a teacher first")
    iterations: int = Field(20, ge=0, description="PPO iterations (0: imitation only)")
    batch_size: int = Field(2000, ge=1, description="env steps per iteration")
    minibatch_size: int = Field(256, ge=1, description="SGD minibatch (capped at batch_size)")
    epochs: int = Field(4, ge=1, description="SGD passes over each batch")
    lr: float = Field(3e-4, gt=0, description="learning rate")
    gamma: float = Field(0.99, gt=0, le=1, description="discount per decision")
    entropy_coeff: float = Field(0.01, ge=0, description="entropy bonus")
    seed: int = Field(0, ge=0, description="seeds torch, numpy and the env runners")
    select_seeds: int = Field(
        0,
        ge=0,
        le=1000,
        description="validation seeds 5000.. per training pair on which the run's policy is "
        "chosen among the round PPO started from and every checkpoint (0: the last iteration)",
    )
    # --- how to run it (no effect on the result with env_runners 0)
    env_runners: int = Field(0, ge=0, description="remote EnvRunners (0: sample in the driver)")
    envs_per_runner: int = Field(1, ge=1, description="vectorised envs per EnvRunner")
    checkpoint_every: int = Field(10, ge=1, description="iterations between checkpoints")
    fault_tolerance: FaultTolerance = Field(default_factory=FaultTolerance)
    fault_injection: dict[str, Any] | None = Field(None, description="tests: env/faults.py")

    @field_validator("reward", mode="before")
    @classmethod
    def _preset_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _coherent(self) -> Recipe:
        if self.pair_hidden and self.lstm:
            raise ValueError("pair_hidden does not combine with lstm; set lstm: 0")
        if self.imitation is not None and not self.pair_hidden:
            raise ValueError("imitation trains the pair head; set pair_hidden, e.g. [64]")
        if self.imitation is None and self.iterations < 1:
            raise ValueError("nothing to train: set iterations >= 1 or an imitation section")
        if self.imitation is not None:
            _check_teacher(self.imitation)
        env = self.env_config()  # reward, planaria_params and every env key, checked now
        if self.imitation is not None:
            _check_scenario_weights(self.imitation, env.pairs())
        return self

    @classmethod
    def load(cls, data: dict[str, Any], label: str = "recipe", prefix: str = "") -> Recipe:
        """Validate plain data; every mistake is one line ``<label>: <prefix>.<field>``."""
        fix = "see tune_configs/train_default.yaml"
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise validation_error(label, exc, cls, fix, prefix) from None
        except UserError as exc:  # from the env config's own checks (reward, planaria_params)
            field = ".".join(p for p in (prefix, exc.field) if p)
            raise UserError(f"{label}: {field}", exc.problem, exc.fix) from None

    def env_config(self) -> EnvConfig:
        """The env config this recipe trains on (validated)."""
        fault = dict(self.fault_injection) if self.fault_injection else None
        if fault and fault.get("crash_log"):  # runners may run elsewhere: an absolute path
            fault["crash_log"] = str(Path(fault["crash_log"]).resolve())
        return EnvConfig.from_mapping(
            {
                "scenario": self.scenario,
                "hardware": self.hardware,
                "types": self.types,
                "max_units": self.max_units,
                "seeds": list(range(self.train_seeds)),
                "num_requests": self.episode_requests or None,
                "top_k": self.top_k,
                "candidates": self.candidates,
                "planaria_params": dict(self.planaria_params),
                "wait_slack": self.wait_slack,
                "outlook": self.outlook,
                "outlook_gate": self.outlook_gate,
                "wait_guard": self.wait_guard,
                "reward": dict(self.reward),
                "decision_period_s": self.decision_period_s,
                "fault_injection": fault,
            }
        )

    def module_config(self, layout: dict[str, Any] | None = None) -> dict[str, Any]:
        """RLlib's ``model_config`` of the masking module; the pair head needs the chip's
        observation layout (:meth:`relmas.env.layout.ObsLayout.to_dict`)."""
        model: dict[str, Any] = {"fcnet_hiddens": list(self.hidden), "head_fcnet_hiddens": []}
        if self.prior_weight:
            model["action_prior_weight"] = self.prior_weight
        if self.lstm:
            model.update(use_lstm=True, lstm_cell_size=self.lstm, max_seq_len=20)
        if self.pair_hidden:
            if layout is None:
                raise ValueError("a pair head needs the observation layout")
            model["pair_head"] = {"hidden": list(self.pair_hidden), "layout": dict(layout)}
            model["critic_future"] = self.critic_future
            # As PPO builds it; the imitation module then has the same (unused) catalog
            # encoders, and a warm start copies every parameter (rl/warm_start.py).
            model["vf_share_layers"] = False
        return model

    def as_mapping(self) -> dict[str, Any]:
        """Plain JSON data (for policy.json, MLflow params and Tune configs)."""
        return self.model_dump(mode="json")
