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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from relmas.env.features import FeatureEncoder, planaria_variant
from relmas.errors import UserError
from relmas.schedulers import _lookahead as la
from relmas.schedulers.base import Decision
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


class PolicySearch:
    """Chooses among a policy's ``width`` most probable actions by simulating each.

    Counters (``searches``: open-gate decisions searched, ``rollouts``: simulations run,
    ``changed``: decisions where the search took another action than the policy's argmax)
    are kept over the scheduler's life, for benches and tests.
    """

    def __init__(self, width: int, planaria_params: Mapping[str, Any]) -> None:
        self.width = check_width(width)
        self._roller = planaria_variant(planaria_params)  # reset on every snapshot
        self.searches = self.rollouts = self.changed = 0

    def choose(self, sim: Simulator, enc: FeatureEncoder, ranked: Sequence[int]) -> int:
        """The best of ``ranked[:width]`` and Planaria's action by their simulated futures.

        ``ranked``: the valid actions, the policy's most preferred first. ``enc`` has encoded
        ``sim`` this step, with an outlook (its simulated Planaria future scores that action
        and fixes the horizon: the outlook's, the rollout teacher's 50 ms).
        """
        outlook = enc.outlook
        assert outlook is not None and outlook.last is not None  # checked when loaded
        end_s, live, planaria_score = outlook.last
        planaria = enc.planaria_action()
        order = [int(a) for a in ranked[: self.width]]  # numpy ints: not for the engine
        if planaria not in order and enc.mask[planaria] > 0.5:  # a guarded wait is not valid
            order.append(planaria)
        self.searches += 1
        best, top = order[0], -1
        for action in order:
            if action == planaria:
                score = planaria_score
            else:
                score = self._score(sim, enc, action, end_s, live, top)
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
        """Deadlines kept where Planaria's future after ``action`` ends (an upper bound at most
        ``beat`` once it cannot beat ``beat``: then it loses to the action scored before)."""
        self.rollouts += 1
        clone = sim.snapshot()
        clone.apply(la.on(clone, self._decisions(enc, action)))
        # As the rollout teacher does: Planaria reads the clone's ready requests from now on.
        clone.ready_log = list(clone.ready.values())
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
