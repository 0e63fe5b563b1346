"""Experiment tracking with MLflow (the only package that imports mlflow, and only lazily).

``import relmas.tracking`` stays cheap: mlflow is imported when a run actually talks to a store.
Public API:

* :func:`tracked_run` / :func:`start_run`: one run (params, batched metrics, tags, artifacts)
  that falls back to ``relmas_out/mlflow_offline/`` when the store is unreachable;
* :func:`sync_pending`: upload offline runs exactly once (``relmas sync``);
* :func:`add_tracking_args`, :func:`log_simulation`, :func:`comparison_run` +
  :func:`log_comparison`: CLI wiring.
"""

from __future__ import annotations

from typing import Any

from relmas.tracking.compare_hooks import comparison_run, log_comparison
from relmas.tracking.hooks import add_tracking_args, log_simulation, options_from_args
from relmas.tracking.run import ParentRef, TrackedRun, TrackingOptions, start_run, tracked_run

__all__ = [
    "ParentRef",
    "TrackedRun",
    "TrackingOptions",
    "add_tracking_args",
    "comparison_run",
    "log_comparison",
    "log_simulation",
    "options_from_args",
    "start_run",
    "sync_pending",
    "tracked_run",
]


def sync_pending(uri: str | None = None, root: Any = None) -> Any:
    """See :func:`relmas.tracking.sync.sync_pending` (imported lazily: it needs mlflow)."""
    from relmas.tracking.sync import sync_pending as _sync

    return _sync(uri, root)
