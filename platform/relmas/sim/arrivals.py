"""Arrival-time generators (pure numpy). Each returns sorted times in ``[0, horizon_s)``.

At most ``max_count`` times are returned, so an open-ended ``num_requests`` budget never
allocates more than needed.
"""

from __future__ import annotations

import math

import numpy as np


def _bound(max_count: int | None, horizon_s: float | None, rate_per_s: float) -> int:
    """How many candidate arrivals to draw: enough for the horizon with a wide margin."""
    if horizon_s is None:
        assert max_count is not None
        return max_count
    expected = rate_per_s * horizon_s
    n = int(expected + 8 * math.sqrt(expected) + 16)
    return n if max_count is None else min(n, max_count)


def poisson(
    rng: np.random.Generator, rate_per_s: float, max_count: int | None, horizon_s: float | None
) -> np.ndarray:
    """Poisson process: exponential inter-arrival gaps with mean ``1 / rate_per_s``."""
    n = _bound(max_count, horizon_s, rate_per_s)
    times = np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))
    return times if horizon_s is None else times[times < horizon_s]


def on_off(
    rng: np.random.Generator,
    rate_per_s: float,
    on_fraction: float,
    mean_burst_s: float,
    max_count: int | None,
    horizon_s: float | None,
) -> np.ndarray:
    """On/off MMPP with mean rate ``rate_per_s``: Poisson at ``rate / on_fraction`` in bursts.

    Burst and gap lengths are exponential with means ``mean_burst_s`` and
    ``mean_burst_s * (1 - on_fraction) / on_fraction``. Implemented by drawing Poisson times on
    "on-time" and mapping them onto the wall clock, which keeps it vectorised.
    """
    if on_fraction >= 1.0:
        return poisson(rng, rate_per_s, max_count, horizon_s)
    burst_rate = rate_per_s / on_fraction
    n = _bound(max_count, horizon_s, rate_per_s)
    on_times = poisson(rng, burst_rate, n, None)
    if on_times.size == 0:
        return on_times
    mean_gap_s = mean_burst_s * (1.0 - on_fraction) / on_fraction
    n_periods = int(on_times[-1] / mean_burst_s * 2 + 16)
    bursts = rng.exponential(mean_burst_s, size=n_periods)
    while bursts.sum() <= on_times[-1]:  # rare: extend until the bursts cover all on-time
        bursts = np.concatenate([bursts, rng.exponential(mean_burst_s, size=n_periods)])
    gaps = rng.exponential(mean_gap_s, size=bursts.size)
    times = _on_to_wall(on_times, bursts, gaps)
    # The bound above counts Poisson noise only; the on/off periods add far more variance, so
    # the wall-clock span can fall short of the horizon. Extend all three i.i.d. sequences
    # (exact, by memorylessness) until it does not; a no-op when the first draw suffices.
    while (
        horizon_s is not None
        and times[-1] < horizon_s
        and (max_count is None or on_times.size < max_count)
    ):
        more = on_times[-1] + np.cumsum(rng.exponential(1.0 / burst_rate, size=n))
        if max_count is not None:
            more = more[: max_count - on_times.size]
        on_times = np.concatenate([on_times, more])
        while bursts.sum() <= on_times[-1]:
            bursts = np.concatenate([bursts, rng.exponential(mean_burst_s, size=n_periods)])
        if gaps.size < bursts.size:
            extra = rng.exponential(mean_gap_s, size=bursts.size - gaps.size)
            gaps = np.concatenate([gaps, extra])
        times = _on_to_wall(on_times, bursts, gaps)
    return times if horizon_s is None else times[times < horizon_s]


def _on_to_wall(on_times: np.ndarray, bursts: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Map times on the "on" clock to the wall clock: add the gaps of the bursts already over."""
    on_end = np.cumsum(bursts)
    idx = np.searchsorted(on_end, on_times, side="right")
    wall_offset = np.concatenate([[0.0], np.cumsum(gaps)])[idx]
    return on_times + wall_offset


def periodic(
    rng: np.random.Generator,
    fps: float,
    jitter_s: float,
    probability: float,
    max_count: int | None,
    horizon_s: float | None,
) -> np.ndarray:
    """Frames at ``k / fps`` plus uniform jitter, each kept with ``probability``."""
    period = 1.0 / fps
    n = _bound(None if max_count is None else int(max_count / probability) + 1, horizon_s, fps)
    times = np.arange(n) * period + rng.uniform(0.0, jitter_s, size=n)
    keep = rng.random(n) < probability
    # With probability < 1, n frames can keep fewer than max_count (or, with both limits, stop
    # short of the horizon): draw further frames, chunk by chunk, until neither limit binds.
    while (
        max_count is not None
        and keep.sum() < max_count
        and (horizon_s is None or times[-1] < horizon_s)
    ):
        k = np.arange(times.size, times.size + n)
        times = np.concatenate([times, k * period + rng.uniform(0.0, jitter_s, size=n)])
        keep = np.concatenate([keep, rng.random(n) < probability])
    times = times[keep]
    if jitter_s > period:  # frames may overtake each other
        times = np.sort(times)
    if max_count is not None:
        times = times[:max_count]
    return times if horizon_s is None else times[times < horizon_s]
