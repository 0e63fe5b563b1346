"""Which teacher labels which (scenario, chip) pair: a lookahead over that pair's best heuristic.

Why per pair: the rollout's base heuristic matters as much as its lookahead (on ``tight`` a
Planaria-based rollout met 0.575 of the deadlines of one seed, an SJF-based one 0.690), and the
best heuristic differs between regimes (Planaria on heavy, SJF/Dysta-like orders on tight). With
``teacher_params: {base: auto}`` each training pair gets, as its rollout base, the heuristic with
the best SLA on a few of its *training* seeds (never validation or held-out ones: ``base_seeds``
of them, training-length episodes unless ``base_full_episodes``), chosen once before labelling
starts. The choice is recorded with the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from relmas.files import dumps, write_atomic
from relmas.rl.dagger import imitation_of, score_task
from relmas.rl.recipe import Imitation, Recipe

# Heuristics a base is chosen from: the orderings whose top picks the env offers as candidates
# (relmas.env.candidates.ORDERINGS, with Planaria in the recipe's variant and the paper's), so
# the student can express every action of its teacher. Dysta and CD-MSA, the best heuristics on
# some light and tight pairs, are left out: with them as bases about half the labelled states
# had a teacher action outside the candidate set (a first run: 112k of 232k states).
BASE_CANDIDATES = (
    "planaria?priority_exponent=0.5",
    "planaria",
    "sjf",
    "edf",
    "least-laxity",
)


def choose_bases(recipe: Recipe) -> dict[tuple[str, str], str]:
    """Per training pair, the teacher's base: ``auto`` resolved on training seeds, else the
    configured one (the same for every pair)."""
    import ray

    imitation = imitation_of(recipe)
    pairs = recipe.env_config().pairs()
    base = imitation.teacher_params.get("base")
    if base != "auto":
        return dict.fromkeys(pairs, "")
    task = ray.remote(num_cpus=1)(score_task)
    data, seeds = selection_episodes(recipe)
    scores = {
        (p, ref): task.remote(data, ref, None, p, seeds) for p in pairs for ref in BASE_CANDIDATES
    }
    done = {key: float(np.mean(ray.get(ref))) for key, ref in scores.items()}
    return {p: max(BASE_CANDIDATES, key=lambda ref, p=p: done[(p, ref)]) for p in pairs}


BASES_FILE = "teacher.json"


def save_bases(root: Path, bases: dict[tuple[str, str], str]) -> None:
    """Record each pair's chosen base in ``<root>/teacher.json`` (keys ``scenario/chip``)."""
    write_atomic(root / BASES_FILE, dumps({f"{s}/{h}": b for (s, h), b in bases.items()}))


def load_bases(root: Path) -> dict[tuple[str, str], str]:
    """The bases :func:`save_bases` recorded under ``root`` (empty without the file)."""
    path = root / BASES_FILE
    if not path.is_file():
        return {}
    out: dict[tuple[str, str], str] = {}
    for key, base in json.loads(path.read_text(encoding="utf-8")).items():
        scenario, chip = key.split("/", 1)
        out[(scenario, chip)] = base
    return out


def selection_episodes(recipe: Recipe) -> tuple[dict[str, Any], list[int]]:
    """The recipe data and training seeds every base candidate is scored on."""
    imitation = imitation_of(recipe)
    data = recipe.as_mapping()
    if imitation.base_full_episodes:
        data["episode_requests"] = 0  # the scenario's whole trace
    return data, list(range(imitation.base_seeds))


def teacher_params(imitation: Imitation, base: str) -> dict[str, Any]:
    """The teacher's parameters with a pair's chosen base (``""``: as configured)."""
    from relmas.schedulers.registry import split_ref

    params = dict(imitation.teacher_params)
    if not base:
        return params
    name, base_params = split_ref(base)
    return {**params, "base": name, "base_params": base_params}
