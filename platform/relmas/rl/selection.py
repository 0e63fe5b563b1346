"""Choose a run's policy on validation seeds: the best DAgger round or one of the PPO checkpoints.

Why inside the run: PPO's greedy policy does not improve monotonically, and past some point it
drifts below where it started (docs/rl.md: two heavy runs led their prior after 20 iterations and
trailed it after 50 and 100). The last iteration is therefore not the policy to ship, and choosing
by hand after the run (``scripts/select_policy.py``) leaves a step outside the one command. With
``select_seeds: N`` the run scores every candidate on validation seeds 5000..5000+N-1 of every
training pair (never trained on, never the held-out 10000+), paired with the pair's reference
heuristic, writes the table to ``<out>/selection.json`` and makes the best candidate the run's
``policy.*`` (ties: the earlier candidate, i.e. less training).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np

from relmas.files import dumps, write_atomic, write_with
from relmas.rl.dagger import VALIDATION_FIRST_SEED, score_on_pairs
from relmas.rl.evaluate import paired_delta
from relmas.rl.recipe import Recipe

SELECTION_FILE = "selection.json"


@dataclass(frozen=True)
class Scored:
    """One candidate's validation result, paired with the reference on the same episodes."""

    name: str
    path: str
    validation_sla: float
    minus_reference: dict[str, float]


def candidates(out_dir: Path, init: Path | None) -> list[tuple[str, Path]]:
    """The policy PPO started from (a DAgger round, if any: ``init``, else what
    ``warm_start.json`` recorded, as after ``--resume``), then every exported checkpoint in
    iteration order."""
    start = out_dir / "warm_start.json"
    if init is None and start.is_file():
        init = Path(json.loads(start.read_text(encoding="utf-8"))["init"])
    found = [(f"start ({init.name})", init)] if init is not None else []
    for ckpt in sorted((out_dir / "checkpoints").glob("iter_*")):
        if (ckpt / "policy.json").is_file():
            found.append((f"PPO iteration {int(ckpt.name.split('_')[1])}", ckpt))
    return found


def references(recipe: Recipe, out_dir: Path) -> dict[tuple[str, str], tuple[str, Any]]:
    """Per training pair, the heuristic a candidate is paired with: the pair's teacher base
    (``<out>/imitation/teacher.json``) when the run imitated, else the recipe's Planaria."""
    from relmas.rl.imitation_run import reference_of
    from relmas.rl.teacher import load_bases

    pairs = recipe.env_config().pairs()
    bases = load_bases(out_dir / "imitation")
    if recipe.imitation is not None and bases:
        return {p: reference_of(recipe.imitation, bases.get(p, "")) for p in pairs}
    return dict.fromkeys(pairs, ("planaria", dict(recipe.planaria_params)))


def best_index(validation_sla: list[float]) -> int:
    """The highest validation SLA; among equals the earliest (the least trained)."""
    return max(range(len(validation_sla)), key=lambda i: (validation_sla[i], -i))


def select(recipe: Recipe, out_dir: Path, init: Path | None) -> Scored:
    """Score every candidate, write ``selection.json``, publish the best as ``<out>/policy.*``."""
    found = candidates(out_dir, init)
    if not found:
        raise RuntimeError(f"no exported policy under {out_dir} to choose from")
    refs = references(recipe, out_dir)
    seeds = list(range(VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + recipe.select_seeds))
    rows, base = score_on_pairs(recipe, [p for _, p in found], refs, seeds)
    scored = [
        Scored(name, str(path), float(np.mean(row)), paired_delta(row, base))
        for (name, path), row in zip(found, rows, strict=True)
    ]
    best = best_index([s.validation_sla for s in scored])
    report = {
        "seeds": [VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + recipe.select_seeds - 1],
        "pairs": [f"{s}/{h}" for s, h in refs],
        "reference": {f"{s}/{h}": ref for (s, h), (ref, _) in refs.items()},
        "reference_sla": float(np.mean(base)),
        "candidates": [asdict(s) for s in scored],
        "chosen": scored[best].name,
    }
    write_atomic(out_dir / SELECTION_FILE, dumps(report))
    publish(Path(scored[best].path), out_dir)
    return scored[best]


def publish(policy_dir: Path, out: Path) -> None:
    """Make an exported policy the run's policy (``<out>/policy.*``, renamed in, json last: a
    reader that sees the new ``policy.json`` also sees its weights)."""
    if policy_dir.resolve() == out.resolve():
        return
    for name in ("policy.npz", "policy.json"):
        write_with(out / name, partial(_put, (policy_dir / name).read_bytes()))


def _put(blob: bytes, fh: IO[bytes]) -> None:
    fh.write(blob)
