"""``relmas ensemble``: average several exported policies of one recipe into one scheduler.

Why a command: an ensemble of a recipe's seeds is less of a lottery than any one of them
(docs/rl.md, "An ensemble of seeds"), and the result should be a directory that every command
taking ``rl:DIR`` or ``--checkpoint DIR`` accepts, checked once when it is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from relmas.rl.ensemble import write_ensemble
from relmas.rl.policy_scheduler import load_export, resolve_policy_dir


def register(subparsers: Any) -> None:
    """Add ``ensemble``."""
    p = subparsers.add_parser(
        "ensemble",
        help="one policy from several exports of one recipe (mean of their probabilities)",
    )
    p.add_argument(
        "policies",
        nargs="+",
        help="two or more `relmas train --out` directories, checkpoints "
        "(OUT/checkpoints/iter_NNNNNN) or shipped names",
    )
    p.add_argument("--out", type=Path, required=True,
                   help="new directory to write; use it as rl:OUT")  # fmt: skip
    p.set_defaults(func=cmd_ensemble)


def cmd_ensemble(args: argparse.Namespace) -> int:
    """Check every member (loadable, one observation), then copy them into ``--out``."""
    sources = [resolve_policy_dir(p) for p in args.policies]
    metas = [load_export(src)[1] for src in sources]
    out = write_ensemble(args.out.expanduser().resolve(), sources, metas)
    print(f"ensemble of {len(sources)} policies: {out} (use rl:{out})")
    return 0
