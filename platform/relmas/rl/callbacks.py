"""RLlib callback that logs the env's unshaped KPIs, so runs with different reward shaping compare.

The env puts ``sla_rate``, ``energy_per_inference_j``... into the final ``info`` of every episode
(:data:`relmas.env.multi_accel.KPI_KEYS`); they appear as ``env_runners/<key>`` in results.
"""

from __future__ import annotations

import math
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

LOGGED_KPIS = (
    "sla_rate",
    "drop_rate",
    "energy_per_inference_j",
    "mean_latency_s",
    "mean_utilization",
    "dram_utilization",
    "decisions",
)


class KpiCallback(RLlibCallback):
    """Logs the last ``info`` of each finished episode (mean over a 100-episode window)."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Forward the final-info KPIs to the metrics logger."""
        if metrics_logger is None or not episode.is_terminated:
            return
        info = episode.get_infos(-1)
        for key in LOGGED_KPIS:
            value = float(info.get(key, math.nan))
            if math.isfinite(value):  # NaN = no value (no completion): not a 0 in the mean
                metrics_logger.log_value(key, value, reduce="mean", window=100)
