"""What ``relmas list`` shows of the policies shipped in ``relmas/rl/policies/``.

Why a module of its own: the listing reads every kind of policy directory (an export, an
ensemble, a router) for its recipe's pairs, while :mod:`relmas.rl.policy_scheduler` only loads
one to schedule with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from relmas.rl import policy_scheduler as ps
from relmas.rl.ensemble import ENSEMBLE_JSON, read_ensemble
from relmas.rl.router import ROUTER_JSON, read_router
from relmas.schedulers.registry import split_ref


def shipped_policies() -> dict[str, dict[str, Any]]:
    """What ``relmas list`` shows of each shipped policy: the pairs it was trained on, whether
    its outlook gate is on (a specialist), its PPO iterations and how many policies it averages
    (an ensemble, :mod:`relmas.rl.ensemble`), read from its (first member's) policy.json; a
    router (:mod:`relmas.rl.router`) lists its two policies' pairs together and its route."""
    out: dict[str, dict[str, Any]] = {}
    policy_files = ("policy.json", ENSEMBLE_JSON, ROUTER_JSON)
    shipped = (p for p in ps.SHIPPED_DIR.iterdir() if any((p / f).is_file() for f in policy_files))
    for path in sorted(shipped):
        if not (path / ROUTER_JSON).is_file():
            out[path.name] = _listing(path)
            continue
        spec = read_router(path)
        refs = (split_ref(ref)[0] for ref in (spec.tight, spec.calm))  # without parameters
        parts = [_listing(ps.router_member(path, ref)) for ref in refs]
        keys = ("scenarios", "hardware")
        both = {k: list(dict.fromkeys(parts[0][k] + parts[1][k])) for k in keys}
        out[path.name] = {
            **both,
            "outlook_gate": any(p["outlook_gate"] for p in parts),
            "iterations": max(p["iterations"] for p in parts),
            "members": sum(p["members"] for p in parts),
            "router": {
                "threshold": spec.threshold,
                "tight": spec.tight,
                "calm": spec.calm,
                "search": spec.search,
            },
        }
    return out


def _listing(path: Path) -> dict[str, Any]:
    """One export's or ensemble's row of :func:`shipped_policies`."""
    members = read_ensemble(path) if (path / ENSEMBLE_JSON).is_file() else [path]
    meta = json.loads((members[0] / "policy.json").read_text(encoding="utf-8"))
    recipe = meta["recipe"]
    listed = [v if isinstance(v, list) else [v] for v in (recipe["scenario"], recipe["hardware"])]
    return {
        "scenarios": listed[0],
        "hardware": listed[1],
        "outlook_gate": bool(recipe.get("outlook_gate", False)),
        "iterations": int(meta["iterations"]),
        "members": len(members),
    }
