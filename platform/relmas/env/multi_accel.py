"""Gymnasium env over the discrete-event simulator the heuristics use (``relmas/MultiAccel-v2``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from relmas.env.config import EnvConfig
from relmas.env.features import CLIP, ENV_ID, ENV_VERSION, FeatureEncoder
from relmas.env.future import FUTURE_DIM, FutureLoad
from relmas.env.rewards import OutcomeTracker, ShapedReward, StepEvents, make_reward
from relmas.env.sources import EpisodeSource, make_source
from relmas.errors import UserError
from relmas.sim.engine import Simulator
from relmas.sim.metrics import compute_metrics
from relmas.sim.request import Dispatch

__all__ = ["ENV_ID", "ENV_VERSION", "KPI_KEYS", "MultiAccelEnv"]
KPI_KEYS = (
    "sla_rate",
    "drop_rate",
    "energy_j",
    "energy_per_inference_j",
    "mean_latency_s",
    "p99_latency_s",
    "antt",
    "mean_utilization",
    "dram_utilization",
    "requests",
    "completed",
)


class _Kit(NamedTuple):
    """What one (scenario, hardware) pair of the config needs."""

    source: EpisodeSource
    encoder: FeatureEncoder
    reward_fn: ShapedReward


class MultiAccelEnv(gym.Env[dict[str, np.ndarray], int]):
    """Online scheduling of multi-tenant DNN inference on a Simba/Eyeriss multi-accelerator.

    ## Description
    Requests (tenant, model, priority, deadline) arrive over time; each layer of a request runs
    on one sub-accelerator, and all running layers share one DRAM bandwidth. The agent is asked
    at every engine decision point (some sub-accelerator free and some layer ready; or every
    ``decision_period_s`` as in RELMAS) and dispatches one layer per step.

    ## Observation
    ``Dict(observations=Box(-10, 10, (D,)), action_mask=Box(0, 1, (K*N+1,)),
    action_prior=Box(0, 1, (K*N+1,)))``; see :mod:`relmas.env.features` for the layout: per
    candidate slack, waiting time, priority, per-type remaining work / bandwidth demand and
    next-layer latency / energy / demand (+ heuristic flags: Planaria's choice, rank in the
    Planaria / SJF / least-laxity / EDF orders); per sub-accelerator type one-hot, busy flag,
    remaining busy time, granted and demanded bandwidth (+ "Planaria's unit"); global DRAM
    load, queue length, free fraction, arrival progress, time of episode (+ "Planaria waits").
    ``action_prior`` is the one-hot of Planaria's action (all zero for the other rules).

    ## Action
    ``Discrete(K * N + 1)``: ``i * N + a`` runs candidate ``i``'s next layer on free
    sub-accelerator ``a``; ``K * N`` waits for the next event. Invalid actions are masked (the
    mask is never all zero); stepping one raises ``ValueError`` unless ``strict=False``.

    ## Rewards
    Shaped by :mod:`relmas.env.rewards` (``reward`` config, default preset ``relmas``): met /
    missed deadlines weighted by priority (a miss is paid when the deadline passes), optional
    tardiness, DRAM-oversubscription and energy terms.

    ## Episode End
    Terminates when every request of the trace is completed or dropped; the final ``info``
    carries the unshaped KPIs of :func:`relmas.sim.metrics.compute_metrics` (``sla_rate``,
    ``energy_per_inference_j``...). Never truncated (traces are finite).

    ## Arguments
    ``config``: a mapping validated once by :class:`relmas.env.config.EnvConfig` (``scenario``,
    ``hardware``, ``seeds``, ``top_k``, ``candidates``, ``planaria_params``, ``reward``,
    ``decision_period_s``, ``num_requests``, ``strict``...); an unknown key or a bad value is a
    one-line :class:`~relmas.errors.UserError` naming it, whether the env is built directly, by
    ``gym.make(ENV_ID, config=...)``, by RLlib or by a Tune trial.

    ## Version History
    * v0: initial version (default candidates ``mixed``).
    * v1: ``heuristic`` candidate rule (the new default) with per-candidate heuristic flags,
      "Planaria's unit" / "Planaria waits" flags and the ``action_prior`` observation key;
      candidates come from incremental sorted lists instead of a per-step sort (``mixed`` and
      ``deadline`` observations are unchanged, but v0 policies must be retrained because the
      observation dict gained a key).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium convention)

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        cfg = EnvConfig.from_mapping(config)  # the one gate: gym.make, RLlib, Tune, the CLI
        self.config = cfg
        self.seeds = list(cfg.seeds)
        self.strict = cfg.strict
        self.pairs = cfg.pairs()
        sources = {pair: make_source(cfg.single(*pair)) for pair in self.pairs}
        chips = [src.chip for src in sources.values()]
        types = cfg.types or list(dict.fromkeys(t for c in chips for t in c.type_names))
        slots = cfg.max_units or max(c.num_accels for c in chips)
        self._kits = {pair: self._kit(src, types, slots) for pair, src in sources.items()}
        self.pair = self.pairs[0]
        self.source, self.encoder, self.reward_fn = self._kits[self.pair]
        enc = self.encoder
        self.action_space = spaces.Discrete(enc.num_actions)
        self.observation_space = spaces.Dict(
            {
                "observations": spaces.Box(-CLIP, CLIP, (enc.obs_dim,), np.float32),
                "action_mask": spaces.Box(0.0, 1.0, (enc.num_actions,), np.float32),
                "action_prior": spaces.Box(0.0, 1.0, (enc.num_actions,), np.float32),
                "future": spaces.Box(0.0, CLIP, (FUTURE_DIM,), np.float32),
            }
        )
        self.sim: Simulator | None = None
        self.episode_seed = -1

    def _kit(self, source: EpisodeSource, types: list[str], slots: int) -> _Kit:
        """The source, encoder and reward of one (scenario, hardware) pair (one layout for all:
        the same known types and unit slots)."""
        cfg = self.config
        enc = FeatureEncoder(
            source.chip,
            cfg.top_k,
            candidates=cfg.candidates,
            planaria_params=cfg.planaria_params,
            types=types,
            max_units=slots,
            wait_slack=cfg.wait_slack,
            outlook=cfg.outlook,
            outlook_gate=cfg.outlook_gate,
            wait_guard=cfg.wait_guard,
        )
        reward = make_reward(cfg.reward, enc.time_scale_s, float(np.mean(enc._mean_layer_j)))
        return _Kit(source, enc, reward)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Start one episode: the trace seed ``options["episode_seed"]`` (else a seeded pick)
        on the pair ``options["pair"]`` (else a seeded pick among the config's pairs)."""
        super().reset(seed=seed)
        options = options or {}
        if "episode_seed" in options:
            self.episode_seed = int(options["episode_seed"])
        else:
            self.episode_seed = self.seeds[int(self.np_random.integers(len(self.seeds)))]
        if "pair" in options:
            scenario, hardware = options["pair"]
            self.pair = (str(scenario), str(hardware))
        elif len(self.pairs) > 1:
            self.pair = self.pairs[int(self.np_random.integers(len(self.pairs)))]
        self.source, self.encoder, self.reward_fn = self._kits[self.pair]
        self.sim = self.source.make_simulator(self.episode_seed)
        self.future = FutureLoad(self.sim, self.encoder.time_scale_s)
        self.outcomes = OutcomeTracker(early=self.reward_fn.coef.early_miss)
        self.steps = 0
        self.episode_return = 0.0
        if not self.sim.advance():  # an empty trace: nothing to decide
            raise UserError("scenario", "the episode has no decision point", "add requests")
        info = {"episode_seed": self.episode_seed, "scenario": self.pair[0]}
        return self._observe(), {**info, "hardware": self.pair[1]}

    def _observe(self) -> dict[str, np.ndarray]:
        assert self.sim is not None
        self.encoder.encode(self.sim)
        return self._obs_dict()

    def _obs_dict(self) -> dict[str, np.ndarray]:
        enc, sim = self.encoder, self.sim
        assert sim is not None
        return {
            "observations": enc.obs.copy(),
            "action_mask": enc.mask.copy(),
            "action_prior": enc.prior.copy(),
            "future": self.future.values(sim),
        }

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Apply one dispatch (or wait), then run the engine to the next decision point."""
        sim = self.sim
        if sim is None:
            raise RuntimeError("call reset() before step()")
        enc, action = self.encoder, int(action)
        if not 0 <= action < enc.num_actions or enc.mask.item(action) < 0.5:
            if self.strict:
                raise ValueError(f"action {action} is masked out at t={sim.now_s:.6g}s")
            action = self._fallback_action()
        t0_s, e0_j, over0_s = sim.now_s, sim.dynamic_energy_j, sim.oversubscription_s
        choice = enc.decode(action)
        sim.apply([] if choice is None else [Dispatch(choice[0], choice[1])])
        running = [r for r in sim.accel_request if r is not None]
        terminated = not sim.advance()
        met, missed, late = self.outcomes.update(sim, running, final=terminated)
        events = StepEvents(
            met,
            missed,
            late,
            sim.now_s - t0_s,
            sim.dynamic_energy_j - e0_j,
            sim.oversubscription_s - over0_s,
        )
        reward = self.reward_fn(events)
        self.steps += 1
        self.episode_return += reward
        info: dict[str, Any] = {}
        if terminated:
            info = self.episode_kpis()
        else:
            enc.encode(sim)
        return self._obs_dict(), reward, terminated, False, info

    def _fallback_action(self) -> int:
        """Non-strict mode only (for ``check_env``): replace a masked action by the first valid."""
        return int(np.flatnonzero(self.encoder.mask)[0])

    def episode_kpis(self) -> dict[str, Any]:
        """Unshaped KPIs of the (finished) episode, comparable across reward shapings."""
        assert self.sim is not None
        metrics = compute_metrics(self.sim.result())
        # NaN stays NaN ("no value": e.g. no completion, so no energy per inference); a 0.0
        # stand-in read as the best energy to every ``min`` search and mean.
        kpis: dict[str, Any] = {k: float(metrics[k]) for k in KPI_KEYS}
        kpis.update(episode_seed=self.episode_seed, decisions=self.steps)
        return kpis
