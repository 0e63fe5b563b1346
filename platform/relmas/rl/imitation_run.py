"""The DAgger rounds end to end: label, aggregate, fit, export, validate; keep the best round.

Validation scores each round's exported student and the teacher's base heuristic on the same
validation seeds (5000+, never trained on, never the held-out 10000+) of every training pair,
paired, so the best round is chosen on data the rounds did not see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from relmas.errors import UserError
from relmas.rl.dagger import (
    VALIDATION_FIRST_SEED,
    RoundStats,
    imitation_of,
    merge,
    run_round,
    score_on_pairs,
    write_round,
)
from relmas.rl.recipe import Imitation, Recipe


def reference_of(imitation: Imitation, base: str) -> tuple[str, dict[str, Any]]:
    """The heuristic a student must beat on a pair: the pair's teacher base (a lookahead
    teacher's resolved base heuristic and parameters), else the teacher itself."""
    from relmas.rl.teacher import teacher_params
    from relmas.schedulers.registry import make_scheduler

    teacher = make_scheduler(imitation.teacher, teacher_params(imitation, base))
    new_base = getattr(teacher, "new_base", None)
    if new_base is None:
        return imitation.teacher, dict(imitation.teacher_params)
    chosen = new_base()
    return chosen.name, chosen.params.model_dump()


def validate(
    recipe: Recipe, policy_dir: Path, bases: dict[tuple[str, str], str]
) -> tuple[float, float]:
    """(student, reference) mean SLA over the validation seeds of every training pair; the
    reference of a pair is its teacher's base."""
    imitation = imitation_of(recipe)
    first = VALIDATION_FIRST_SEED
    seeds = list(range(first, first + imitation.validation_seeds))
    refs = {pair: reference_of(imitation, bases[pair]) for pair in recipe.env_config().pairs()}
    (student,), base = score_on_pairs(recipe, [policy_dir], refs, seeds)
    return float(np.mean(student)), float(np.mean(base))


FIT_OVERHEAD_BYTES = 512 * 2**20  # torch, a fit's minibatches and chunks (`relmas bench imitate`)


def available_bytes() -> int | None:
    """Memory the kernel can still give (``MemAvailable`` of ``/proc/meminfo``; None elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_room(round_no: int, held: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> None:
    """Refuse to merge a round whose aggregate would not fit in memory, with a one-line error.

    Why: merging copies the old and the new labels into one array set, and the fit runs on it;
    past the machine's memory the kernel kills the run with no message at all (a 168-episode
    run once died so, before the fit measured itself in chunks)."""
    free = available_bytes()
    need = sum(a.nbytes for a in (*held.values(), *new.values())) + FIT_OVERHEAD_BYTES
    if free is not None and need > free:
        raise UserError(
            "imitation.episodes",
            f"round {round_no}'s labelled states need about {need / 2**30:.1f} GiB more memory "
            f"to merge and fit, and {free / 2**30:.1f} GiB is available",
            "lower imitation.episodes, rounds or keep_plain, or use a machine with more memory",
        )


def train_imitation(
    recipe: Recipe,
    out_dir: Path,
    on_episode: Callable[[dict[str, int]], None] = lambda c: None,
    on_round: Callable[[RoundStats], None] = lambda s: None,
) -> tuple[Path, list[RoundStats]]:
    """All DAgger rounds; returns the best round's policy directory and every round's stats."""
    from relmas.env.multi_accel import MultiAccelEnv
    from relmas.rl.export import export_module
    from relmas.rl.imitate import build_module, fit
    from relmas.rl.teacher import choose_bases, save_bases
    from relmas.rl.trainer import module_config, policy_meta

    imitation = imitation_of(recipe)
    root = out_dir / "imitation"
    root.mkdir(parents=True, exist_ok=True)
    bases = choose_bases(recipe)
    save_bases(root, bases)
    module = build_module(MultiAccelEnv(recipe.env_config()), module_config(recipe), recipe.seed)
    data: dict[str, np.ndarray] = {}
    history: list[RoundStats] = []
    student: Path | None = None
    for r in range(imitation.rounds):
        t0 = time.perf_counter()
        new, counts = run_round(recipe, r, student, bases, on_episode)
        rate = counts["states"] / max(time.perf_counter() - t0, 1e-9)
        check_room(r, data, new)
        data = merge([data, new])
        fitted = fit(
            module,
            data,
            epochs=imitation.epochs,
            lr=imitation.lr,
            minibatch=imitation.minibatch,
            informative_weight=imitation.informative_weight,
            seed=recipe.seed + r,
            deviation_weight=imitation.deviation_weight,
        )
        student = root / f"round_{r:02d}"
        export_module(module, student, {**policy_meta(recipe, 0), "imitation_round": r})
        module.save_to_path(str((student / "module").resolve()))
        val, base = validate(recipe, student, bases)
        stats = RoundStats(
            r, counts["states"], fitted.states, fitted.informative, counts["unmappable"], rate,
            fitted.loss, fitted.accuracy, fitted.informative_accuracy,
            fitted.deviation_accuracy, fitted.value_explained,
            val, base, str(student),
        )  # fmt: skip
        write_round(root, stats)
        history.append(stats)
        on_round(stats)
    best = max(history, key=lambda s: (s.validation_sla, s.round))
    return Path(best.policy), history
