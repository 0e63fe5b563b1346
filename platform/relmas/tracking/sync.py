"""``relmas sync``: upload runs kept offline, exactly once.

Exactly-once comes from two marks: each uploaded run carries the tag ``relmas.local_id`` (so a
crash between upload and marking is detected by a search before re-uploading), and a
``synced.json`` beside the payload records the new run id. Parents go first, so children can be
attached to their parent's new run id. A run that was cut off (the store died mid-run, a create
whose reply was lost, a sync that crashed mid-upload: all still RUNNING with the payload's tag)
is deleted and replaced by the complete offline copy, and children already on the server
(logged before the outage) are moved to the replacement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from relmas.files import write_json_atomic
from relmas.tracking.client import Backend, backend, resolve_uri
from relmas.tracking.payload import (
    OFFLINE_DIR,
    SYNCED_FILE,
    RunPayload,
    load_offline,
    pending_runs,
)


@dataclass(frozen=True)
class SyncedRun:
    """One uploaded offline run."""

    local_id: str
    run_id: str
    name: str
    reused: bool  # True if it was already on the server (an earlier sync crashed before marking)


def _known_ids(root: Path) -> dict[str, str]:
    """local id and replaced partial run id -> new run id, from earlier syncs."""
    ids: dict[str, str] = {}
    for marker in root.glob(f"*/{SYNCED_FILE}"):
        data = json.loads(marker.read_text(encoding="utf-8"))
        ids[data["local_id"]] = data["run_id"]
        if data.get("replaced"):
            ids[data["replaced"]] = data["run_id"]
    return ids


def _parent_id(p: RunPayload, ids: dict[str, str]) -> str:
    if p.parent_local_id:
        return ids.get(p.parent_local_id, "")
    return ids.get(p.parent_run_id, p.parent_run_id)


def _sync_one(store: Backend, run_dir: Path, ids: dict[str, str]) -> SyncedRun:
    p = load_offline(run_dir)
    existing, partial = store.find_uploads(p)
    cut_off = sorted({*partial, p.partial_run_id} - {""})
    for old in cut_off:
        store.delete_run(old)
    run_id = existing or store.upload(p, _parent_id(p, ids))
    for old in cut_off:
        store.reparent(p.experiment, old, run_id)
    marker = {
        "local_id": p.local_id,
        "run_id": run_id,
        "replaced": p.partial_run_id,
        "uri": store.uri,
    }
    write_json_atomic(run_dir / SYNCED_FILE, marker)
    ids[p.local_id] = run_id
    if p.partial_run_id:
        ids[p.partial_run_id] = run_id
    return SyncedRun(p.local_id, run_id, p.name, bool(existing))


def sync_pending(uri: str | None = None, root: Path | None = None) -> list[SyncedRun]:
    """Upload every pending offline run to ``uri``; raises if the store is unreachable."""
    base = root or OFFLINE_DIR
    store = backend(resolve_uri(uri))
    ids = _known_ids(base)
    return [_sync_one(store, run_dir, ids) for run_dir in pending_runs(base)]
