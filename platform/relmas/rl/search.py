"""Policy-guided lookahead: where the gate is open, simulate the policy's few best actions.

Why: the gated policies (``rl:gate_ensemble``) keep only part of their rollout teacher's gain on
``heavy`` (+1.2 of its +2.1 SLA points), and no change to their training closed that gap
(docs/rl.md, "An ensemble of seeds"). The teacher itself simulates up to six candidate actions
(its base's and five picked by rules) at every decision its early exit does not settle. Here
the *policy* picks the candidates: at a decision where its outlook gate is open (Planaria's own
simulated future loses a request, so the gate is the teacher's early exit), the ``width``
actions it rates most
probable, and Planaria's action, are each applied to a snapshot of the simulator, Planaria runs
for the teacher's horizon, and the action whose future keeps the most deadlines wins; ties go
to the action the policy rates higher (Planaria's last when it is not among them), so the
policy's own preference decides wherever the simulation cannot tell. Planaria's score is free:
the outlook already simulated its future.

This is a learned prior narrowing a search, as AlphaGo's policy network narrowed its tree search
(Silver et al., "Mastering the game of Go with deep neural networks and tree search", Nature
2016), over the one-step rollout of Bertsekas, Tsitsiklis and Wu (J. Heuristics 1997). It stays
non-clairvoyant: a snapshot holds only the requests that have arrived. Behind a closed gate
(most decisions on ``heavy``) nothing is simulated, so the median decision costs what the
policy alone costs; a decision behind an open gate costs up to ``width`` simulations.

A policy without an outlook gate (``rl:default``) has its own confidence as the gate: it
searches only where its most probable action has a probability below ``search_confidence``,
simulating a heuristic it names (``search_base``: EDF on ``tight``, the tight teacher's base),
every candidate simulated. On tight that searches 39.6% of the decisions for +5.8 SLA points
over the policy alone (validation seeds; docs/rl.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from relmas.env.features import OUTLOOK_HORIZON_S, FeatureEncoder, planaria_variant
from relmas.errors import UserError
from relmas.schedulers import _lookahead as la
from relmas.schedulers.base import Decision, Scheduler
from relmas.schedulers.registry import make_scheduler
from relmas.schedulers.rollout import REBUILT, USES_RNG
from relmas.sim.engine import Simulator
from relmas.sim.request import Dispatch

# A sanity bound, not a tuned value: widths 3 and 4 gained nothing over 2 (docs/rl.md).
MAX_WIDTH = 16


def check_width(width: object) -> int:
    """``search`` must be a whole number of candidate actions, 0 (off) to :data:`MAX_WIDTH`."""
    if isinstance(width, bool) or not isinstance(width, int) or not 0 <= width <= MAX_WIDTH:
        raise UserError("search", f"must be a whole number from 0 to {MAX_WIDTH}, got "
                        f"{width!r:.40}", "e.g. rl:gate_ensemble?search=2 (0: off)")  # fmt: skip
    return width


def make_search(
    width: int,
    gated: bool,
    planaria_params: Mapping[str, Any],
    base: object = None,
    confidence: object = None,
) -> PolicySearch | None:
    """The search a policy's parameters ask for (None: ``width`` 0), or a UserError naming the
    parameter. A gated policy searches where its gate is open, with Planaria (its outlook's
    base, whose score is free); a policy without a gate must say which heuristic to simulate
    (``search_base``) and below which top probability to search (``search_confidence``), or it
    would simulate at every decision."""
    if not check_width(width):
        if base is not None or confidence is not None:  # not silently a policy without search
            raise UserError("search", "search_base and search_confidence need a search width",
                            "add search=2, or drop them")  # fmt: skip
        return None
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(
            confidence, int | float) or not 0 < confidence <= 1):  # fmt: skip
        raise UserError("search_confidence", f"must be a probability in (0, 1], got "
                        f"{confidence!r:.40}", "e.g. 0.9")  # fmt: skip
    if gated:
        if base is not None:
            raise UserError("search_base", "a gated policy's search simulates Planaria, its "
                            "outlook's base", "drop search_base")  # fmt: skip
        return PolicySearch(width, planaria_variant(planaria_params), confidence)
    if base is None or confidence is None:
        missing = "search_base" if base is None else "search_confidence"
        raise UserError(missing, "a policy without an outlook gate searches only where it is "
                        "unsure, with a heuristic of your choice", "e.g. rl:default?search=2&"
                        "search_base=edf&search_confidence=0.9")  # fmt: skip
    if base not in REBUILT or base in USES_RNG:
        raise UserError("search_base", f"{base!r:.40} is not a heuristic a snapshot can run",
                        f"one of: {', '.join(sorted(REBUILT - USES_RNG))}")  # fmt: skip
    return PolicySearch(width, make_scheduler(str(base)), float(confidence))


class PolicySearch:
    """Chooses among a policy's ``width`` most probable actions by simulating each.

    ``roller``: the heuristic run after each action (reset on every snapshot: one whose state
    is rebuilt from the simulator). ``confidence``: search only where the policy's most
    probable action has a probability below it (None: wherever the gate is open).
    Counters (``searches``: decisions searched, ``rollouts``: simulations run, ``changed``:
    decisions where the search took another action than the policy's argmax) are kept over
    the scheduler's life, for benches and tests.
    """

    def __init__(self, width: int, roller: Scheduler, confidence: float | None = None) -> None:
        self.width = check_width(width)
        self._roller = roller
        self.confidence = confidence
        self.searches = self.rollouts = self.changed = 0

    def wanted(self, top_probability: float) -> bool:
        """Whether to search a decision whose most probable action has this probability."""
        return self.confidence is None or top_probability < self.confidence

    def choose(self, sim: Simulator, enc: FeatureEncoder, ranked: Sequence[int]) -> int:
        """The best of ``ranked[:width]`` (and, behind an outlook gate, Planaria's action) by
        their simulated futures; ties go to the earlier in ``ranked``.

        ``ranked``: the valid actions, the policy's most preferred first. ``enc`` has encoded
        ``sim`` this step; with an outlook gate its simulated Planaria future scores that
        action and fixes the horizon (the outlook's, the rollout teacher's 50 ms); without
        one, every candidate is simulated to the same horizon.
        """
        order = [int(a) for a in ranked[: self.width]]  # numpy ints: not for the engine
        free: dict[int, int] = {}  # actions whose score is known without a simulation
        if enc.outlook_gate:
            assert enc.outlook is not None and enc.outlook.last is not None
            planaria = enc.planaria_action()
            end_s, live, free[planaria] = enc.outlook.last
            if planaria not in order and enc.mask[planaria] > 0.5:  # a guarded wait: invalid
                order.append(planaria)
        else:
            end_s = sim.now_s + OUTLOOK_HORIZON_S
            live = la.scored(sim, end_s, clairvoyant=False)[0]
        self.searches += 1
        best, top = order[0], -1
        for action in order:
            score = free[action] if action in free else self._score(sim, enc, action,
                                                                      end_s, live, top)  # fmt: skip
            if score > top:
                best, top = action, score
        self.changed += best != order[0]
        return best

    def _score(
        self,
        sim: Simulator,
        enc: FeatureEncoder,
        action: int,
        end_s: float,
        live: list[int],
        beat: int,
    ) -> int:
        """Deadlines kept where the roller's future after ``action`` ends (an upper bound at most
        ``beat`` once it cannot beat ``beat``: then it loses to the action scored before)."""
        self.rollouts += 1
        clone = sim.snapshot()
        la.apply_first(clone, self._decisions(enc, action))
        self._roller.reset(clone, np.random.default_rng(0))
        return la.roll(clone, self._roller, end_s, live, beat)[0]

    @staticmethod
    def _decisions(enc: FeatureEncoder, action: int) -> list[Decision]:
        """The dispatch an action index stands for (none: the wait action), without telling
        the outlook (only the action finally taken is reported, by ``enc.decode``)."""
        if action == enc.wait_action:
            return []
        i, a = divmod(int(action), enc.num_accels)  # a numpy int fails in the compiled engine
        return [Dispatch(enc.candidates[i], a)]
