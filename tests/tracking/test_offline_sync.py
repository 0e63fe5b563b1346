"""An unreachable server: the command finishes, the payload waits offline, sync uploads once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from relmas.tracking import TrackingOptions, start_run, sync_pending, tracked_run
from relmas.tracking.payload import OFFLINE_DIR, SYNCED_FILE

pytestmark = pytest.mark.slow


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _offline_run(closed_port_uri: str, tmp_path: Path) -> None:
    art = tmp_path / "plot.png"
    art.write_bytes(b"\x89PNG")
    opts = TrackingOptions(uri=closed_port_uri)
    with tracked_run("compare", "parent", {"seeds": 2}, {"scenario": "s"}, options=opts) as parent:
        parent.log_metrics({"wall_s": 1.5})
        parent.log_artifact(art)
        child = start_run("compare", "edf", {"scheduler": "edf"}, {}, options=opts, parent=parent)
        child.log_metrics({"sla_rate": 0.9}, step=0)
        child.log_metrics({"sla_rate": 0.8}, step=1)
        child.end()


def test_unreachable_server_keeps_payload_and_warns_once(
    closed_port_uri: str, sqlite_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    _offline_run(closed_port_uri, tmp_path)
    assert time.perf_counter() - started < 10, "a dead server must not stall the command"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "relmas sync --tracking-uri" in err[0]
    payloads = sorted(OFFLINE_DIR.glob("*/payload.json"))
    assert len(payloads) == 2
    names = {json.loads(p.read_text())["name"] for p in payloads}
    assert names == {"parent", "edf"}


def test_sync_uploads_pending_runs_exactly_once(
    closed_port_uri: str, sqlite_uri: str, tmp_path: Path
) -> None:
    _offline_run(closed_port_uri, tmp_path)
    first = sync_pending(sqlite_uri)
    assert {s.name for s in first} == {"parent", "edf"}
    assert sync_pending(sqlite_uri) == []  # already marked synced
    client = _client(sqlite_uri)
    exp = client.get_experiment_by_name("relmas-compare")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"parent", "edf"}
    assert runs["edf"].data.tags["mlflow.parentRunId"] == runs["parent"].info.run_id
    history = client.get_metric_history(runs["edf"].info.run_id, "sla_rate")
    assert sorted((m.step, m.value) for m in history) == [(0, 0.9), (1, 0.8)]
    assert [a.path for a in client.list_artifacts(runs["parent"].info.run_id)] == ["plot.png"]
    assert runs["parent"].info.status == "FINISHED"


def test_sync_after_crash_before_marking_does_not_duplicate(
    closed_port_uri: str, sqlite_uri: str, tmp_path: Path
) -> None:
    _offline_run(closed_port_uri, tmp_path)
    sync_pending(sqlite_uri)
    for marker in OFFLINE_DIR.glob(f"*/{SYNCED_FILE}"):
        marker.unlink()  # as if the process died right after uploading
    again = sync_pending(sqlite_uri)
    assert again and all(s.reused for s in again)
    exp = _client(sqlite_uri).get_experiment_by_name("relmas-compare")
    assert len(_client(sqlite_uri).search_runs([exp.experiment_id])) == 2
