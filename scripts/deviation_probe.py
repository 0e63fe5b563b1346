"""Can the student see where the teacher departs from its base? A measured answer, one pair.

Why: the shipped policy ties the best heuristic on ``heavy`` and ``medium`` while its rollout
teacher gains 2-3 points there, and the DAgger log shows the student matching few of the states
where the teacher departs from its base (``deviation_accuracy``). Two explanations predict
different things. If the student *underfits* (too few such states, too little weight), more
weight buys right departures at a modest cost elsewhere. If the observation *aliases* them
(the same features, the base's action right in most such states), more weight buys the
departures only together with many more wrong ones, and the policy gets worse. This probe
measures which, on one (scenario, chip) pair:

1. The teacher (``rollout`` over ``--base``) acts and labels ``--episodes`` training episodes
   plus ``--test-episodes`` more (training seeds 0.., ``episode_requests`` of
   ``tune_configs/train_default.yaml``); the labelled arrays are cached in ``--out``.
2. For each deviation weight, a fresh student (the recipe's pair head) is fitted on the first
   episodes with the recipe's supervised settings, then measured on the held-out episodes:
   how many departures it gets right, and on how many other states it leaves the teacher's
   label set, against its departures that are right.
3. Each student runs full (untruncated) episodes on validation seeds 5000.. against the base,
   paired, and the decisions that waited with a unit free are counted on the first of them (a
   policy's own mistakes lead it to states the teacher never visited, where they compound).

    python scripts/deviation_probe.py --scenario heavy --hardware 2s2e --episodes 40 \\
        --test-episodes 7 --weights 20,50,200 --validation-seeds 10
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from relmas.cli.common import float_list, positive_int, run_script
from relmas.env.multi_accel import MultiAccelEnv
from relmas.env.sources import make_source
from relmas.rl.dagger import VALIDATION_FIRST_SEED, merge
from relmas.rl.evaluate import paired_delta, run_scheduler
from relmas.rl.export import export_module
from relmas.rl.labels import collect_episode
from relmas.rl.policy_scheduler import load_policy_scheduler
from relmas.rl.recipe import Recipe
from relmas.rl.teacher import teacher_params
from relmas.schedulers.registry import make_scheduler


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module doc as written, and every option's default in ``--help``."""


RECIPE = Path(__file__).resolve().parents[1] / "tune_configs" / "train_default.yaml"


def _recipe(args: argparse.Namespace) -> Recipe:
    data = yaml.safe_load(RECIPE.read_text())
    data.pop("out", None)
    data.update(scenario=args.scenario, hardware=args.hardware)
    if args.epochs:
        data["imitation"] = {**data["imitation"], "epochs": args.epochs}
    return Recipe.model_validate(data)


def _labels(args: argparse.Namespace, recipe: Recipe, seed: int) -> dict[str, np.ndarray]:
    """One teacher-labelled episode (teacher acting), from the cache if there."""
    imitation = recipe.imitation
    assert imitation is not None
    # the cache key names everything the labels depend on, so another base never reads them
    made_by = f"{args.base}|{recipe.episode_requests}|{imitation.keep_plain}|{recipe.gamma}"
    tag = hashlib.sha256(made_by.encode()).hexdigest()[:10]
    path = args.out / f"labels_{args.scenario}_{args.hardware}_{tag}_{seed}.npz"
    if path.is_file():
        with np.load(path) as data:
            return dict(data)
    teacher = make_scheduler(imitation.teacher, teacher_params(imitation, args.base))
    env = MultiAccelEnv(recipe.env_config().as_mapping())
    out = collect_episode(
        env, teacher, None, pair=(args.scenario, args.hardware), episode_seed=seed, beta=1.0,
        keep_plain=imitation.keep_plain, seed=seed, gamma=recipe.gamma,
    )  # fmt: skip
    arrays = out.arrays()
    np.savez(path, **arrays)
    return arrays


def _held_out(module: Any, data: dict[str, np.ndarray]) -> dict[str, float]:
    """Right departures, and wrong actions elsewhere, of the fitted student on ``data``."""
    import torch

    from relmas.rl.imitate import actor_logits

    batch = {k: torch.from_numpy(data[k]) for k in ("obs", "mask", "prior")}
    with torch.no_grad():
        action = actor_logits(module, batch).argmax(dim=1).numpy()
    hit = data["label"][np.arange(len(action)), action]
    dev = data["deviates"]
    return {
        "departures": int(dev.sum()),
        "departures_right": int((hit & dev).sum()),
        "other_states": int((~dev).sum()),
        "other_states_wrong": int((~hit & ~dev).sum()),
    }


def _fit(args: argparse.Namespace, recipe: Recipe, weight: float, train: Any) -> Any:
    from relmas.rl.imitate import build_module, fit
    from relmas.rl.trainer import module_config

    imitation = recipe.imitation
    assert imitation is not None
    env = MultiAccelEnv(recipe.env_config().as_mapping())
    module = build_module(env, module_config(recipe), recipe.seed)
    fit(
        module, train, epochs=imitation.epochs, lr=imitation.lr, minibatch=imitation.minibatch,
        informative_weight=imitation.informative_weight, seed=recipe.seed,
        deviation_weight=weight,
    )  # fmt: skip
    return module


