"""``relmas sync`` (upload offline runs) and ``relmas ui`` (MLflow UI on the same store).

``ui`` binds to 127.0.0.1 by default: the MLflow server has no authentication, so exposing it
on a network interface hands every run (and artifact upload) to anyone who can reach the port.
A non-loopback ``--host`` is allowed but warned about.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from relmas.cli.common import port
from relmas.errors import UserError
from relmas.files import dumps


def register(subparsers: Any) -> None:
    """Add ``sync`` and ``ui``."""
    s = subparsers.add_parser("sync", help="upload runs kept offline (relmas_out/mlflow_offline)")
    s.add_argument("--tracking-uri", default=None, help="store to upload to (default as usual)")
    s.add_argument(
        "--offline-dir", type=Path, default=None, help="default: relmas_out/mlflow_offline"
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sync)
    u = subparsers.add_parser("ui", help="start the MLflow UI on the tracking store")
    u.add_argument("--port", type=port, default=5000, help="TCP port (default 5000)")
    u.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    u.add_argument("--tracking-uri", default=None, help="store to browse (default as usual)")
    u.set_defaults(func=cmd_ui)


def cmd_sync(args: argparse.Namespace) -> int:
    """Upload every pending offline run exactly once and mark it synced."""
    from relmas.tracking.client import errors, resolve_uri
    from relmas.tracking.sync import sync_pending

    uri = resolve_uri(args.tracking_uri)
    try:
        done = sync_pending(uri, args.offline_dir)
    except errors() as exc:
        raise UserError(
            "--tracking-uri",
            f"cannot upload to {uri} ({exc})",
            "start the server or pass another --tracking-uri",
        ) from exc
    if args.json:
        print(dumps([d.__dict__ for d in done]))
    else:
        for d in done:
            print(f"{d.name}: {'already uploaded as' if d.reused else 'uploaded as'} {d.run_id}")
        print(f"synced {len(done)} run(s) to {uri}")
    return 0


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui_command(uri: str, host: str, port: int) -> list[str]:
    """The ``mlflow server`` command line (1 worker: enough for one user, light on 2 cores)."""
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [
        str(mlflow_bin) if mlflow_bin.exists() else "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    if uri.startswith("sqlite:///"):
        art = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        cmd += ["--artifacts-destination", str(art.resolve())]
    return cmd


def cmd_ui(args: argparse.Namespace) -> int:
    """Run the MLflow server in the foreground until Ctrl-C."""
    from relmas.tracking.client import resolve_uri

    uri = resolve_uri(args.tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise UserError("--tracking-uri", f"{uri} is already a server", "open it in a browser")
    if not is_loopback(args.host):
        print(
            f"relmas: warning: --host {args.host} exposes the unauthenticated MLflow server "
            "beyond this machine; prefer 127.0.0.1 and an SSH tunnel",
            file=sys.stderr,
        )
    print(
        f"MLflow UI on http://{args.host}:{args.port} (store {uri}); Ctrl-C to stop",
        file=sys.stderr,
    )
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true"),
    }
    proc = subprocess.Popen(ui_command(uri, args.host, args.port), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=30)
        return 0
