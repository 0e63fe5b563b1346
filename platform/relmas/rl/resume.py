"""Continuing a ``relmas train`` run from its newest checkpoint (``relmas train --resume``).

Why a module of its own: finding the checkpoint, refusing one of another env or network before
RLlib fails deep inside restoring weights, and rewinding ``metrics.jsonl`` to the checkpoint's
iteration (iterations after it are trained again) need no Ray, so they run before Ray starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from relmas.errors import UserError

if TYPE_CHECKING:
    from relmas.cli.train_options import TrainOptions
    from relmas.rl.trainer import TrainSettings


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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, path)
    return steps


def resume_point(settings: TrainSettings, opts: TrainOptions) -> Path:
    """The checkpoint ``--resume`` continues from, after checking it fits these settings.

    A checkpoint of another env or network cannot be continued (RLlib would fail deep inside
    restoring weights), and one at or past ``--iterations`` has nothing left to do.
    """
    assert opts.out is not None
    ckpt = latest_checkpoint(opts.out.resolve())
    if ckpt is None:
        raise UserError(
            "--resume", f"no checkpoint under {opts.out}/checkpoints", "drop --resume to start"
        )
    saved = json.loads((ckpt / "policy.json").read_text()).get("settings", {})
    for key in ("env_config", "model_config"):
        if json.dumps(saved.get(key), sort_keys=True) != json.dumps(
            getattr(settings, key), sort_keys=True, default=str
        ):
            raise UserError(
                "--resume",
                f"{ckpt.name} was trained with another {key}",
                "resume with the same --config and flags, or train into a new --out",
            )
    done = checkpoint_iteration(ckpt)
    if done >= opts.iterations:
        raise UserError(
            "--iterations", f"{ckpt.name} already reached {done}", f"pass more than {done}"
        )
    return ckpt
