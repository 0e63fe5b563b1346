"""Teacher-labelled states for imitation (DAgger): what the student saw and what the teacher did.

Why these labels: the lookahead teacher (``relmas.schedulers.rollout``) scores a few candidate
actions by simulating ahead; several can tie at the best score, and any of them is right. So a
state's label is the *set* of student actions that map to a best-scoring option (a multi-hot
over the action space), and the loss asks the student to put its probability on that set. A
state is *informative* when the teacher measured options that scored differently: those few
states (a lookahead prototype changed 0.3-1.1% of its base's decisions) carry the gain, so they
are all kept and weighted, while the plain ones are subsampled (``keep_plain``).

Any scheduler can teach: one with ``advise(sim)`` (the rollout scheduler) gives its options and
scores; any other gives its decision as the only option.

Ray-free and torch-free (numpy): episodes are collected in worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relmas.env.features import FeatureEncoder
from relmas.env.multi_accel import MultiAccelEnv
from relmas.rl.policy_scheduler import PolicyScheduler
from relmas.schedulers.base import Scheduler
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch


@dataclass
class Labelled:
    """States of one or more episodes, row-aligned arrays."""

    obs: list[np.ndarray] = field(default_factory=list)
    mask: list[np.ndarray] = field(default_factory=list)
    prior: list[np.ndarray] = field(default_factory=list)
    future: list[np.ndarray] = field(default_factory=list)
    label: list[np.ndarray] = field(default_factory=list)
    informative: list[bool] = field(default_factory=list)
    deviates: list[bool] = field(default_factory=list)
    ret: list[float] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(
        self, obs: dict[str, np.ndarray], label: np.ndarray, informative: bool, deviates: bool
    ) -> None:
        """Record an env observation with its label set (its return is set at the end)."""
        self.obs.append(obs["observations"])
        self.mask.append(obs["action_mask"])
        self.prior.append(obs["action_prior"])
        self.future.append(obs["future"])
        self.label.append(label)
        self.informative.append(informative)
        self.deviates.append(deviates)

    def count(self, key: str, n: int = 1) -> None:
        """Bookkeeping (states seen, kept, unmappable...)."""
        self.counts[key] = self.counts.get(key, 0) + n

    def arrays(self) -> dict[str, np.ndarray]:
        """Stacked arrays (``label`` as bool, ``informative`` as bool)."""
        if not self.obs:
            return {}
        return {
            "obs": np.stack(self.obs),
            "mask": np.stack(self.mask),
            "prior": np.stack(self.prior),
            "future": np.stack(self.future),
            "label": np.stack(self.label).astype(bool),
            "informative": np.asarray(self.informative, dtype=bool),
            "deviates": np.asarray(self.deviates, dtype=bool),
            "ret": np.asarray(self.ret, dtype=np.float32),
        }


Options = list[tuple[list[Any], float, bool]]  # (decisions, score, exact)


def options_of(teacher: Scheduler, sim: Simulator) -> tuple[Options, int]:
    """``([(decisions, score, exact), ...], best)``: the teacher's measured options and the
    index of the one it acts on. Unmeasured options (the early exit) are left out; a *bound*
    option (its rollout stopped once it could not beat the best) is kept with ``exact=False``:
    it lost, so it never joins the label set, but it makes the state informative."""
    advise = getattr(teacher, "advise", None)
    if advise is None:
        return [(list(teacher.decide(sim)), 0.0, True)], 0
    advice = advise(sim)
    chosen = list(advice.options[advice.best].decisions)
    options = [
        (list(o.decisions), float(o.score), not getattr(o, "bound", False))
        for o in advice.options
        if o.evaluated or list(o.decisions) == chosen
    ]
    best = next(i for i, (d, _, _) in enumerate(options) if d == chosen)
    return options, best


def action_of(enc: FeatureEncoder, decisions: Sequence[Any]) -> int | None:
    """The student's action index for a teacher option (``None``: not in the action space)."""
    if not decisions:
        return enc.wait_action if enc.mask[enc.wait_action] > 0.5 else None
    first = decisions[0]
    if not isinstance(first, Dispatch):
        return None  # the student cannot drop
    for i, req in enumerate(enc.candidates):
        if req is first.request:
            action = i * enc.num_accels + first.accel
            return action if enc.mask[action] > 0.5 else None
    return None


def label_state(
    enc: FeatureEncoder, options: Options, best: int
) -> tuple[np.ndarray | None, int | None, bool]:
    """(multi-hot label set, the teacher's action, informative) of the current state."""
    top = options[best][1]
    label = np.zeros(enc.num_actions, dtype=bool)
    for i, (decisions, score, exact) in enumerate(options):
        action = action_of(enc, decisions)
        if action is not None and (i == best or (exact and score >= top)):
            label[action] = True
    teacher_action = action_of(enc, options[best][0])
    informative = any(score < top or not exact for i, (_, score, exact) in enumerate(options)
                      if i != best)  # fmt: skip
    return (label if label.any() else None), teacher_action, informative


def returns_to_go(rewards: list[float], gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma * G_{t+1}`` for every step of an episode."""
    out = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def collect_episode(
    env: MultiAccelEnv,
    teacher: Scheduler,
    student: PolicyScheduler | None,
    *,
    pair: tuple[str, str],
    episode_seed: int,
    beta: float,
    keep_plain: float,
    seed: int,
    gamma: float = 0.99,
) -> Labelled:
    """Run one episode, labelling every state by the teacher; act as the teacher with
    probability ``beta`` (always without a student), else as the student (DAgger). Each kept
    state also gets its discounted return (to warm up the critic before any RL)."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(options={"episode_seed": episode_seed, "pair": pair})
    enc, sim, out = env.encoder, env.sim, Labelled()
    assert sim is not None
    teacher.reset(sim, np.random.default_rng(seed))
    done, rewards, kept = False, [], []
    while not done:
        options, best = options_of(teacher, sim)
        label, teacher_action, informative = label_state(enc, options, best)
        out.count("states")
        if label is None or teacher_action is None:
            out.count("unmappable")
        elif informative or rng.random() < keep_plain:
            base_action = action_of(enc, options[0][0])
            deviates = base_action is None or not label[base_action]  # the base is not right
            out.add(obs, label, informative, deviates)
            kept.append(len(rewards))
            out.count("informative" if informative else "plain")
        if student is None or (teacher_action is not None and rng.random() < beta):
            action = teacher_action if teacher_action is not None else enc.wait_action
        else:
            action = student.policy.act(
                obs["observations"],
                obs["action_mask"],
                obs["action_prior"],
                student.prior_weight,
                enc.layout,
            )
        if enc.mask[action] < 0.5:  # the teacher's wait was not possible: take its dispatch
            action = int(np.flatnonzero(enc.mask)[0])
        obs, reward, done, _, info = env.step(action)
        rewards.append(reward)
    out.ret = returns_to_go(rewards, gamma)[kept].tolist()
    out.count("met", round(info["sla_rate"] * info["requests"]))
    out.count("requests", int(info["requests"]))
    return out
