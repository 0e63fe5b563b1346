"""Shared pieces of the schedulers' "as published" forms (a helper module, not a scheduler).

The Dysta authors' single-accelerator simulator (SamsungLabs/Sparse-Multi-DNN-Scheduling,
``dysta_scheduler/scheduler.py``) re-implements Planaria and SDRM3 (= DREAM v1) with the same
selection loop::

    max_score = -1
    for task in tasks (in arrival order):
        if max_score < 0 or max_score <= task.score:
            if max_score == task.score and the kept task arrived earlier: continue
            keep task; max_score = task.score

Once a task with a non-negative score is kept, only a higher score replaces it (ties keep the
earlier arrival); while the kept score is negative, *every* later task replaces it. So the pick is
the highest non-negative score (earliest arrival on ties) or, if every score is negative, the
latest arrival. :func:`dysta_pick_key` turns that into a sort key, so a descending sort lists the
picks in order and the repeated pick on several free units is a plain sort.
"""

from __future__ import annotations

from typing import Literal

Form = Literal["relmas", "dysta"]


def dysta_pick_key(score: float, rid: int) -> tuple[bool, float, int]:
    """Sort key (descending) reproducing the Dysta simulator's argmax loop.

    ``rid`` is the arrival rank (requests are numbered in arrival order). Exact ties between
    negative scores are ignored (the loop keeps the earlier one there; measure zero in practice).
    """
    if score >= 0:
        return True, score, -rid
    return False, float(rid), 0
