"""``relmas route``: one scheduler from two policies, routed by the SLA multipliers seen so far.

Why a command: no trained policy wins every regime (docs/rl.md, "One policy for every
regime"), and a user should get the combination as a directory that every command taking
``rl:DIR`` or ``--checkpoint DIR`` accepts, checked once when it is written
(:mod:`relmas.rl.router`).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from relmas.errors import UserError
from relmas.files import atomic_directory, write_atomic
from relmas.rl.ensemble import ENSEMBLE_JSON, check_new_directory, read_ensemble
from relmas.rl.policy_scheduler import SHIPPED_DIR, load_policy_scheduler, resolve_policy_dir
from relmas.rl.router import ROUTER_JSON, SHIPPED_PREFIX, RouterSpec, check_threshold, router_doc
from relmas.rl.search import check_width

POLICY_FILES = ("policy.json", "policy.npz")


def register(subparsers: Any) -> None:
    """Add ``route``."""
    p = subparsers.add_parser(
        "route",
        help="one policy from two: the tight one once a request's SLA multiplier is below "
        "--threshold, the calm one before",
    )
    p.add_argument("--tight", required=True,
                   help="policy for tight SLAs: a shipped name (rl:default) or a `relmas train "
                   "--out` / `relmas ensemble` directory, with its own search parameters if "
                   "any (rl:default?search=2&search_base=edf&search_confidence=0.9)")  # fmt: skip
    p.add_argument("--calm", required=True,
                   help="policy until then, same forms")  # fmt: skip
    p.add_argument("--threshold", type=float, required=True,
                   help="SLA multiplier, deadline over isolated latency, below which decisions "
                   "go to --tight, e.g. 2.5 as in rl:sla_router")  # fmt: skip
    p.add_argument("--search", type=int, default=0,
                   help="search width of the gated policy: where its outlook gate is open, "
                   "simulate its N most probable actions and take the best (docs/rl.md, "
                   "'Policy-guided search'); 0: none (default: 0)")  # fmt: skip
    p.add_argument("--out", type=Path, required=True,
                   help="new directory to write; use it as rl:OUT")  # fmt: skip
    p.set_defaults(func=cmd_route)


def _reference(role: str, text: str) -> tuple[str, Path, str]:
    """``rl:NAME`` for a shipped policy (kept by name, not copied), else the directory; and
    the reference's ``?parameters`` (a search of its own), kept as written."""
    text, sep, query = text.partition("?")
    bare = text[len(SHIPPED_PREFIX) :] if text.startswith(SHIPPED_PREFIX) else text
    path = resolve_policy_dir(bare)
    if path.parent == SHIPPED_DIR:
        return f"{SHIPPED_PREFIX}{path.name}", path, sep + query
    if not path.is_dir():
        raise UserError(f"--{role}", f"directory {path} does not exist",
                        "name a shipped policy (relmas list) or a run's --out")  # fmt: skip
    if (path / ROUTER_JSON).is_file():
        raise UserError(f"--{role}", f"{path} is itself a router",
                        "route two exports or ensembles")  # fmt: skip
    return "", path, sep + query


def _copy_policy(src: Path, dst: Path) -> None:
    """Copy an export's two files, or an ensemble's ``ensemble.json`` and its members' files."""
    dst.mkdir()
    if (src / ENSEMBLE_JSON).is_file():
        shutil.copy2(src / ENSEMBLE_JSON, dst / ENSEMBLE_JSON)
        for member in read_ensemble(src):
            _copy_policy(member, dst / member.name)
        return
    for file in POLICY_FILES:
        shutil.copy2(src / file, dst / file)


def cmd_route(args: argparse.Namespace) -> int:
    """Check the threshold and both policies, write into a temporary sibling, load the result
    once (both policies, one decision period) and rename it into place."""
    check_threshold(args.threshold)
    check_width(args.search)
    out: Path = args.out.expanduser().resolve()
    check_new_directory(out)
    refs = {role: _reference(role, getattr(args, role)) for role in ("tight", "calm")}
    with atomic_directory(out) as tmp:
        names = {}
        for role, (shipped, src, query) in refs.items():
            names[role] = (shipped or role) + query
            if not shipped:
                _copy_policy(src, tmp / role)
        spec = RouterSpec(float(args.threshold), names["tight"], names["calm"], args.search)
        sources = [(shipped or str(src)) + query for shipped, src, query in refs.values()]
        write_atomic(tmp / ROUTER_JSON, router_doc(spec, sources))
        load_policy_scheduler(tmp)
    searched = f", searching {spec.search} actions where its gate is open" if spec.search else ""
    print(f"router: {sources[0]} once a request's SLA multiplier is below {spec.threshold:g}, "
          f"{sources[1]} before{searched}: {out} (use rl:{out})")  # fmt: skip
    return 0
