"""Pick the exported checkpoint of a ``relmas train`` run on validation seeds (not the test seeds).

Why: PPO's greedy policy does not improve monotonically, so the shipped policy is the checkpoint
with the best validation SLA rate (ties: lower energy per inference), measured on seeds disjoint
from both the training seeds (0..N-1) and the evaluation seeds (10000+).

    python scripts/select_policy.py relmas_out/train_heavy --first-seed 5000 --seeds 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from relmas.env.sources import make_source
from relmas.rl.evaluate import run_scheduler
from relmas.rl.policy_scheduler import load_policy_scheduler
from relmas.schedulers.registry import make_scheduler


def main() -> None:
    """Print one line per checkpoint and the best one."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path, help="the --out directory of relmas train")
    ap.add_argument("--scenario", default="heavy")
    ap.add_argument("--hardware", default="2s2e")
    ap.add_argument("--first-seed", type=int, default=5000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--reference", default="planaria", help="heuristic to compare with")
    ap.add_argument("--every", type=int, default=1, help="evaluate every n-th checkpoint")
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    source = make_source({"scenario": args.scenario, "hardware": args.hardware})
    ref = run_scheduler(source, make_scheduler(args.reference), seeds)
    print(f"{args.reference}: SLA {ref['sla_rate']:.4f}  J {ref['energy_per_inference_j']:.6g}")
    best: tuple[float, float, str] | None = None
    ckpts = sorted((args.run / "checkpoints").glob("iter_*"))[:: max(args.every, 1)]
    for ckpt in ckpts:
        m = run_scheduler(source, load_policy_scheduler(ckpt), seeds)
        e_ratio = m["energy_per_inference_j"] / ref["energy_per_inference_j"]
        print(f"{ckpt.name}: SLA {m['sla_rate']:.4f}  energy x{e_ratio:.4f}", flush=True)
        key = (m["sla_rate"], -e_ratio, str(ckpt))
        if e_ratio <= 1.015 and (best is None or key[:2] > best[:2]):
            best = key
    print("best (energy <= +1.5%):", best)


if __name__ == "__main__":
    main()
