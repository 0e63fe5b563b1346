"""``relmas sync`` (upload offline runs) and ``relmas ui`` (MLflow UI on the same store).

``ui`` binds to 127.0.0.1 by default: the MLflow server has no authentication, so exposing it
on a network interface hands every run (and artifact upload) to anyone who can reach the port.
A non-loopback ``--host`` is allowed but warned about.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path
from socket import SOCK_STREAM
from typing import Any

from relmas.cli.common import port
from relmas.errors import UserError
from relmas.files import dumps
from relmas.tracking.hooks import URI_DEFAULT


def register(subparsers: Any) -> None:
    """Add ``sync`` and ``ui``."""
    s = subparsers.add_parser("sync", help="upload runs kept offline (relmas_out/mlflow_offline)")
    s.add_argument("--tracking-uri", default=None, help=f"store to upload to {URI_DEFAULT}")
    s.add_argument("--offline-dir", type=Path, default=None,
                   help="runs to upload (default: relmas_out/mlflow_offline)")  # fmt: skip
    s.add_argument("--json", action="store_true", help="print JSON, not lines")
    s.set_defaults(func=cmd_sync)
    u = subparsers.add_parser("ui", help="start the MLflow UI on the tracking store")
    u.add_argument("--port", type=port, default=5000, help="TCP port")
    u.add_argument("--host", default="127.0.0.1", help="bind address; keep it on loopback")
    u.add_argument("--tracking-uri", default=None, help=f"store to browse {URI_DEFAULT}")
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


def check_port_free(host: str, port_no: int) -> None:
    """A one-line error now if ``host:port`` cannot be bound, instead of the URL being printed
    and MLflow's server failing 20 s later with ``address already in use`` (exit 0)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port_no, type=SOCK_STREAM)[0]
    except OSError as exc:
        problem = f"cannot resolve {host!r} ({exc})"
        raise UserError("--host", problem, "e.g. --host 127.0.0.1") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserError(
                "--port",
                f"{host}:{port_no} is not free ({exc.strerror or exc})",
                f"stop what listens there or pick another port, e.g. --port {port_no + 1}",
            ) from None


def experiment_links(uri: str, base: str) -> list[str]:
    """One link per relmas experiment in ``uri``, opening it on relmas's saved table view (SLA
    rate and energy first, best first); experiments made before that view get its tags here."""
    from relmas.tracking.client import backend, errors
    from relmas.tracking.views import view_url

    try:
        store = backend(uri)
        found = store.client.search_experiments(filter_string="name LIKE 'relmas-%'")
        links = [(e.name, view_url(base, store.experiment_id(e.name))) for e in found]
    except errors() as exc:
        return [f"relmas: warning: cannot list experiments of {uri} ({exc})"]
    if not links:
        return ["no relmas runs in this store yet: run e.g. relmas compare, then reload"]
    width = max(len(name) for name, _ in links)
    head = "open an experiment on relmas's view (SLA rate and energy first; expand a parent):"
    return [head, *(f"  {name:<{width}}  {url}" for name, url in sorted(links))]


def cmd_ui(args: argparse.Namespace) -> int:
    """Run the MLflow server in the foreground until Ctrl-C."""
    from relmas.tracking.client import resolve_uri

    uri = resolve_uri(args.tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise UserError("--tracking-uri", f"{uri} is already a server", "open it in a browser")
    check_port_free(args.host, args.port)
    if not is_loopback(args.host):
        print(
            f"relmas: warning: --host {args.host} exposes the unauthenticated MLflow server "
            "beyond this machine; prefer 127.0.0.1 and an SSH tunnel",
            file=sys.stderr,
        )
    base = f"http://{args.host}:{args.port}"
    print(f"MLflow UI on {base} (store {uri}); Ctrl-C to stop", file=sys.stderr)
    for line in experiment_links(uri, base):
        print(line, file=sys.stderr)
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
