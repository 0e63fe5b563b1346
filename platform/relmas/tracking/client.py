"""The only place that talks to MLflow: URI resolution, a fast reachability probe, batched upload.

Why a probe: MLflow's HTTP client retries a dead server for minutes by default, which would turn
"the tracking server is down" into "the command hangs". We check ``/health`` once with a short
timeout and cap MLflow's own retries, then fall back to the offline store on any failure.
"""

from __future__ import annotations

import functools
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from relmas.tracking.payload import RunPayload

ENV_URI = "MLFLOW_TRACKING_URI"
MAX_METRICS_PER_CALL = 1000
MAX_PARAMS_PER_CALL = 100
PROBE_TIMEOUT_S = 3.0
LOCAL_ID_TAG = "relmas.local_id"
MetricEntry = tuple[str, float, int, int]  # key, value, timestamp ms, step


class TrackingUnavailableError(Exception):
    """The tracking store cannot be reached; the caller falls back offline."""


def default_uri() -> str:
    """``sqlite:///<relmas home>/mlflow.db``: embedded, nothing to start, one per checkout.

    Why not ``./mlflow.db`` (MLflow's own default): a command run from another directory
    silently started a second store there, which ``relmas ui`` in the repo never showed. The
    relmas home (the checkout, or ``$RELMAS_HOME``) holds the data files too, so it is the one
    place every command agrees on; ``--tracking-uri`` or ``$MLFLOW_TRACKING_URI`` override it.
    """
    from relmas.loaders.paths import data_root

    return f"sqlite:///{data_root().resolve() / 'mlflow.db'}"


def resolve_uri(explicit: str | None = None) -> str:
    """``--tracking-uri`` beats ``$MLFLOW_TRACKING_URI`` beats the local sqlite file."""
    return explicit or os.environ.get(ENV_URI) or default_uri()


def errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the store failed" (requests' errors subclass OSError)."""
    from mlflow.exceptions import MlflowException

    return (MlflowException, OSError, TrackingUnavailableError)


