"""``tracked_run``: one MLflow run that survives a dead tracking server.

The run streams to MLflow while it can (metrics buffered and sent with ``log_batch``), always keeps
its full payload in memory, and on the first store failure switches to offline mode: at the end
the complete payload is written to ``relmas_out/mlflow_offline/`` with a one-line warning saying
how to upload it (``relmas sync``). Only store failures are caught, and only to fall back.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relmas.tracking.interrupts import deferred_interrupts
from relmas.tracking.payload import RunPayload, as_metrics, as_params, save_offline, standard_tags

FLUSH_EVERY_S = 5.0
_WARNED: set[str] = set()


@dataclass(frozen=True)
class TrackingOptions:
    """Whether and where to track (from ``--no-track`` / ``--tracking-uri``)."""

    enabled: bool = True
    uri: str | None = None
    offline_dir: Path | None = None

    @property
    def resolved_uri(self) -> str:
        """The store URI after env/default resolution."""
        from relmas.tracking.client import resolve_uri

        return resolve_uri(self.uri)


def _warn_offline(uri: str, reason: str, where: Path) -> None:
    """One line per store and process, so a 200-trial sweep does not print 200 warnings."""
    if uri in _WARNED:
        return
    _WARNED.add(uri)
    print(
        f"relmas: warning: tracking store {uri} unavailable ({reason}); runs kept in {where}/ -- "
        f"upload later with: relmas sync --tracking-uri {uri}",
        file=sys.stderr,
    )


@dataclass(frozen=True)
class ParentRef:
    """A parent run known only by ids (e.g. a sweep's parent, read back after a resume)."""

    run_id: str
    local_id: str


class TrackedRun:
    """A run in progress: online (``run_id`` set) or offline (payload only), or disabled."""

    def __init__(
        self,
        payload: RunPayload,
        options: TrackingOptions,
        parent: TrackedRun | ParentRef | None = None,
        attach_to: str = "",
        lazy: bool = False,
    ) -> None:
        self.payload = payload
        self.options = options
        self.uri = options.resolved_uri if options.enabled else ""
        self.run_id = ""
        self.online = False
        self._pending: list[tuple[str, float, int, int]] = []
        self._last_flush = time.monotonic()
        self._tags_sent: dict[str, str] = {}
        if parent is not None and parent.run_id:
            payload.parent_run_id = parent.run_id
        elif parent is not None:
            payload.parent_local_id = parent.local_id
        if options.enabled:
            self._start(attach_to, lazy)

    @property
    def local_id(self) -> str:
        """Id of the payload in the offline store (stable across upload and sync)."""
        return self.payload.local_id

    def _call(self, fn: Any, *args: Any) -> Any:
        """Run a store call, whole even if Ctrl-C or SIGTERM comes (:mod:`.interrupts`); on a
        store failure switch to offline mode (with a warning)."""
        from relmas.tracking.client import errors, mark_dead

        try:
            with deferred_interrupts():
                return fn(*args)
        except errors() as exc:
            self.online = False
            mark_dead(self.uri)
            where = self.options.offline_dir or Path("relmas_out/mlflow_offline")
            _warn_offline(self.uri, str(exc).splitlines()[0][:200], where)
            return None

    def _start(self, attach_to: str, lazy: bool) -> None:
        """Create the run now, later (``lazy``), or re-attach to ``attach_to`` (a resume).

        Lazy creation lets a short run (a 1-second Tune trial) go out as three requests
        (create, one ``log_batch`` with params and metrics, terminate) instead of one per flush.
        """
        from relmas.tracking.client import backend

        if self._call(backend, self.uri) is None:
            return
        self.online = True
        if attach_to:
            self.run_id = attach_to
            self._tags_sent = dict(self.payload.tags)
        elif not lazy:
            self._create()

    def _create(self) -> None:
        """Create the run with its params and the metrics buffered so far, in one batch."""
        from relmas.tracking.client import backend

        pending, self._pending = self._pending, []
        run_id = self._call(
            lambda: backend(self.uri).create_run(self.payload, self.payload.parent_run_id, pending)
        )
        if run_id:
            self.run_id = run_id
            self._tags_sent = dict(self.payload.tags)

    def log_metrics(self, values: dict[str, Any], step: int = 0) -> None:
        """Record (flattened) metrics at ``step``; sent in batches, at most every 5 s."""
        if not self.options.enabled:
            return
        self._pending += self.payload.add_metrics(as_metrics(values), step)
        if len(self._pending) >= 1000 or time.monotonic() - self._last_flush > FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Send buffered metrics now (one ``log_batch`` per 1000); creates a lazy run."""
        if self.online and not self.run_id:
            self._create()
        elif self.online and self._pending:
            from relmas.tracking.client import backend

            # Taken before the call: an interrupt right after a finished write must not send
            # the same entries again at the run's end (the payload keeps them for offline).
            pending, self._pending = self._pending, []
            self._call(lambda: backend(self.uri).log_metrics(self.run_id, pending))
        self._pending = []
        self._last_flush = time.monotonic()

    def log_artifact(self, path: Path | str) -> None:
        """Attach a file (uploaded at the end, or copied into the offline store)."""
        if self.options.enabled:
            self.payload.artifacts.append(str(Path(path).resolve()))

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Tags known late (e.g. the best scheduler)."""
        self.payload.tags.update({k: str(v) for k, v in tags.items()})

    def end(self, status: str = "FINISHED") -> None:
        """Finish online, or save the payload offline if the store failed at any point."""
        if not self.options.enabled:
            return
        self.payload.status = status
        self.flush()
        if self.online and self.run_id:
            from relmas.tracking.client import backend

            late = {k: v for k, v in self.payload.tags.items() if self._tags_sent.get(k) != v}
            self._call(lambda: self._finish_online(backend(self.uri), late, status))
        if not (self.online and self.run_id):
            self.payload.partial_run_id = self.run_id
            save_offline(self.payload, self.options.offline_dir)

    def announce(self) -> None:
        """Say on stderr where this run went, at the end of a command; nothing when tracking is
        off, or when the run fell back offline (the one warning line said where it is kept)."""
        if self.options.enabled and self.online and self.run_id:
            name, exp = self.payload.name, self.payload.experiment
            print(f"relmas: tracked as run {name!r} in MLflow experiment {exp} (store "
                  f"{self.uri}); browse with: relmas ui", file=sys.stderr)  # fmt: skip

    def _finish_online(self, store: Any, late: dict[str, str], status: str) -> None:
        store.set_tags(self.run_id, late)
        store.log_artifacts(self.run_id, self.payload.artifacts)
        store.finish(self.run_id, status)


def warm_up(options: TrackingOptions, experiment: str) -> threading.Thread | None:
    """Set the store up in a background thread: import mlflow, create (and migrate) a fresh
    sqlite schema, find or create ``experiment``.

    Why: that takes ~11 s on a loaded 2-core machine (4 s import, 7 s schema), which ran
    between Ray's start and the first trial of every tracked sweep; started before ``ray.init``
    it overlaps Ray's own start-up. Join the thread before the first run is opened.
    """
    if not options.enabled:
        return None

    def work() -> None:
        from relmas.tracking.client import backend

        try:
            backend(options.resolved_uri).experiment_id(experiment)
        except Exception:  # only a head start: the real call redoes it and
            return  # reports any failure (offline fallback, one warning) where it belongs

    thread = threading.Thread(target=work, name="relmas-store-warm-up", daemon=True)
    thread.start()
    return thread


def start_run(
    kind: str,
    name: str,
    params: dict[str, Any],
    tags: dict[str, Any],
    *,
    options: TrackingOptions | None = None,
    experiment: str | None = None,
    parent: TrackedRun | ParentRef | None = None,
    attach_to: str = "",
    local_id: str = "",
    lazy: bool = False,
) -> TrackedRun:
    """Open a run: params are the resolved config (flattened), tags get reproducibility info.

    ``attach_to`` continues an existing run id instead of creating one; ``local_id`` reuses an
    offline identity, so a resumed sweep's parent keeps one offline directory; ``lazy`` creates
    the run at its first flush (fewer requests for short runs) and, for a child, keeps only the
    tags the parent does not already carry.
    """
    opts = options or TrackingOptions()
    lean = lazy and parent is not None
    payload = RunPayload(
        experiment=experiment or f"relmas-{kind}",
        name=name,
        params=as_params(params),
        tags=standard_tags(kind, params, tags, lean) if opts.enabled else {},
    )
    if local_id:
        payload.local_id = local_id
    return TrackedRun(payload, opts, parent, attach_to, lazy)


@contextmanager
def tracked_run(
    kind: str,
    name: str,
    params: dict[str, Any],
    tags: dict[str, Any],
    *,
    options: TrackingOptions | None = None,
    experiment: str | None = None,
    parent: TrackedRun | ParentRef | None = None,
) -> Iterator[TrackedRun]:
    """Context manager around :func:`start_run`: FINISHED, FAILED on error, KILLED on Ctrl-C.

    A top-level run (no ``parent``) says where it went when it ends, so a user never has to
    guess which store or experiment holds the command they just ran.
    """
    run = start_run(kind, name, params, tags, options=options, experiment=experiment, parent=parent)
    try:
        yield run
    except KeyboardInterrupt:
        run.end("KILLED")
        raise
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FINISHED")
    if parent is None:
        run.announce()
