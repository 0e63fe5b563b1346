"""Two exported policies as one scheduler, routed by how tight the SLAs seen so far are.

Why: no single trained policy wins every regime. ``rl:default`` (trained on 24 scenario/chip
pairs, weighted towards ``tight``) gains 3-10 points on tight SLAs and ties or loses on calm
ones; ``rl:gate_ensemble`` (a calm-regime specialist) gains 1-5 points on ``heavy`` and
``medium``, at chips it never saw too, and ties or loses on tight ones (docs/rl.md). What
separates the regimes is observable online and needs no clairvoyance: every arrived request's
SLA multiplier, ``(deadline_s - arrival_s) / isolated latency`` of its model on this chip
(the scenario's deadline rule, docs/simulator.md). The router sends every decision to the
*tight* policy once some arrived request's multiplier is below ``threshold``, and to the
*calm* one before that. The minimum only falls, so an episode switches at most once, early
(at the first request of a tight tenant), and each policy then sees the states it was trained
on. This is a mixture of experts with a one-feature, hand-written gate; the threshold is the
one parameter, chosen on validation seeds (docs/rl.md, "One policy for every regime").

A router directory holds ``router.json``: the threshold and the two policies, each either a
plain sub-directory of the router (an export or an ensemble) or ``rl:NAME`` of a shipped
policy (so the shipped router does not copy 2.8 MB of ensemble). ``rl:ROUTER?wait_guard=true``
applies the guard to both policies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from relmas.errors import UserError
from relmas.rl.ensemble import read_doc
from relmas.schedulers.base import Decision, Scheduler
from relmas.sim.engine import Simulator

ROUTER_JSON = "router.json"
ROUTER_FORMAT = 1
ROUTE = "min_sla_multiplier"
SHIPPED_PREFIX = "rl:"


@dataclass(frozen=True)
class RouterSpec:
    """What ``router.json`` says: the threshold and the two policies' references."""

    threshold: float
    tight: str
    calm: str
    search: int = 0  # the gated policy's search width (relmas.rl.search); 0: none


def _is_reference(ref: object) -> bool:
    """``rl:NAME`` (a shipped policy) or a plain sub-directory name: never a path outside."""
    if not isinstance(ref, str) or not ref or set(ref) & set("/\\") or ref in (".", ".."):
        return False
    return not ref.startswith(SHIPPED_PREFIX) or len(ref) > len(SHIPPED_PREFIX)


def read_router(path: Path) -> RouterSpec:
    """``path/router.json`` checked, or a UserError naming the fix."""
    where = path / ROUTER_JSON
    doc = read_doc(where, "route")
    ok = isinstance(doc, dict) and (doc.get("format_version"), doc.get("route")) == (
        ROUTER_FORMAT,
        ROUTE,
    )
    threshold = doc.get("threshold") if ok else None
    if not ok or not all(_is_reference(doc.get(k)) for k in ("tight", "calm")):
        raise UserError("checkpoint", f"{where} is not a relmas router (format {ROUTER_FORMAT}, "
                        f"route {ROUTE})", "rebuild it with `relmas route`")  # fmt: skip
    check_threshold(threshold)
    search = doc.get("search", 0)  # written since the search existed; older files: none
    if isinstance(search, bool) or not isinstance(search, int) or search < 0:
        raise UserError("checkpoint", f"{where} has search {search!r:.40}, not a whole number "
                        ">= 0", "rebuild it with `relmas route`")  # fmt: skip
    return RouterSpec(float(threshold), str(doc["tight"]), str(doc["calm"]), search)  # type: ignore[arg-type]


def check_threshold(threshold: object) -> None:
    """A finite SLA multiplier above 1 (a request's deadline is never below its isolated
    latency, so a threshold of 1 or less would never route to the tight policy)."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise UserError("threshold", f"must be a number, got {threshold!r:.40}", "e.g. 2.5")
    if not math.isfinite(threshold) or threshold <= 1.0:
        raise UserError("threshold", f"must be a finite SLA multiplier > 1, got {threshold}",
                        "e.g. 2.5 (tight's tenants have 1.5-5, heavy's 3-6)")  # fmt: skip


def router_doc(spec: RouterSpec, sources: Sequence[str]) -> str:
    """The text of ``router.json`` (``sources``: where the two policies came from)."""
    doc = {"format_version": ROUTER_FORMAT, "route": ROUTE, "threshold": spec.threshold,
           "tight": spec.tight, "calm": spec.calm, "sources": list(sources)}  # fmt: skip
    if spec.search:  # only when set: a router without a search keeps the file it had
        doc["search"] = spec.search
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


class RoutablePolicy(Protocol):
    """What the router needs of each policy (``PolicyScheduler``; a stub in tests)."""

    @property
    def decision_period_s(self) -> float | None:
        """The decision period it was trained with (None: event-driven)."""

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Prepare for a run on ``sim``."""

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """One step's decisions."""


class RoutedScheduler(Scheduler):
    """The tight policy once an arrived request's SLA multiplier is below ``threshold``,
    the calm one until then (see the module docstring)."""

    name = "rl"

    def __init__(
        self, tight: RoutablePolicy, calm: RoutablePolicy, threshold: float, source: str = ""
    ) -> None:
        super().__init__()
        self.tight, self.calm = tight, calm
        self.threshold = threshold
        self.source = source
        period = {tight.decision_period_s, calm.decision_period_s}
        if len(period) != 1:
            raise UserError("checkpoint", f"router {source}: its two policies decide with "
                            f"different decision_period_s {sorted(period, key=str)}",
                            "route policies trained with one decision period")  # fmt: skip
        self.decision_period_s: float | None = period.pop()
        self.min_multiplier = math.inf
        self._seen = 0
        self._sim: Simulator | None = None

    @property
    def parts(self) -> tuple[RoutablePolicy, RoutablePolicy]:
        """The tight and the calm policy."""
        return self.tight, self.calm

    def reset(self, sim: Simulator, rng: np.random.Generator) -> None:
        """Both policies build their encoders for this chip (a chip that either refuses fails
        here, before any decision); no request has been seen yet."""
        super().reset(sim, rng)
        self.tight.reset(sim, rng)
        self.calm.reset(sim, rng)
        self.min_multiplier = math.inf
        self._seen = 0
        self._sim = sim

    def observe(self, sim: Simulator) -> None:
        """Fold the requests that arrived since the last call into the minimum multiplier."""
        requests, isolated_s = sim.requests, sim.chip.isolated_latency_s
        for req in requests[self._seen :]:
            window_s = req.deadline_s - req.arrival_s
            self.min_multiplier = min(self.min_multiplier, window_s / isolated_s[req.model])
        self._seen = len(requests)

    @property
    def tight_now(self) -> bool:
        """Whether decisions go to the tight policy."""
        return self.min_multiplier < self.threshold

    def decide(self, sim: Simulator) -> Sequence[Decision]:
        """The routed policy's decision (one dispatch, or none for its wait action)."""
        if sim is not self._sim:  # a run it was not reset for: start over
            self.min_multiplier, self._seen, self._sim = math.inf, 0, sim
        if not self.tight_now:  # the minimum only falls: after the switch, nothing to fold
            self.observe(sim)
        return (self.tight if self.tight_now else self.calm).decide(sim)
