"""DAgger for an ensemble: does fine-tuning its members on the states the ensemble visits help?

Why: the members of ``rl:gate_ensemble`` were each fitted on the states *their own* rollouts
visited (on medium), while the ensemble acts on the mean of their probabilities and so visits
states none of them did (on heavy, a scenario none trained on). DAgger's remedy for such a
covariate shift (Ross et al., AISTATS 2011) is to label the states the acting policy visits with
the teacher and fit again. This probe does exactly that for an ensemble, without touching the
shipped files: roll the ensemble out (acting as the teacher with the recipe's ``beta``), label
every state with the rollout teacher of the members' recipe, fine-tune each member's pair head
on those labels (from its exported weights, each on a bootstrap of the episodes by default, so
the members stay different), write the new ensemble into ``--out`` and score it, the original
ensemble and ``--reference`` on the same validation seeds, paired.

    python scripts/ensemble_dagger_probe.py --out /tmp/refit --label heavy:0:36,medium:0:18
    python scripts/ensemble_dagger_probe.py --out /tmp/refit2 --labels /tmp/refit/labels.npz \\
        --deviation-weight 1 --lr 1e-4                  # another fit of the same labels

Prints one JSON object per validation scenario (paired differences with standard errors and
the three per-seed lists); the fitted members' accuracies go to stderr as they finish.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

from relmas.cli.common import run_script
from relmas.errors import UserError
from relmas.rl.evaluate import paired_delta, run_scheduler

EPISODE_ID_STRIDE = 1_000_000  # episode id = seed + stride * index of its --label part


def members_of(ensemble: Path) -> list[str]:
    """The member sub-directories an ensemble directory names (checked as ``rl:`` checks it)."""
    from relmas.rl.ensemble import ENSEMBLE_JSON, read_ensemble

    if not (ensemble / ENSEMBLE_JSON).is_file():
        raise UserError("--ensemble", f"{ensemble} has no {ENSEMBLE_JSON}", "name an ensemble")
    return [member.name for member in read_ensemble(ensemble)]


def member_recipe(ensemble: Path, scenarios: list[str], hardware: str) -> Any:
    """The first member's recipe on the scenarios and the chip labelled here (its env then
    accepts those pairs; the teacher and the labelling settings stay the members')."""
    from relmas.rl.recipe import Recipe

    meta = json.loads((ensemble / members_of(ensemble)[0] / "policy.json").read_text())
    return Recipe.model_validate({**meta["recipe"], "scenario": scenarios, "hardware": hardware})


def label_episode(job: tuple[str, list[str], str, str, int, int]) -> dict[str, np.ndarray]:
    """One episode the ensemble acts in, every state labelled by the recipe's teacher."""
    from relmas.env.multi_accel import MultiAccelEnv
    from relmas.rl.labels import collect_episode
    from relmas.rl.policy_scheduler import load_one_policy
    from relmas.schedulers.registry import make_scheduler

    ensemble, scenarios, scenario, hardware, seed, episode_id = job
    recipe = member_recipe(Path(ensemble), scenarios, hardware)
    imitation = recipe.imitation
    teacher = make_scheduler(imitation.teacher, dict(imitation.teacher_params))
    out = collect_episode(
        MultiAccelEnv(recipe.env_config()), teacher, load_one_policy(Path(ensemble)),
        pair=(scenario, hardware), episode_seed=seed, beta=imitation.beta,
        keep_plain=imitation.keep_plain, seed=7 * seed + 1, gamma=recipe.gamma,
    )  # fmt: skip
    arrays = out.arrays()
    arrays["episode"] = np.full(len(arrays["obs"]), episode_id, np.int64)
    return arrays