def probe(uri: str) -> None:
    """Raise :class:`TrackingUnavailableError` quickly if an HTTP store does not answer."""
    scheme = urlparse(uri).scheme
    if scheme not in ("http", "https"):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_TIMEOUT_S) as r:
            if r.status != 200:
                raise TrackingUnavailableError(f"{uri}/health answered {r.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingUnavailableError(f"cannot reach {uri} ({exc})") from exc


def _artifact_root(uri: str) -> str | None:
    """For a sqlite store keep artifacts next to the DB (not in whatever cwd runs the command)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    db = Path(uri.removeprefix("sqlite:///"))
    return (db.parent / "mlartifacts").resolve().as_uri()


def _seed_fresh_sqlite(uri: str) -> None:
    """A new sqlite store starts as a copy of an empty, already migrated one.

    Why: MLflow builds a new store's schema by running every one of its migrations, 4-7 s (half
    of it CPU) on a busy 2-core machine, for every new store: a first sweep's trials waited for
    it, and so does every test or CI run on a fresh store. The empty migrated store is made once
    per MLflow version and kept in relmas's cache (``$RELMAS_CACHE_DIR``, else
    ``~/.cache/relmas/cost_tables``), the same trick the test suite uses.
    """
    if urlparse(uri).scheme != "sqlite":
        return
    db = Path(uri.removeprefix("sqlite:///"))
    if db.exists() or str(db) in ("", ":memory:"):
        return
    import mlflow
    from mlflow.tracking import MlflowClient

    from relmas.loaders.cost_cache import cache_dir

    template = cache_dir() / f"mlflow-{mlflow.__version__}-empty.db"
    if not template.is_file():
        template.parent.mkdir(parents=True, exist_ok=True)
        tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
        MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()  # runs the migrations
        os.replace(tmp, template)
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db)


_DEAD: set[str] = set()


def mark_dead(uri: str) -> None:
    """Remember a failed store so later runs in this process go offline without waiting."""
    _DEAD.add(uri)
    backend.cache_clear()


@functools.lru_cache(maxsize=8)
def backend(uri: str) -> Backend:
    """One client per URI and process (creating MlflowClient and the DB schema is not free)."""
    if uri in _DEAD:
        raise TrackingUnavailableError(f"{uri} failed earlier in this process")
    probe(uri)
    return Backend(uri)


class Backend:
    """Batched writes to one tracking store."""

    def __init__(self, uri: str) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline machines, privacy
        # MLflow prints "View run ... at: URL" to stdout (plus one get_run) whenever a run on a
        # server ends: that broke `--json` output and cost a request per run.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        # MLflow's INFO lines ("Creating initial MLflow database tables...") are start-up noise
        # on a relmas console; warnings still show. Read when mlflow is first imported.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        from mlflow.tracking import MlflowClient

        _seed_fresh_sqlite(uri)
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self._experiments: dict[str, str] = {}

    def experiment_id(self, name: str) -> str:
        """Id of experiment ``name``, created on first use with relmas's UI tags (description,
        runs view, saved columns); an older experiment gets them once, when they differ."""
        if name not in self._experiments:
            from relmas.tracking.views import experiment_tags

            wanted = experiment_tags(name)
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                root = _artifact_root(self.uri)
                exp_id = self.client.create_experiment(name, artifact_location=root, tags=wanted)
            else:
                exp_id = exp.experiment_id
                for key, value in wanted.items():
                    if exp.tags.get(key) != value:
                        self.client.set_experiment_tag(exp_id, key, value)
            self._experiments[name] = exp_id
        return self._experiments[name]

    def create_run(
        self, p: RunPayload, parent_run_id: str = "", metrics: Sequence[MetricEntry] = ()
    ) -> str:
        """Create the run; params and first metrics share ``log_batch`` calls (100/1000 max)."""
        from mlflow.entities import Metric, Param

        tags = {**p.tags, LOCAL_ID_TAG: p.local_id}
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(self.experiment_id(p.experiment), run_name=p.name, tags=tags)
        run_id: str = run.info.run_id
        params = [Param(k, v) for k, v in p.params.items()]
        mets = [Metric(k, v, ts, step) for k, v, ts, step in metrics]
        while params or mets:
            chunk_p, params = params[:MAX_PARAMS_PER_CALL], params[MAX_PARAMS_PER_CALL:]
            chunk_m, mets = mets[:MAX_METRICS_PER_CALL], mets[MAX_METRICS_PER_CALL:]
            self.client.log_batch(run_id, metrics=chunk_m, params=chunk_p)
        return run_id

    def log_metrics(self, run_id: str, entries: Sequence[MetricEntry]) -> None:
        """At most 1000 metrics per request (MLflow's ``log_batch`` limit)."""
        from mlflow.entities import Metric

        metrics = [Metric(k, v, ts, step) for k, v, ts, step in entries]
        for i in range(0, len(metrics), MAX_METRICS_PER_CALL):
            self.client.log_batch(run_id, metrics=metrics[i : i + MAX_METRICS_PER_CALL])

    def log_artifacts(self, run_id: str, paths: list[str]) -> None:
        """Upload files that still exist (a plot may have been removed by the user)."""
        for path in paths:
            if Path(path).is_file():
                self.client.log_artifact(run_id, path)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Tags known only at the end (e.g. the best scheduler)."""
        for k, v in tags.items():
            self.client.set_tag(run_id, k, v)

    def finish(self, run_id: str, status: str) -> None:
        """Mark the run FINISHED / FAILED / KILLED."""
        self.client.set_terminated(run_id, status)

    def find_uploads(self, p: RunPayload) -> tuple[str, list[str]]:
        """(a complete upload of this payload or "", ids of partial runs with its local id).

        Every run created for the payload carries the tag ``relmas.local_id``. One that ended
        (status set, which is the last write of an upload) is complete: syncing again reuses
        it, which makes ``relmas sync`` exactly-once. One still RUNNING was cut off: the store
        died mid-run, the reply to a create was lost (the client never learned the id), or a
        sync crashed mid-upload; it is replaced by the complete offline copy.
        """
        runs = self.client.search_runs(
            [self.experiment_id(p.experiment)],
            filter_string=f"tags.`{LOCAL_ID_TAG}` = '{p.local_id}'",
        )
        done = [r.info.run_id for r in runs if r.info.status != "RUNNING"]
        partial = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
        return (done[0] if done else ""), partial

    def delete_run(self, run_id: str) -> None:
        """Remove a partly uploaded run; idempotent (a sync that crashed after deleting it runs
        again) and a no-op for an id this store never had (a sync to another store)."""
        from mlflow.exceptions import MlflowException

        try:
            stage = self.client.get_run(run_id).info.lifecycle_stage
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return
            raise
        if stage != "deleted":
            self.client.delete_run(run_id)

    def reparent(self, experiment: str, old_parent: str, new_parent: str) -> None:
        """Point the children of a replaced (partly uploaded) parent at its replacement.

        Children logged online before an outage carry the old parent's run id; without this
        they would hang under a deleted run and vanish from the parent's view.
        """
        query = f"tags.`mlflow.parentRunId` = '{old_parent}'"
        exp_id = self.experiment_id(experiment)
        token = None
        while True:
            page = self.client.search_runs([exp_id], filter_string=query, page_token=token)
            for run in page:
                self.client.set_tag(run.info.run_id, "mlflow.parentRunId", new_parent)
            token = page.token
            if not token:
                return

    def upload(self, p: RunPayload, parent_run_id: str = "") -> str:
        """The whole payload as one run; returns its run id."""
        run_id = self.create_run(p, parent_run_id or p.parent_run_id, p.metrics)
        self.log_artifacts(run_id, p.artifacts)
        self.finish(run_id, p.status)
        return run_id


def get_run(uri: str, run_id: str) -> Any:
    """The MLflow run (for tests and ``relmas sync`` reports)."""
    return backend(uri).client.get_run(run_id)
