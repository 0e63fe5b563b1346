"""Several exported policies of one observation, acting as one: the mean of their probabilities.

Why: runs of one recipe that differ only in their seed differ a lot in what they learned. On
heavy / 2s2e the six guarded runs of ``tune_configs/train_gate_medium.yaml`` (seeds 0-5) range
from -2.3 to +1.0 SLA points against Planaria 0.5 on validation seeds, while the mean of their
action probabilities gains +1.4, above every one of them (twelve runs: +0.9, above their mean
of +0.4; docs/rl.md, "An ensemble of seeds"). Six runs are still a draw (two other sets of six
seeds gain +0.4 and +0.5), so the shipped ``rl:gate_ensemble`` averages eighteen (+1.3).
Averaging keeps a departure from Planaria that several runs agree on and drops one that a
single run makes (on its own heavy episodes: 0 of 5128 one-member departures kept, 76% of
those of four or more members). Averaging log-probabilities
(a product of experts) was measured too and gains less on heavy (+1.0 against +1.4): one
member's near-zero probability vetoes a departure. Only ``mean_probability`` is offered.

An ensemble directory holds ``ensemble.json`` and one sub-directory per member with that
member's ``policy.json`` and ``policy.npz``: copies (``relmas ensemble``) or the runs themselves
(``relmas train`` with ``ensemble_seeds`` writes ``OUT/seed_N``). Every member must build
exactly the same observation, checked when the directory is written and when it is loaded.
Members with an LSTM are refused (their state would have to advance in lockstep).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from relmas.env.layout import ObsLayout
from relmas.errors import UserError
from relmas.files import atomic_directory, write_atomic
from relmas.rl.export import NumpyPolicy, read_meta

ENSEMBLE_JSON = "ensemble.json"
ENSEMBLE_FORMAT = 1
COMBINE = "mean_probability"

# What makes two exports build the same observation and mask: every policy.json key and recipe
# field that PolicyScheduler._build and act() read (relmas.rl.policy_scheduler).
_META_KEYS = ("env_id", "env_version", "obs_dim", "types", "priority_scale", "layout", "lstm")
_RECIPE_KEYS = (
    "top_k",
    "candidates",
    "planaria_params",
    "wait_slack",
    "outlook",
    "outlook_gate",
    "wait_guard",
    "prior_weight",
    "decision_period_s",
)


def observation_signature(meta: dict[str, Any]) -> dict[str, Any]:
    """The fields of one export's ``policy.json`` that fix its observation, mask and prior."""
    recipe = meta.get("recipe", {})
    return {
        **{k: meta.get(k) for k in _META_KEYS},
        **{f"recipe.{k}": recipe.get(k) for k in _RECIPE_KEYS},
    }


