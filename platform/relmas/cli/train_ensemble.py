"""``relmas train`` with ``ensemble_seeds``: one run of the recipe per seed, then their ensemble.

Why one command: a seed of a gated recipe is a lottery on the scenarios it was not trained on
(docs/rl.md, "An ensemble of seeds"), and the mean of several runs' probabilities is not. The
recipe file names the seeds, so the ensemble is reproduced by ``relmas train --config FILE``
like any single run. Each seed trains into ``OUT/seed_N`` exactly as ``--seed N --out
OUT/seed_N`` would (its own Ray session and MLflow run); then ``OUT/ensemble.json`` makes
``OUT`` the policy (``rl:OUT``). With ``--resume`` a finished seed is kept, an interrupted one
continues from its newest checkpoint and a missing one starts.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from relmas.cli.console import PREFIX
from relmas.errors import UserError
from relmas.rl.ensemble import write_ensemble_in_place
from relmas.rl.resume import checkpoint_iteration, latest_checkpoint

if TYPE_CHECKING:
    from relmas.cli.train import TrainJob


def _finished(out: Path, iterations: int) -> bool:
    """A seed's run reached its last iteration and exported its policy."""
    ckpt = latest_checkpoint(out)
    done = ckpt is not None and checkpoint_iteration(ckpt) >= iterations
    return done and (out / "policy.json").is_file()


def train_ensemble(
    job: TrainJob,
    args: argparse.Namespace,
    train_job: Callable[[TrainJob, argparse.Namespace], int],
) -> int:
    """Train every seed of ``job.ensemble_seeds`` with ``train_job``, then write the ensemble."""
    if getattr(args, "init", None) is not None:
        fix = "drop --init, or train one seed (--seed N, no ensemble_seeds)"
        raise UserError("--init", "starts one run from one imitation round", fix)
    assert job.out is not None and job.ensemble_seeds is not None
    names = [f"seed_{seed}" for seed in job.ensemble_seeds]
    resuming = bool(getattr(args, "resume", False))
    for i, (seed, name) in enumerate(zip(job.ensemble_seeds, names, strict=True)):
        seed_out = job.out / name
        sub = job.model_copy(update={"seed": seed, "ensemble_seeds": None, "out": seed_out})
        sub_args = copy.copy(args)
        if resuming and _finished(seed_out, sub.iterations):
            print(f"{PREFIX} {name}: already trained, kept", file=sys.stderr, flush=True)
            continue
        sub_args.resume = resuming and latest_checkpoint(seed_out) is not None
        print(f"{PREFIX} ensemble member {i + 1} of {len(names)}: seed {seed} -> {seed_out}",
              file=sys.stderr, flush=True)  # fmt: skip
        train_job(sub, sub_args)
    out = write_ensemble_in_place(job.out, names)
    print(f"policy: {out.resolve()} (an ensemble of {len(names)} runs; use rl:{job.out})")
    return 0
