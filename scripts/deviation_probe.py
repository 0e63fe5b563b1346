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

Variants (docs/rl.md, "Where it loses"): ``--wait-slack`` labels and fits with the env's
``wait_slack`` observation block, ``--outlook`` with the env's ``outlook`` block (Planaria's
own simulated future); ``--dagger-rounds N`` lets each student drive
``--dagger-episodes`` more episodes per round, labelled by the teacher, and refits it on
everything (DAgger with its own mistakes); ``--gate`` fits no student, only a classifier that
flags departure states, and reports how many it finds per share of decisions flagged.

    python scripts/deviation_probe.py --scenario heavy --hardware 2s2e --episodes 40 \\
        --test-episodes 7 --weights 20,50,200 --validation-seeds 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from probe_data import gated, held_out, labels, recipe_for
from relmas.cli.common import float_list, non_negative_int, positive_int, run_script
from relmas.env.multi_accel import MultiAccelEnv
from relmas.env.sources import make_source
from relmas.rl.dagger import VALIDATION_FIRST_SEED, merge
from relmas.rl.evaluate import paired_delta, run_scheduler
from relmas.rl.export import export_module
from relmas.rl.labels import collect_episode
from relmas.rl.policy_scheduler import load_one_policy, load_policy_scheduler
from relmas.rl.recipe import Recipe
from relmas.rl.teacher import teacher_params
from relmas.schedulers.registry import make_scheduler


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module doc as written, and every option's default in ``--help``."""


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


def _student_labels(args: argparse.Namespace, recipe: Recipe, policy: Path, round_no: int) -> Any:
    """DAgger: episodes the student acts in (its own mistakes included), labelled by the
    teacher (training seeds from 100 on, new ones each round)."""
    imitation = recipe.imitation
    assert imitation is not None
    teacher = make_scheduler(imitation.teacher, teacher_params(imitation, args.base))
    env, student = MultiAccelEnv(recipe.env_config().as_mapping()), load_one_policy(policy)
    first = 100 + round_no * args.dagger_episodes
    return merge([
        collect_episode(
            env, teacher, student, pair=(args.scenario, args.hardware), episode_seed=s, beta=0.0,
            keep_plain=imitation.keep_plain, seed=s, gamma=recipe.gamma,
        ).arrays()
        for s in range(first, first + args.dagger_episodes)
    ])  # fmt: skip


def _measure(args: argparse.Namespace, module: Any, policy: Path, data: Any) -> dict:
    """A fitted, exported student's held-out counts, validation result and waits."""
    _, test, source, seeds, ref = data
    m = run_scheduler(source, load_policy_scheduler(policy), seeds)
    return {
        **held_out(module, test),
        "waits_first_seed": _waits(source, load_policy_scheduler(policy), seeds[0]),
        "validation": paired_delta(m["sla_rate_per_seed"], ref["sla_rate_per_seed"]),
        "energy_ratio": m["energy_per_inference_j"] / ref["energy_per_inference_j"],
    }


def _variant(args: argparse.Namespace) -> str:
    """The suffix that keeps the outputs of the probe's variants apart."""
    return (
        "_nowait" * args.drop_wait_departures
        + "_waitslack" * args.wait_slack
        + "_outlook" * (args.outlook and not args.outlook_gate)
        + "_outlookgate" * args.outlook_gate
    )


def _student(args: argparse.Namespace, recipe: Recipe, weight: float, data: Any) -> dict:
    """Fit, export and measure one student (then refit after each DAgger round); its row."""
    from relmas.rl.trainer import policy_meta

    train = data[0]
    policy = args.out / f"{args.scenario}_{args.hardware}_student_w{weight:g}{_variant(args)}"
    row: dict[str, Any] = {"deviation_weight": weight, "dagger": []}
    for round_no in range(args.dagger_rounds + 1):
        if round_no:
            train = merge([train, _student_labels(args, recipe, policy, round_no - 1)])
        module = _fit(args, recipe, weight, train)
        export_module(module, policy, {**policy_meta(recipe, 0), "imitation_round": round_no})
        result = {"round": round_no, "states": len(train["obs"]),
                  **_measure(args, module, policy, data)}  # fmt: skip
        row["dagger"].append(result)
        if args.dagger_rounds:
            print(_line(args, {**row, **result}), flush=True)
    return {**row, **row["dagger"][-1]}