def check_members(metas: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """Two or more members, no LSTM, one observation: else a UserError naming the field."""
    if len(metas) < 2:
        raise UserError("members", f"an ensemble needs 2 or more policies, got {len(metas)}",
                        "name two or more `relmas train` outputs or checkpoints")  # fmt: skip
    first = observation_signature(metas[0])
    if first["lstm"]:
        raise UserError("members", f"{names[0]} has an LSTM", "ensemble feed-forward policies")
    for meta, name in zip(metas[1:], names[1:], strict=True):
        other = observation_signature(meta)
        for key, value in first.items():
            if other[key] != value:
                problem = f"{name} has {key} {other[key]!r:.60}, {names[0]} has {value!r:.60}"
                fix = "ensemble runs that build one observation (one recipe, other seeds)"
                raise UserError("members", problem, fix)


class EnsemblePolicy:
    """The members' greedy policy over the mean of their masked softmax probabilities.

    Duck-types :class:`~relmas.rl.export.NumpyPolicy` where ``PolicyScheduler`` uses it
    (``pair``, ``obs_dim``, ``reset_state``, ``act``). Ties go to the lowest action index.
    """

    def __init__(self, members: Sequence[NumpyPolicy]) -> None:
        self.members = list(members)
        # Read as "has a pair head" (PolicyScheduler); it is only the first member's head, so
        # anything that edits weights must go through ``members``.
        self.pair = self.members[0].pair
        self.obs_dim = self.members[0].obs_dim

    def reset_state(self) -> None:
        """Nothing carries across decisions (members have no LSTM)."""

    def act(
        self,
        obs: np.ndarray,
        mask: np.ndarray,
        prior: np.ndarray | None = None,
        w: float = 0.0,
        layout: ObsLayout | None = None,
    ) -> int:
        """Argmax of the mean probability; one valid action (a closed gate) skips every member."""
        indices = np.flatnonzero(mask > 0.5)
        if len(indices) == 1:
            return int(indices[0])
        return int(indices[int(np.argmax(self._mean(obs, indices, prior, w, layout)))])

    def ranked(
        self,
        obs: np.ndarray,
        mask: np.ndarray,
        prior: np.ndarray | None = None,
        w: float = 0.0,
        layout: ObsLayout | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The valid actions by falling mean probability (ties: lower index first, so the
        first is :meth:`act`'s answer), and those mean probabilities: the candidates of a
        search (:mod:`relmas.rl.search`) and how sure the members are together."""
        indices = np.flatnonzero(mask > 0.5)
        total = self._mean(obs, indices, prior, w, layout)
        order = np.argsort(-total, kind="stable")
        return indices[order], total[order] / len(self.members)

    def _mean(
        self,
        obs: np.ndarray,
        indices: np.ndarray,
        prior: np.ndarray | None,
        w: float,
        layout: ObsLayout | None,
    ) -> np.ndarray:
        """The members' mean masked softmax over ``indices`` (summed: the mean up to 1/n)."""
        total = np.zeros(len(indices), np.float64)
        for member in self.members:
            logits = member.logits(obs, layout)[indices].astype(np.float64)
            if w and prior is not None:
                logits = logits + w * prior[indices]
            p = np.exp(logits - logits.max())
            total += p / p.sum()
        return total


def _is_member_name(name: object) -> bool:
    """A plain sub-directory name: an ensemble never points outside its own directory."""
    return isinstance(name, str) and bool(name) and not set(name) & set("/\\") and name != ".."


def read_doc(where: Path, command: str) -> Any:
    """A policy directory's JSON file (``ensemble.json``, ``router.json``), or a UserError
    telling to rebuild it with ``relmas COMMAND``."""
    try:
        return json.loads(where.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError("checkpoint", f"{where} is not readable JSON ({type(exc).__name__})",
                        f"rebuild it with `relmas {command}`") from None  # fmt: skip


def read_ensemble(path: Path) -> list[Path]:
    """The member directories listed by ``path/ensemble.json``, or a UserError naming the fix."""
    where = path / ENSEMBLE_JSON
    doc = read_doc(where, "ensemble")
    members = doc.get("members") if isinstance(doc, dict) else None
    known = isinstance(doc, dict) and (doc.get("format_version"), doc.get("combine")) == (
        ENSEMBLE_FORMAT,
        COMBINE,
    )
    if not known or not isinstance(members, list) or not all(map(_is_member_name, members)):
        raise UserError("checkpoint", f"{where} is not a relmas ensemble (format "
                        f"{ENSEMBLE_FORMAT}, combine {COMBINE})", "rebuild it with "
                        "`relmas ensemble`")  # fmt: skip
    dirs = [path / str(m) for m in members]
    for member in dirs:
        if not (member / "policy.json").is_file():
            raise UserError("checkpoint", f"ensemble member {member} has no policy.json",
                            "rebuild the ensemble with `relmas ensemble`")  # fmt: skip
    return dirs


def ensemble_doc(members: Sequence[str], sources: Sequence[str]) -> str:
    """The text of ``ensemble.json``: its format, the combination rule, the member directories
    (plain names inside the ensemble's directory) and where each came from."""
    doc = {"format_version": ENSEMBLE_FORMAT, "combine": COMBINE, "members": list(members),
           "sources": list(sources)}  # fmt: skip
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write_ensemble_in_place(out: Path, members: Sequence[str]) -> Path:
    """Make ``out`` the ensemble of its own sub-directories ``members`` (``relmas train`` with
    ``ensemble_seeds``: each run's final export is already in ``out/seed_N``)."""
    dirs = [out / m for m in members]
    check_members([read_meta(d) for d in dirs], [str(d) for d in dirs])
    write_atomic(out / ENSEMBLE_JSON, ensemble_doc(members, [str(d) for d in dirs]))
    return out


def check_new_directory(out: Path) -> None:
    """``--out`` must be new or an empty directory: a policy is never written over another."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError("--out", f"{out} exists and is not an empty directory",
                        "name a new directory")  # fmt: skip


def write_ensemble(out: Path, sources: Sequence[Path], metas: Sequence[dict[str, Any]]) -> Path:
    """Copy each member's export into ``out/member_NN`` and write ``ensemble.json``.

    Everything is written into a temporary sibling first and renamed into place, so a failure
    leaves no half-written ensemble; an existing non-empty ``out`` is refused.
    """
    check_members(metas, [str(s) for s in sources])
    check_new_directory(out)
    with atomic_directory(out) as tmp:
        names = [f"member_{i:02d}" for i in range(len(sources))]
        for name, src in zip(names, sources, strict=True):
            (tmp / name).mkdir()
            for file in ("policy.json", "policy.npz"):
                shutil.copy2(src / file, tmp / name / file)
        write_atomic(tmp / ENSEMBLE_JSON, ensemble_doc(names, [str(s) for s in sources]))
    return out