def _waits(source: Any, sched: Any, seed: int) -> int:
    """Decisions that waited with a unit free, over one full episode (how often a policy idles
    a unit on its own trajectory, where its mistakes compound)."""
    sim = source.make_simulator(seed, bandwidth_policy=sched.bandwidth_policy)
    sched.reset(sim, np.random.default_rng(seed))
    waits = 0
    while sim.advance():
        decisions = sched.decide(sim)
        waits += not decisions
        sim.apply(decisions)
    return waits


def _student(args: argparse.Namespace, recipe: Recipe, weight: float, data: Any) -> dict:
    """Fit, export and measure one student; its result row."""
    from relmas.rl.trainer import policy_meta

    train, test, source, seeds, ref = data
    module = _fit(args, recipe, weight, train)
    policy = args.out / f"student_w{weight:g}{'_nowait' if args.drop_wait_departures else ''}"
    export_module(module, policy, {**policy_meta(recipe, 0), "imitation_round": 0})
    m = run_scheduler(source, load_policy_scheduler(policy), seeds)
    return {
        "deviation_weight": weight,
        **_held_out(module, test),
        "waits_first_seed": _waits(source, load_policy_scheduler(policy), seeds[0]),
        "validation": paired_delta(m["sla_rate_per_seed"], ref["sla_rate_per_seed"]),
        "energy_ratio": m["energy_per_inference_j"] / ref["energy_per_inference_j"],
    }


def _line(args: argparse.Namespace, row: dict) -> str:
    d = row["validation"]
    return (
        f"weight {row['deviation_weight']:g}: held-out departures right "
        f"{row['departures_right']}/{row['departures']}, other states wrong "
        f"{row['other_states_wrong']}/{row['other_states']}; validation SLA vs {args.base} "
        f"{d['mean']:+.4f} +- {d['stderr']:.4f} (W/L/T {d['wins']}/{d['losses']}/{d['ties']}); "
        f"waits on seed {VALIDATION_FIRST_SEED}: {row['waits_first_seed']}"
    )


def main() -> None:
    """Label, fit one student per weight, print one line per student."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    ap.add_argument("--scenario", default="heavy", help="scenario preset")
    ap.add_argument("--hardware", default="2s2e", help="chip")
    ap.add_argument("--base", default="planaria?priority_exponent=0.5", help="the teacher's base")
    ap.add_argument("--episodes", type=positive_int, default=40, help="training episodes")
    ap.add_argument("--test-episodes", type=positive_int, default=7, help="held-out episodes")
    ap.add_argument("--weights", type=float_list, default="20,200", help="departure weights")
    ap.add_argument("--epochs", type=int, default=0, help="supervised passes (0: the recipe's)")
    ap.add_argument("--validation-seeds", type=positive_int, default=6, help="seeds 5000..")
    ap.add_argument(
        "--drop-wait-departures",
        action="store_true",
        help="train without the states where the teacher's departure is a wait",
    )
    ap.add_argument("--out", type=Path, default=Path("relmas_out/deviation_probe"), help="output")
    args = ap.parse_args()
    recipe = _recipe(args)  # bad input fails here and below, before anything is written
    full = recipe.model_copy(update={"episode_requests": 0})  # validate on full episodes
    source = make_source(full.env_config().single(args.scenario, args.hardware))
    make_scheduler(args.base)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    episodes = [_labels(args, recipe, s) for s in range(args.episodes + args.test_episodes)]
    train, test = merge(episodes[: args.episodes]), merge(episodes[args.episodes :])
    if args.drop_wait_departures:  # are the reorderings learnable without the waits?
        waits = train["deviates"] & train["label"][:, -1]  # the last action is "wait"
        train = {k: v[~waits] for k, v in train.items()}
    print(
        f"labelled {args.episodes}+{args.test_episodes} episodes in "
        f"{time.perf_counter() - t0:.0f} s: {len(train['obs'])} training states "
        f"({int(train['deviates'].sum())} departures)",
        flush=True,
    )
    seeds = list(range(VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + args.validation_seeds))
    ref = run_scheduler(source, make_scheduler(args.base), seeds)
    base_waits = _waits(source, make_scheduler(args.base), seeds[0])
    print(f"{args.base}: validation SLA {ref['sla_rate']:.4f}; waits on seed {seeds[0]}: "
          f"{base_waits}", flush=True)  # fmt: skip
    rows = []
    for weight in args.weights:
        rows.append(_student(args, recipe, weight, (train, test, source, seeds, ref)))
        print(_line(args, rows[-1]), flush=True)
    result = {"args": {**vars(args), "out": str(args.out)}, "base_sla": ref["sla_rate"],
              "base_waits_first_seed": base_waits}  # fmt: skip
    name = "results_nowait.json" if args.drop_wait_departures else "results.json"
    (args.out / name).write_text(json.dumps({**result, "rows": rows}, indent=2))


if __name__ == "__main__":
    run_script(main, "deviation_probe.py")
