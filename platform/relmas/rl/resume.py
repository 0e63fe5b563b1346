"""Continuing a ``relmas train`` run from its newest checkpoint (``relmas train --resume``).

Why a module of its own: finding the checkpoint, refusing one of another env or network before
RLlib fails deep inside restoring weights, and rewinding ``metrics.jsonl`` to the checkpoint's
iteration (iterations after it are trained again) need no Ray, so they run before Ray starts.
"""

from __future__ import annotations

import json
from pathlib import Path

from relmas.errors import UserError
from relmas.files import write_atomic
from relmas.rl.recipe import Recipe


def checkpoint_iteration(path: Path) -> int:
    """The iteration number of a ``checkpoints/iter_NNNNNN`` directory."""
    return int(path.name.removeprefix("iter_"))


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint under ``out_dir/checkpoints`` (staging dirs excluded)."""
    found = [
        p
        for p in (out_dir / "checkpoints").glob("iter_*")
        if p.name.removeprefix("iter_").isdigit() and (p / "policy.json").is_file()
    ]
    return max(found, key=checkpoint_iteration, default=None)


def rewind_metrics(out_dir: Path, iteration: int) -> int:
    """Keep ``metrics.jsonl`` rows up to ``iteration`` and return its env steps (0 if absent).

    Iterations after the checkpoint are trained again on resume; their old rows would otherwise
    appear twice. Rewritten to a temporary file and renamed, like every other output.
    """
    path = out_dir / "metrics.jsonl"
    if not path.is_file():
        return 0
    kept, steps = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if int(row.get("iteration", 0)) <= iteration:
            kept.append(line)
            steps = int(row.get("env_steps", steps))
    write_atomic(path, "".join(f"{line}\n" for line in kept))
    return steps


def resume_point(recipe: Recipe, out: Path) -> Path:
    """The checkpoint ``--resume`` continues from, after checking it fits this recipe.

    A checkpoint of another env or network cannot be continued (RLlib would fail deep inside
    restoring weights), and one at or past ``iterations`` has nothing left to do. Other recipe
    changes (learning rate, batch size, more iterations) are allowed, as before.
    """
    from relmas.rl.trainer import module_config  # lazy: it imports the env and RLlib glue

    ckpt = latest_checkpoint(out.resolve())
    if ckpt is None:
        raise UserError("--resume", f"no checkpoint under {out}/checkpoints", "drop --resume")
    saved = Recipe.load(json.loads((ckpt / "policy.json").read_text()).get("recipe", {}))
    for what, ours, theirs in (
        ("env config", recipe.env_config().as_mapping(), saved.env_config().as_mapping()),
        ("network", module_config(recipe), module_config(saved)),
    ):
        if json.dumps(ours, sort_keys=True) != json.dumps(theirs, sort_keys=True):
            raise UserError(
                "--resume",
                f"{ckpt.name} was trained with another {what}",
                "resume with the same --config and flags, or train into a new --out",
            )
    done = checkpoint_iteration(ckpt)
    if done >= recipe.iterations:
        raise UserError(
            "--iterations", f"{ckpt.name} already reached {done}", f"pass more than {done}"
        )
    return ckpt
