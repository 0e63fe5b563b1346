"""DRAM bandwidth sharing among co-running layers.

Each running layer ``i`` needs ``d_i = dram_bytes / compute_s`` bytes/s to run at compute speed.
A policy grants ``b_i <= d_i`` with ``sum(b_i) <= B`` and the layer then progresses at
``rate_i = b_i / d_i`` of its full speed (fluid model, as MAGMA's ``post_process``). Rates are
recomputed at every layer start and finish, so a policy is a pure function of the current demands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

BandwidthPolicy = Callable[[Sequence[float], Sequence[float], float], list[float]]


def proportional(demands: Sequence[float], caps: Sequence[float], bw: float) -> list[float]:
    """MAGMA's rule: if oversubscribed, every layer gets ``d_i * B / sum(d)``.

    All layers then slow down by the same factor, which is what makes this policy cheap.
    Caps are ignored. A layer with no DRAM traffic is not slowed down.
    """
    total = sum(demands)
    scale = 1.0 if total <= bw else bw / total
    return [scale if d > 0 else 1.0 for d in demands]


def maxmin(demands: Sequence[float], caps: Sequence[float], bw: float) -> list[float]:
    """Max-min fair water-filling: small demands are met fully, the rest share equally."""
    n = len(demands)
    grants = [0.0] * n
    left = bw
    order = sorted(range(n), key=demands.__getitem__)
    for pos, i in enumerate(order):
        share = left / (n - pos)
        grants[i] = min(demands[i], share)
        left -= grants[i]
    return [g / d if d > 0 else 1.0 for g, d in zip(grants, demands, strict=True)]


def capped(demands: Sequence[float], caps: Sequence[float], bw: float) -> list[float]:
    """MoCA-style: each layer takes at most its cap, then the capped demands share proportionally.

    A scheduler sets the caps per dispatch (``Dispatch.bandwidth_cap_bytes_per_s``); a layer with
    an infinite cap behaves as under :func:`proportional`.
    """
    wanted = [min(d, c) for d, c in zip(demands, caps, strict=True)]
    total = sum(wanted)
    scale = 1.0 if total <= bw else bw / total
    # rate = (wanted / demand) x scale, written so a tiny demand cannot underflow to rate 0.
    return [
        (1.0 if c >= d else c / d) * scale if d > 0 else 1.0
        for d, c in zip(demands, caps, strict=True)
    ]


BANDWIDTH_POLICIES: dict[str, BandwidthPolicy] = {
    "proportional": proportional,
    "maxmin": maxmin,
    "capped": capped,
}
