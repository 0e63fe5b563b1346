"""``wait_guard``: no wait while a unit of every type is free (env mask and policy scheduler).

Why it exists: a medium specialist trained with seed 3 waited on heavy with 3 of 4 units free
and ~95 requests queued and met 0.62 of the deadlines against Planaria's 0.92; the rollout
teacher waits in such states in 0-5% of its waits (docs/rl.md, "Run-to-run spread, a
collapse, and wait_guard").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from relmas.env.multi_accel import MultiAccelEnv
from relmas.evaluation.runner import cached_setup
from relmas.rl.policy_scheduler import PolicyScheduler
from relmas.schedulers.registry import make_scheduler
from relmas.sim import Simulator
from relmas.sim.workload import generate_requests

CFG: dict[str, Any] = {"scenario": "toy", "hardware": "2s1e", "seeds": [4], "num_requests": 40}


def _every_type_free(sim: Simulator) -> bool:
    types = {sim.chip.accel_type[a] for a in sim.free_accels}
    return len(types) == len(set(sim.chip.accel_type))


def test_the_guard_masks_exactly_the_waits_with_a_unit_of_every_type_free() -> None:
    """The same actions through a guarded and a plain env: equal observations and masks but
    for the wait action, which the guard removes exactly where every type has a free unit."""
    guarded, plain = MultiAccelEnv({**CFG, "wait_guard": True}), MultiAccelEnv(CFG)
    (g, _), (p, _) = guarded.reset(seed=0), plain.reset(seed=0)
    wait = plain.encoder.wait_action
    rng, done, removed, kept = np.random.default_rng(1), False, 0, 0
    while not done:
        np.testing.assert_array_equal(g["observations"], p["observations"])
        np.testing.assert_array_equal(g["action_mask"][:wait], p["action_mask"][:wait])
        assert plain.sim is not None
        guard = _every_type_free(plain.sim) and p["action_mask"][:wait].any()
        assert g["action_mask"][wait] == (0.0 if guard else p["action_mask"][wait])
        removed += bool(guard and p["action_mask"][wait])
        kept += bool(g["action_mask"][wait])
        action = int(rng.choice(np.flatnonzero(g["action_mask"])))
        (g, _, done, _, _), (p, *_) = guarded.step(action), plain.step(action)
    assert removed > 0 and kept > 0  # both kinds of state were seen


def test_rl_reference_turns_the_guard_on_for_a_policy_trained_without_it() -> None:
    plain, guarded = make_scheduler("rl:default"), make_scheduler("rl:default?wait_guard=true")
    assert isinstance(plain, PolicyScheduler) and isinstance(guarded, PolicyScheduler)
    assert not plain.recipe.wait_guard and not plain.wait_guard and guarded.wait_guard


def _waits_with_every_type_free(ref: str) -> tuple[int, int]:
    """(states with a request ready and every type free, waits there) of ``ref`` on the first
    150 requests of heavy / 2s2e, with its policy made to prefer waiting everywhere."""
    setup = cached_setup("heavy", "2s2e", None, None)
    sched = make_scheduler(ref)
    assert isinstance(sched, PolicyScheduler)

    def wait_first(obs: np.ndarray, layout: object = None) -> np.ndarray:
        assert sched.encoder is not None
        logits = np.zeros(sched.encoder.num_actions, np.float32)
        logits[sched.encoder.wait_action] = 10.0
        return logits

    sched.policy.logits = wait_first  # type: ignore[method-assign]
    decide, seen = sched.decide, []

    def watched(sim: Simulator) -> Any:
        decisions = decide(sim)
        if sim.ready and _every_type_free(sim):
            seen.append(len(decisions))
        return decisions

    sched.decide = watched  # type: ignore[method-assign]
    specs = generate_requests(setup.scenario, setup.chip, 0, setup.traces)[:150]
    Simulator(setup.chip, specs).run(sched, seed=0)
    return len(seen), seen.count(0)


def test_a_guarded_policy_never_waits_with_every_type_free() -> None:
    states, waits = _waits_with_every_type_free("rl:default")
    assert states and waits  # the wait-loving policy does wait there without the guard
    states, waits = _waits_with_every_type_free("rl:default?wait_guard=true")
    assert states and not waits
