"""Paired comparisons on the same seeds, and how schedulers are named in results.

Why paired: every scheduler sees the same requests for a seed, and one different dispatch
reshuffles the rest of an overloaded trace, so per-seed differences of ~1% are noise; a mean
gain means something only next to its standard error over the same seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from relmas.errors import UserError
from relmas.evaluation.summary import rank_key
from relmas.schedulers.registry import split_ref


def paired_delta(ours: Sequence[float], ref: Sequence[float]) -> dict[str, float]:
    """Per-seed difference ``ours - ref``: mean, standard error, wins / losses / ties."""
    d = np.asarray(ours, dtype=float) - np.asarray(ref, dtype=float)
    n = d.size
    return {
        "mean": float(d.mean()) if n else math.nan,
        "stderr": float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        "wins": int((d > 0).sum()),
        "losses": int((d < 0).sum()),
        "ties": int((d == 0).sum()),
    }


def is_oracle(ref: str) -> bool:
    """Whether a scheduler reference sees the future (``rollout?clairvoyant=true``)."""
    try:
        return split_ref(ref)[1].get("clairvoyant") is True
    except UserError:
        return False


def label(ref: str) -> str:
    """The name shown for a scheduler: its reference, marked when it is an oracle."""
    return f"{ref} [ORACLE]" if is_oracle(ref) else ref


def per_seed(rows: Sequence[Mapping[str, Any]], metric: str = "sla_rate") -> dict[str, list[float]]:
    """``{scheduler: [metric per seed, in seed order]}`` from runner rows."""
    out: dict[str, dict[int, float]] = {}
    for row in rows:
        out.setdefault(row["scheduler"], {})[row["seed"]] = float(row[metric])
    return {name: [v for _, v in sorted(seeds.items())] for name, seeds in out.items()}


def best_heuristic(rows: Sequence[Mapping[str, Any]], heuristics: Sequence[str]) -> str:
    """The heuristic with the highest mean SLA rate (ties: lower mean energy per inference)."""

    def key(name: str) -> tuple[float, float]:
        mine = [r for r in rows if r["scheduler"] == name]
        sla = float(np.mean([r["sla_rate"] for r in mine]))
        energy = float(np.nanmean([r["energy_per_inference_j"] for r in mine]))
        return rank_key(sla, energy)

    return max(heuristics, key=key)


def headroom(rows: Sequence[Mapping[str, Any]], heuristics: Sequence[str]) -> dict[str, Any]:
    """Every scheduler's mean SLA rate and its paired difference to the best heuristic."""
    sla = per_seed(rows)
    best = best_heuristic(rows, heuristics)
    table = []
    for name, values in sla.items():
        arr = np.asarray(values)
        stderr = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else math.nan
        table.append({
            "scheduler": name, "label": label(name), "oracle": is_oracle(name),
            "heuristic": name in heuristics, "seeds": arr.size, "sla_rate": float(arr.mean()),
            "sla_stderr": stderr, "vs_best": paired_delta(values, sla[best]),
        })  # fmt: skip
    table.sort(key=lambda e: (not e["heuristic"], -e["sla_rate"]))
    return {"best_heuristic": best, "table": table}