def _line(args: argparse.Namespace, row: dict) -> str:
    d = row["validation"]
    dagger = f" after DAgger round {row['round']}" if row["round"] else ""
    return (
        f"weight {row['deviation_weight']:g}{dagger}: held-out departures right "
        f"{row['departures_right']}/{row['departures']}, other states wrong "
        f"{row['other_states_wrong']}/{row['other_states']}; validation SLA vs {args.base} "
        f"{d['mean']:+.4f} +- {d['stderr']:.4f} (W/L/T {d['wins']}/{d['losses']}/{d['ties']}); "
        f"waits on seed {VALIDATION_FIRST_SEED}: {row['waits_first_seed']}"
    )


def _parse() -> argparse.Namespace:
    """The command line (every option's default in ``--help``)."""
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
    ap.add_argument(
        "--dagger-rounds",
        type=non_negative_int,
        default=0,
        help="rounds in which the student acts and the teacher labels its states",
    )
    ap.add_argument(
        "--dagger-episodes",
        type=positive_int,
        default=8,
        help="student-driven episodes labelled per DAgger round",
    )
    ap.add_argument(
        "--gate",
        action="store_true",
        help="fit only a departure gate (no students) and print its recall at fixed flag rates",
    )
    ap.add_argument(
        "--wait-slack",
        action="store_true",
        help="observe each candidate's slack after waiting for each unit type (env wait_slack)",
    )
    ap.add_argument(
        "--outlook",
        action="store_true",
        help="observe each candidate's slack where Planaria's own future ends (env outlook)",
    )
    ap.add_argument(
        "--outlook-gate",
        action="store_true",
        help="--outlook, and act as Planaria wherever its future loses nothing (env outlook_gate)",
    )
    ap.add_argument("--out", type=Path, default=Path("relmas_out/deviation_probe"), help="output")
    return ap.parse_args()


def main() -> None:
    """Label, then fit one student per weight (or a gate), print one line per result."""
    args = _parse()
    recipe = recipe_for(args)  # bad input fails here and below, before anything is written
    full = recipe.model_copy(update={"episode_requests": 0})  # validate on full episodes
    source = make_source(full.env_config().single(args.scenario, args.hardware))
    make_scheduler(args.base)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    episodes = [labels(args, recipe, s) for s in range(args.episodes + args.test_episodes)]
    train, test = merge(episodes[: args.episodes]), merge(episodes[args.episodes :])
    if recipe.outlook_gate:
        train, test = gated(recipe, train), gated(recipe, test)
    if args.drop_wait_departures:  # are the reorderings learnable without the waits?
        waits = train["deviates"] & train["label"][:, -1]  # the last action is "wait"
        train = {k: v[~waits] for k, v in train.items()}
    print(
        f"labelled {args.episodes}+{args.test_episodes} episodes in "
        f"{time.perf_counter() - t0:.0f} s: {len(train['obs'])} training states "
        f"({int(train['deviates'].sum())} departures)",
        flush=True,
    )
    if args.gate:
        _gate(args, recipe, train, test)
        return
    seeds = list(range(VALIDATION_FIRST_SEED, VALIDATION_FIRST_SEED + args.validation_seeds))
    ref = run_scheduler(source, make_scheduler(args.base), seeds)
    base_waits = _waits(source, make_scheduler(args.base), seeds[0])
    print(f"{args.base}: validation SLA {ref['sla_rate']:.4f}; waits on seed {seeds[0]}: "
          f"{base_waits}", flush=True)  # fmt: skip
    rows = []
    for weight in args.weights:
        rows.append(_student(args, recipe, weight, (train, test, source, seeds, ref)))
        if not args.dagger_rounds:
            print(_line(args, rows[-1]), flush=True)
    result = {"base_sla": ref["sla_rate"], "base_waits_first_seed": base_waits, "rows": rows}
    _write(args, "", result)


def _gate(args: argparse.Namespace, recipe: Recipe, train: Any, test: Any) -> None:
    """Can the departures at least be *found* cheaply? (scripts/probe_gate.py)"""
    from probe_gate import gate_recall

    assert recipe.imitation is not None
    gate = gate_recall(train, test, recipe.imitation.keep_plain, seed=recipe.seed)
    found = ", ".join(f"{float(r):.0%}: {v:.2f}" for r, v in gate.items())
    print(f"gate: share of held-out departures flagged when flagging {found} of the decisions")
    _write(args, "_gate", {"gate_recall": gate})


def _write(args: argparse.Namespace, kind: str, result: dict) -> None:
    """``<scenario>_<chip>_results<kind><variant>.json`` in ``--out``, with its arguments."""
    name = f"{args.scenario}_{args.hardware}_results{kind}{_variant(args)}"
    name += f"_dagger{args.dagger_rounds}" if args.dagger_rounds else ""
    result = {"args": {**vars(args), "out": str(args.out)}, **result}
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    run_script(main, "deviation_probe.py")
