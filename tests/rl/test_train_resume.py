"""``relmas train --resume``: continue from the newest checkpoint, refuse what cannot continue."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.rl.test_rl_smoke import TINY, _parse

from relmas.errors import UserError

pytestmark = pytest.mark.slow


def _iterations(out: Path) -> list[int]:
    return [json.loads(x)["iteration"] for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_resume_continues_after_the_newest_checkpoint(ray_local: Any, tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["train", *TINY, "--checkpoint-every", "2", "--out", str(out)]
    args = _parse([*base, "--iterations", "3"])
    assert args.func(args) == 0
    assert _iterations(out) == [1, 2, 3]
    # as if killed after iteration 3: only iter_2 is a complete checkpoint
    shutil.rmtree(out / "checkpoints" / "iter_000003")
    args = _parse([*base, "--iterations", "4", "--resume"])
    assert args.func(args) == 0
    assert _iterations(out) == [1, 2, 3, 4], "iteration 3 is re-trained, not logged twice"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(steps) and steps[2] > steps[1], "RLlib's counters were restored"
    assert (out / "checkpoints" / "iter_000004" / "policy.npz").is_file()
    meta = json.loads((out / "policy.json").read_text())
    assert meta["iterations"] == 4


def test_resume_refusals_name_the_fix(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["train", *TINY, "--out", str(out)]
    with pytest.raises(UserError, match="--resume: no checkpoint"):
        args = _parse([*base, "--resume"])
        args.func(args)
    ckpt = out / "checkpoints" / "iter_000002"
    ckpt.mkdir(parents=True)
    from relmas.cli.train import recipe_of, resolve_job

    args = _parse([*base, "--resume", "--iterations", "2"])
    recipe = recipe_of(resolve_job(args))
    other = recipe.model_copy(update={"top_k": recipe.top_k + 1})
    (ckpt / "policy.json").write_text(json.dumps({"recipe": other.as_mapping()}))
    with pytest.raises(UserError, match="another env config"):
        args5 = _parse([*base, "--resume", "--iterations", "5"])
        args5.func(args5)
    (ckpt / "policy.json").write_text(json.dumps({"recipe": recipe.as_mapping()}))
    with pytest.raises(UserError, match="--iterations: iter_000002 already reached 2"):
        args.func(args)
