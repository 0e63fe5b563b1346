"""A policy against another scheduler and its teacher's base, per training pair (validation seeds).

Why: a run's own validation (``rounds.jsonl``, ``selection.json``) averages over every
(scenario, chip) pair it trained on, and a mix of 24 pairs can hide a pair that collapsed behind
gains elsewhere (the gated full recipe in docs/rl.md lost 9-12 points on tight while gaining on
heavy). This prints one line per pair: the policy, ``--against`` (default the shipped policy) and
the pair's teacher base (``<run>/imitation/teacher.json``; without it the recipe's Planaria), on
the same validation seeds and training-length episodes as the run's own validation, paired.

    python scripts/pair_validation.py relmas_out/train_gate_full \\
        relmas_out/train_gate_full/checkpoints/iter_000020 --seeds 3
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from relmas.cli.common import run_script
from relmas.rl.dagger import VALIDATION_FIRST_SEED, score_task
from relmas.rl.evaluate import paired_delta
from relmas.rl.recipe import Recipe
from relmas.rl.teacher import load_bases


def _bases(run: Path, recipe: Recipe) -> dict[tuple[str, str], str]:
    """Each pair's teacher base as a scheduler reference, as ``teacher.json`` names it (the
    recipe's Planaria for a pair it does not name, or without one)."""
    named = load_bases(run / "imitation")
    query = "&".join(f"{k}={v}" for k, v in sorted(recipe.planaria_params.items()))
    planaria = f"planaria?{query}" if query else "planaria"
    return {pair: named.get(pair) or planaria for pair in recipe.env_config().pairs()}


def _score(job: tuple[dict[str, Any], str, tuple[str, str], list[int]]) -> list[float]:
    recipe_data, ref, pair, seeds = job
    return score_task(recipe_data, ref, None, pair, seeds)


def _fmt(d: dict[str, float]) -> str:
    return f"{d['mean']:+.4f} +- {d['stderr']:.4f} ({d['wins']}/{d['losses']}/{d['ties']})"


def main() -> None:
    """Print one line per training pair, then the paired totals over every pair's episodes."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="the --out directory of relmas train")
    ap.add_argument("policy", type=Path, help="an exported policy of it (a round or checkpoint)")
    ap.add_argument("--against", default="rl:default", help="scheduler to pair with")
    ap.add_argument("--seeds", type=int, default=3, help="validation seeds 5000.. per pair")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = ap.parse_args()
    meta = json.loads((args.policy / "policy.json").read_text(encoding="utf-8"))
    recipe = Recipe.load(meta["recipe"], f"{args.policy}/policy.json")
    data, bases = recipe.as_mapping(), _bases(args.run, recipe)
    seeds = list(range(VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + args.seeds))
    refs = (f"rl:{args.policy}", args.against)
    jobs = [(data, ref, pair, seeds) for pair in bases for ref in (*refs, bases[pair])]
    with ProcessPoolExecutor(max(args.jobs, 1)) as pool:
        scores = iter(list(pool.map(_score, jobs)))
    totals: dict[str, list[float]] = {"against": [], "base": []}
    for (scenario, chip), base in bases.items():
        ours, other, by_base = next(scores), next(scores), next(scores)
        totals["against"] += list(np.subtract(ours, other))
        totals["base"] += list(np.subtract(ours, by_base))
        print(
            f"{scenario}/{chip}: policy {np.mean(ours):.4f}  {args.against} {np.mean(other):.4f}"
            f"  base {base} {np.mean(by_base):.4f}  | policy - {args.against} "
            f"{np.mean(ours) - np.mean(other):+.4f}  policy - base "
            f"{np.mean(ours) - np.mean(by_base):+.4f}"
        )
    zeros = [0.0] * len(totals["base"])
    print(f"all pairs: policy - {args.against} {_fmt(paired_delta(totals['against'], zeros))}")
    print(f"all pairs: policy - base {_fmt(paired_delta(totals['base'], zeros))}")


if __name__ == "__main__":
    run_script(main, "pair_validation.py")
