"""DAgger: label the states the student visits with the teacher's choice, aggregate, retrain.

The expensive part is the labelling (the rollout teacher simulates ahead at every decision, a
few milliseconds each), and it is embarrassingly parallel: every episode is a Ray task, so it
scales with the cores of this machine or of a cluster (``relmas train --address``). The student
each task acts with travels as its exported files (``policy.npz`` + ``policy.json``, a few KB),
so a worker needs neither torch nor the learner.

Output (``<out>/imitation/``): ``round_NN/`` with each round's exported student and
``rounds.jsonl`` with its data counts, fit statistics and validation SLA; the best round on the
validation seeds (5000+) seeds the PPO fine-tuning.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from relmas.rl.recipe import Imitation, Recipe

VALIDATION_FIRST_SEED = 5000


@dataclass(frozen=True)
class RoundStats:
    """One DAgger round, as logged (``rounds.jsonl``) and shown."""

    round: int
    states: int
    kept: int
    informative: int
    unmappable: int
    labelled_states_per_s: float
    loss: float
    accuracy: float
    informative_accuracy: float
    deviation_accuracy: float
    value_explained: float
    validation_sla: float
    base_sla: float
    policy: str


def _student_files(policy_dir: Path | None) -> dict[str, bytes] | None:
    if policy_dir is None:
        return None
    return {name: (policy_dir / name).read_bytes() for name in ("policy.npz", "policy.json")}


def label_task(
    recipe_data: dict[str, Any],
    student: dict[str, bytes] | None,
    pair: tuple[str, str],
    base: str,
    episode_seed: int,
    beta: float,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """One labelled episode (runs in a Ray worker): arrays and counts."""
    from relmas.env.multi_accel import MultiAccelEnv
    from relmas.rl.labels import collect_episode
    from relmas.rl.policy_scheduler import load_one_policy
    from relmas.rl.teacher import teacher_params
    from relmas.schedulers.registry import make_scheduler

    recipe = Recipe.model_validate(recipe_data)
    imitation = imitation_of(recipe)
    env = MultiAccelEnv(recipe.env_config())
    teacher = make_scheduler(imitation.teacher, teacher_params(imitation, base))
    with tempfile.TemporaryDirectory() as tmp:
        policy = None
        if student is not None:
            for name, blob in student.items():
                (Path(tmp) / name).write_bytes(blob)
            policy = load_one_policy(tmp)
        out = collect_episode(env, teacher, policy, pair=pair, episode_seed=episode_seed,
                              beta=beta, keep_plain=imitation.keep_plain, seed=seed,
                              gamma=recipe.gamma)  # fmt: skip
    return out.arrays(), out.counts


def pair_schedule(weights: list[float], n: int) -> list[int]:
    """The first ``n`` picks of a smooth weighted round robin over pairs of these weights.

    Why this order: every prefix gives each pair a share close to its weight (so a short run
    still sees the mix as weighted), and equal weights reduce to plain turns 0, 1, 2, ...
    (the order before weights existed, so an unweighted recipe labels the same episodes).
    """
    total = sum(weights)
    current = [0.0] * len(weights)
    picks = []
    for _ in range(n):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= total
        picks.append(best)
    return picks


def episodes_of(recipe: Recipe, round_no: int) -> list[tuple[tuple[str, str], int]]:
    """The (pair, training seed) of each episode of a round: pairs in (weighted) turn, seeds
    advancing, so every round sees new traces and every pair its share of them."""
    imitation = imitation_of(recipe)
    pairs = recipe.env_config().pairs()
    weights = [imitation.scenario_weights.get(s, 1.0) for s, _ in pairs]
    first = round_no * imitation.episodes
    picks = pair_schedule(weights, first + imitation.episodes)[first:]
    return [(pairs[p], (first + i) % recipe.train_seeds) for i, p in enumerate(picks, first)]


def merge(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Row-concatenate labelled arrays (empty parts skipped)."""
    parts = [p for p in parts if p]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def run_round(
    recipe: Recipe,
    round_no: int,
    student_dir: Path | None,
    bases: dict[tuple[str, str], str],
    on_episode: Callable[[dict[str, int]], None],
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Label one round's episodes in parallel Ray tasks; arrays and summed counts."""
    import ray

    imitation = imitation_of(recipe)
    task = ray.remote(num_cpus=1)(label_task)
    student = ray.put(_student_files(student_dir))
    beta = 1.0 if student_dir is None else imitation.beta
    data = recipe.as_mapping()
    seed0 = recipe.seed * 100_003 + round_no * 997
    futures = [
        task.remote(data, student, pair, bases[pair], seed, beta, seed0 + i)
        for i, (pair, seed) in enumerate(episodes_of(recipe, round_no))
    ]
    parts, counts = in_submission_order(ray, futures, on_episode)
    return merge(parts), counts


def in_submission_order(
    ray: Any, futures: list[Any], on_episode: Callable[[dict[str, int]], None]
) -> tuple[list[dict[str, np.ndarray]], dict[str, int]]:
    """Each labelled episode as it finishes (for the progress bar), kept in submission order.

    Why: the fit draws its minibatches by row index, so rows merged in completion order (which
    depends on the machine's load) made two runs with the same seed fit different students.
    """
    slot = {ref: i for i, ref in enumerate(futures)}
    parts: list[dict[str, np.ndarray]] = [{} for _ in futures]
    counts = dict.fromkeys(("states", "informative", "plain", "unmappable"), 0)
    pending = list(futures)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        arrays, c = ray.get(done[0])
        parts[slot[done[0]]] = arrays
        for key, value in c.items():
            counts[key] = counts.get(key, 0) + value
        on_episode(c)
    return parts, counts


def score_task(
    recipe_data: dict[str, Any],
    ref: str,
    params: dict[str, Any] | None,
    pair: tuple[str, str],
    seeds: list[int],
) -> list[float]:
    """Per-seed SLA rates of one scheduler on one training pair (a Ray task): how a teacher's
    base is chosen and how a round's student and its reference are validated."""
    from relmas.env.sources import make_source
    from relmas.rl.evaluate import run_scheduler
    from relmas.schedulers.registry import make_scheduler

    source = make_source(Recipe.model_validate(recipe_data).env_config().single(*pair))
    return list(run_scheduler(source, make_scheduler(ref, params), seeds)["sla_rate_per_seed"])


def score_on_pairs(
    recipe: Recipe,
    policies: list[Path],
    refs: dict[tuple[str, str], tuple[str, Any]],
    seeds: list[int],
) -> tuple[list[list[float]], list[float]]:
    """Per exported policy, then for the pairs' reference heuristics (``refs``: pair -> name,
    params): the SLA rate of every (pair, seed) episode, in the same order, as Ray tasks (one
    episode each). How a round's student and a run's checkpoints are validated."""
    import ray

    task = ray.remote(num_cpus=1)(score_task)
    data = recipe.as_mapping()
    jobs = [(pair, s) for pair in refs for s in seeds]
    rows = [[task.remote(data, f"rl:{p}", None, pair, [s]) for pair, s in jobs] for p in policies]
    base = [task.remote(data, *refs[pair], pair, [s]) for pair, s in jobs]

    def flat(pending: list[Any]) -> list[float]:
        return [x for per_seed in ray.get(pending) for x in per_seed]

    return [flat(row) for row in rows], flat(base)


def write_round(out: Path, stats: RoundStats) -> None:
    """Append one line to ``rounds.jsonl``."""
    with (out / "rounds.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(stats)) + "\n")


def imitation_of(recipe: Recipe) -> Imitation:
    """The recipe's imitation section (an error if it has none)."""
    if recipe.imitation is None:
        raise ValueError("the recipe has no imitation section")
    return recipe.imitation
