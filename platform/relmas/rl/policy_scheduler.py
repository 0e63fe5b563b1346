"""A trained RL policy as a :class:`~relmas.schedulers.base.Scheduler` (``rl:DIR`` references).

The scheduler builds exactly the env's observation (:class:`relmas.env.features.FeatureEncoder`)
and returns one dispatch per call, or nothing for the wait action -- the same one-action-per-step
protocol as the env, so the engine re-asks at the same instant and the policy sees the same
states it was trained on. Inference runs in numpy from ``policy.npz``: no Ray, no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from relmas.env.features import ENV_ID, ENV_VERSION, FeatureEncoder
from relmas.errors import UserError
from relmas.rl.export import FORMAT_VERSION, POLICY_NPZ, NumpyPolicy, load_numpy_policy, read_meta
from relmas.schedulers.base import Decision, Scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch


class PolicyScheduler(Scheduler):
    """Greedy (argmax over valid actions) scheduler from an exported policy."""

    name = "rl"

    def __init__(self, policy: NumpyPolicy, meta: dict[str, Any], source: str = "") -> None:
        super().__init__()
        self.policy = policy
        self.meta = meta
        self.source = source
        self.encoder: FeatureEncoder | None = None
        self.prior_weight = float(meta.get("action_prior_weight", 0.0))

    def _check_chip(self, encoder: FeatureEncoder) -> None:
        """The chip must give the observation shape and actions the policy was trained on."""
        accel_types = [encoder.chip.type_names[t] for t in encoder.chip.accel_type]
        if accel_types != self.meta["accel_types"] or encoder.obs_dim != self.meta["obs_dim"]:
            raise UserError(
                "hardware",
                f"policy {self.source} was trained on {self.meta.get('hardware')} "
                f"({self.meta['accel_types']}, obs_dim {self.meta['obs_dim']}), not on "
                f"{accel_types} (obs_dim {encoder.obs_dim})",
                "evaluate on the training hardware or train a policy for this one",
            )

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Build the feature encoder for this run's chip (checked against the policy)."""
        super().reset(sim, rng)
        self.policy.reset_state()
        self._build(sim)

    def _build(self, sim: Simulator) -> FeatureEncoder:
        enc = FeatureEncoder(
            sim.chip,
            int(self.meta["top_k"]),
            float(self.meta.get("priority_scale", 9.0)),
            str(self.meta.get("candidates", "mixed")),
        )
        self._check_chip(enc)
        self.encoder = enc
        return enc

    def decide(self, sim: Simulator) -> list[Decision]:
        """One dispatch chosen by the policy, or ``[]`` (wait)."""
        enc = self.encoder
        if enc is None or enc.chip is not sim.chip:
            self.policy.reset_state()
            enc = self._build(sim)
        enc.encode(sim)
        action = self.policy.act(enc.obs, enc.mask, enc.prior, self.prior_weight)
        choice = enc.decode(action)
        if choice is None:
            return []
        return [Dispatch(choice[0], choice[1])]


SHIPPED_DIR = Path(__file__).resolve().parent / "policies"


def resolve_policy_dir(policy_dir: str | Path) -> Path:
    """A shipped policy's name (``rl:default``) or a directory path.

    A bare name (no path separator) that names a policy shipped in ``relmas/rl/policies/`` wins
    over a same-named directory in the working directory, so ``rl:default`` means one thing
    everywhere; write ``rl:./default`` for the local directory.
    """
    text = str(policy_dir)
    if text and "/" not in text and "\\" not in text and (SHIPPED_DIR / text).is_dir():
        return SHIPPED_DIR / text
    return Path(text).expanduser().resolve()


def load_policy_scheduler(policy_dir: str | Path) -> PolicyScheduler:
    """Load ``policy.npz`` + ``policy.json`` from a ``relmas train --out`` directory or a shipped
    policy's name (``default``)."""
    path = resolve_policy_dir(policy_dir)
    if not path.is_dir():
        raise UserError(
            "checkpoint",
            f"directory {path} does not exist",
            "pass the --out directory of `relmas train`",
        )
    meta = read_meta(path)
    if meta.get("env_id") != ENV_ID or meta.get("env_version") != ENV_VERSION:
        raise UserError(
            "checkpoint",
            f"{path} was trained on {meta.get('env_id')} v{meta.get('env_version')}, "
            f"this build has {ENV_ID} v{ENV_VERSION}",
            "retrain with `relmas train`",
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(
            "checkpoint",
            f"{path} has export format {meta.get('format_version')}, "
            f"this build reads {FORMAT_VERSION}",
            "re-run `relmas train`",
        )
    if not (path / POLICY_NPZ).is_file():
        raise UserError("checkpoint", f"{path / POLICY_NPZ} not found", "re-run `relmas train`")
    policy = load_numpy_policy(path)
    if policy.obs_dim != meta["obs_dim"]:
        raise UserError(
            "checkpoint", "policy.npz does not match policy.json's obs_dim", "re-export the policy"
        )
    return PolicyScheduler(policy, meta, str(path))