def load_head(member: Path, num_actions: int) -> tuple[Any, dict[str, Any]]:
    """The member's pair head as a torch module (its exported weights) for a chip of
    ``num_actions`` actions, and all its arrays. Why the chip: the head scores every (candidate,
    unit) pair with shared weights, so one set of weights serves any number of units, but the
    torch module is built for one layout (the labelled chip's, not the one it trained on)."""
    import torch

    from relmas.env.layout import ObsLayout
    from relmas.rl.pair_head import PairHead

    meta = json.loads((member / "policy.json").read_text(encoding="utf-8"))
    layout = ObsLayout.from_dict(meta["layout"])
    layout = layout.with_units((num_actions - 1) // layout.top_k)
    head = PairHead(layout.to_dict(), meta["recipe"]["pair_hidden"])
    arrays = dict(np.load(member / "policy.npz"))
    with torch.no_grad():
        for key, layer in linear_layers(head):
            layer.weight.copy_(torch.from_numpy(arrays[f"{key[0]}_w{key[1]}"]))
            layer.bias.copy_(torch.from_numpy(arrays[f"{key[0]}_b{key[1]}"]))
    return head, arrays


def linear_layers(head: Any) -> list[tuple[tuple[str, int], Any]]:
    """((npz prefix, index), Linear) in the order ``relmas.rl.export`` writes them."""
    import torch

    chains = (("pair", [*head.hidden, head.out]), ("wait", [*head.wait[0], head.wait[1]]))
    out = []
    for prefix, parts in chains:
        linears = [p for p in parts if isinstance(p, torch.nn.Linear)]
        out += [((prefix, i), layer) for i, layer in enumerate(linears)]
    return out


class HeadOnly:
    """What :func:`relmas.rl.imitate.fit` reads of a module: the pair head, no critic."""

    def __init__(self, head: Any) -> None:
        self.pair_head, self.critic, self.prior_weight = head, None, 0.0

    def train(self) -> None:
        """Training mode (no dropout here; kept for the fit's contract)."""
        self.pair_head.train()

    def eval(self) -> None:
        """Evaluation mode."""
        self.pair_head.eval()


def bootstrap(data: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The rows of a resample of the episodes, with replacement (bagging by episode)."""
    episodes = np.unique(data["episode"])
    picked = np.random.default_rng(seed).choice(episodes, size=len(episodes), replace=True)
    rows = np.concatenate([np.flatnonzero(data["episode"] == e) for e in picked])
    return {k: v[rows] for k, v in data.items()}


def refit_member(job: tuple[str, str, str, dict[str, Any], int]) -> dict[str, Any]:
    """Fine-tune one member on the labels; write it under the new ensemble; its fit stats."""
    from relmas.rl.imitate import fit

    member, data_path, out, opts, index = job
    data = dict(np.load(data_path))
    head, arrays = load_head(Path(member), data["mask"].shape[1])
    if opts["bag"]:
        data = bootstrap(data, index)
    data.pop("episode")
    imitation = json.loads((Path(member) / "policy.json").read_text())["recipe"]["imitation"]
    weight = opts["deviation_weight"] or imitation["deviation_weight"]
    module: Any = HeadOnly(head)  # fit reads only these attributes of an RLModule
    stats = fit(module, data, epochs=opts["epochs"], lr=opts["lr"],
                minibatch=imitation["minibatch"],
                informative_weight=imitation["informative_weight"],
                seed=1000 + index, deviation_weight=weight)  # fmt: skip
    for (prefix, i), layer in linear_layers(head):
        arrays[f"{prefix}_w{i}"] = layer.weight.detach().numpy().astype(np.float32)
        arrays[f"{prefix}_b{i}"] = layer.bias.detach().numpy().astype(np.float32)
    target = Path(out) / Path(member).name
    target.mkdir(parents=True, exist_ok=True)
    np.savez(target / "policy.npz", **arrays)
    shutil.copy(Path(member) / "policy.json", target / "policy.json")
    return {"member": Path(member).name, "accuracy": stats.accuracy,
            "deviation_accuracy": stats.deviation_accuracy}  # fmt: skip


def score(job: tuple[str, str, str, int]) -> float:
    """SLA rate of one validation episode: ``rl:DIR`` or a heuristic reference."""
    from relmas.env.sources import make_source
    from relmas.rl.policy_scheduler import load_one_policy
    from relmas.schedulers.registry import make_scheduler

    ref, scenario, hardware, seed = job
    sched: Any = load_one_policy(Path(ref[3:])) if ref.startswith("rl:") else make_scheduler(ref)
    source = make_source({"scenario": scenario, "hardware": hardware})
    return float(run_scheduler(source, sched, [seed])["sla_rate_per_seed"][0])


def label_jobs(ensemble: Path, spec: str, hardware: str) -> list[tuple[Any, ...]]:
    """``SCENARIO:FIRST_SEED:COUNT,...`` as label jobs (training seeds: below 5000)."""
    parts = [s.split(":") for s in spec.split(",")]
    if not all(len(p) == 3 and p[1].isdigit() and p[2].isdigit() for p in parts) or any(
        int(p[1]) + int(p[2]) > 5000 for p in parts
    ):
        raise UserError("--label", f"{spec!r} is not SCENARIO:FIRST:COUNT below seed 5000",
                        "e.g. heavy:0:36,medium:0:18")  # fmt: skip
    scenarios = sorted({p[0] for p in parts})
    return [(str(ensemble), scenarios, name, hardware, s, s + EPISODE_ID_STRIDE * k)
            for k, (name, first, n) in enumerate(parts)
            for s in range(int(first), int(first) + int(n))]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--ensemble", default="gate_ensemble", help="ensemble directory or shipped name")
    p.add_argument("--out", required=True, help="new directory for the refitted ensemble")
    p.add_argument("--label", default="heavy:0:36,medium:0:18", help="SCENARIO:FIRST:COUNT,...")
    p.add_argument(
        "--labels", default="", help="reuse an earlier --out's labels.npz (no labelling)"
    )
    p.add_argument("--hardware", default="2s2e", help="chip labelled and validated on")
    p.add_argument("--epochs", type=int, default=3, help="passes over the labels per member")
    p.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate")
    p.add_argument("--deviation-weight", type=float, default=0.0, help="0: the members' recipe's")
    p.add_argument("--no-bag", action="store_true", help="every member fits all the labels")
    p.add_argument("--validate", default="heavy,medium", help="scenarios to score on")
    p.add_argument("--seeds", type=int, default=20, help="validation seeds from 5000")
    p.add_argument("--reference", default="planaria?priority_exponent=0.5", help="heuristic")
    p.add_argument("--jobs", type=int, default=2, help="worker processes")
    run(p.parse_args())


def run(args: argparse.Namespace) -> None:
    """Label, refit every member, score; nothing is written outside ``--out``."""
    from relmas.rl.ensemble import ENSEMBLE_JSON, ensemble_doc
    from relmas.rl.policy_scheduler import resolve_policy_dir

    ensemble, out = resolve_policy_dir(args.ensemble), Path(args.out)
    if out.exists():
        raise UserError("--out", f"{out} exists", "name a new directory")
    members, jobs = members_of(ensemble), label_jobs(ensemble, args.label, args.hardware)
    labels = Path(args.labels) if args.labels else out / "labels.npz"
    if args.labels and not labels.is_file():
        raise UserError("--labels", f"{labels} is not a file", "pass an earlier --out's labels.npz")
    out.mkdir(parents=True)
    opts = {"epochs": args.epochs, "lr": args.lr, "bag": not args.no_bag,
            "deviation_weight": args.deviation_weight}  # fmt: skip
    with Pool(args.jobs) as pool:
        if not args.labels:
            parts = pool.map(label_episode, jobs, chunksize=1)
            data: dict[str, Any] = {k: np.concatenate([q[k] for q in parts if q]) for k in parts[0]}
            np.savez(labels, **data)
        fits = [(str(ensemble / m), str(labels), str(out), opts, i)
                for i, m in enumerate(members)]  # fmt: skip
        for stats in pool.imap(refit_member, fits):
            print(json.dumps(stats), file=sys.stderr, flush=True)
        doc = ensemble_doc(members, [f"{ensemble / m} refitted" for m in members])
        (out / ENSEMBLE_JSON).write_text(doc, encoding="utf-8")
        for scenario in args.validate.split(","):
            report(pool, args, scenario, ensemble, out)


def report(pool: Any, args: argparse.Namespace, scenario: str, ensemble: Path, out: Path) -> None:
    """Score the refitted and the original ensemble and the reference, paired; one JSON line."""
    seeds = list(range(5000, 5000 + args.seeds))
    refs = (f"rl:{out}", f"rl:{ensemble}", args.reference)
    scores = pool.map(score, [(r, scenario, args.hardware, s) for r in refs for s in seeds])
    new, old, ref = (scores[i * len(seeds) : (i + 1) * len(seeds)] for i in range(3))
    row = {"scenario": scenario, "hardware": args.hardware, "label": args.labels or args.label,
           "epochs": args.epochs, "lr": args.lr, "bag": not args.no_bag,
           "refit_minus_ensemble": paired_delta(new, old),
           "refit_minus_reference": paired_delta(new, ref),
           "ensemble_minus_reference": paired_delta(old, ref),
           "refit_per_seed": new, "ensemble_per_seed": old, "reference_per_seed": ref}  # fmt: skip
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    run_script(main, "ensemble_dagger_probe.py")
