"""``relmas tune``: a Ray Tune sweep from a ``tune_configs/*.yaml`` file, tracked in MLflow.

Ray is imported inside the command only. By default a fresh local Ray instance is started
(``address="local"`` never attaches to a stale cluster); ``--address`` joins an existing one, and
so does running inside ``ray job submit`` (the job's own cluster). On an existing cluster the
settings are checked first (storage shared by every node, an MLflow server rather than a file,
relmas importable on every node; see :mod:`relmas.sweeps.cluster` and docs/cluster.md), so a
mistake costs a one-line error instead of a failed or silently lost sweep. ``--dry-run`` checks
the file and the settings, prints the trial plan and the ``ray job submit`` command, and starts
nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relmas.cli.common import check_output, claim_sigterm
from relmas.cli.console import library_output_to
from relmas.cli.tune_dry_run import dry_run, tracking_options
from relmas.errors import UserError
from relmas.files import dumps
from relmas.sweeps import cluster
from relmas.sweeps.cluster import ClusterTarget
from relmas.tracking import TrackingOptions, add_tracking_args

if TYPE_CHECKING:
    from relmas.sweeps.config import SweepConfig
    from relmas.sweeps.run import SweepOutcome

DEFAULT_STORAGE = Path("relmas_out/tune")


def register(subparsers: Any) -> None:
    """Add ``tune``."""
    p = subparsers.add_parser("tune", help="run a Ray Tune sweep (tune_configs/*.yaml)")
    p.add_argument("config", type=Path,
                   help="sweep file or shipped sweep name, e.g. heuristics_dse or "
                        "tune_configs/heuristics_dse.yaml (from any directory)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    p.add_argument(
        "--address",
        default=None,
        help="existing Ray cluster: auto, HOST:6379 or ray://HOST:10001 (default: a fresh local "
        "Ray; inside `ray job submit`: the job's cluster; with --dry-run also "
        "http://HOST:8265, the job submission address)",
    )
    p.add_argument(
        "--storage",
        default=str(DEFAULT_STORAGE),
        help="experiment directory root (a cluster: an absolute path every node mounts)",
    )
    p.add_argument(
        "--runtime-env",
        type=Path,
        default=None,
        help="runtime_env YAML that ships the code to the workers with --address "
        "(e.g. deploy/runtime_env.yaml); with --dry-run: the one for ray job submit "
        "(default: none, code already on the nodes)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the file and settings, print the trial plan and the `ray job submit` "
        "command; start nothing",
    )
    p.add_argument("--no-dashboard", action="store_true", help="do not start the Ray dashboard")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON, not lines")
    add_tracking_args(p)
    p.set_defaults(func=cmd_tune)


def _start_ray(
    args: argparse.Namespace, target: ClusterTarget, runtime_env: dict[str, Any] | None
) -> None:
    import ray

    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if target.remote:
        if runtime_env is not None:
            kwargs["runtime_env"] = runtime_env
        ctx = ray.init(address=target.address, **kwargs)
    else:
        ctx = ray.init(
            address="local",
            num_cpus=os.cpu_count() or 1,
            include_dashboard=not args.no_dashboard,
            dashboard_host="127.0.0.1",
            **kwargs,
        )
    claim_sigterm()  # Ray's driver handler would abort without shutting Ray down
    url = getattr(ctx, "dashboard_url", "") or ""
    if url:
        print(f"relmas: Ray dashboard: http://{url.removeprefix('http://')}", file=sys.stderr)


def _preflight(
    cfg: SweepConfig, target: ClusterTarget, storage: Path, options: TrackingOptions
) -> None:
    """On an existing cluster: the node count decides the tracking check, then every node is
    probed (relmas importable, stdlib ``platform``, storage visible, scenarios loadable)."""
    import ray

    from relmas import __version__

    nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
    cluster.check_tracking(options, target, nodes)
    prepared = cfg.num_requests is not None or cfg.reference_hardware is not None
    scenarios = cluster.trial_scenarios(list(cfg.scenarios), prepared)
    reports = cluster.probe_nodes(storage, scenarios, cluster.PREFLIGHT_TIMEOUT_S)
    print("relmas: " + cluster.check_reports(reports, storage, __version__), file=sys.stderr)


def _summary(out: SweepOutcome) -> dict[str, Any]:
    """What the command prints (table or ``--json``)."""
    return {
        "experiment_dir": str(out.experiment_dir),
        "trials": out.trials,
        "finished": out.finished,
        "errored": out.errored,
        "unfinished": out.trials - out.finished - out.errored,
        "wall_s": out.wall_s,
        "best": out.best,
        "parent_run_id": out.parent_run_id,
        "pareto": str(out.pareto_json) if out.pareto_json else None,
    }


def summary_lines(out: SweepOutcome) -> list[str]:
    """The one summary: counts and time, the best trial, where the results are."""
    from relmas.sweeps.progress import clock, describe

    lines = [
        f"sweep {out.experiment_dir.name}: {out.finished} of {out.trials} trials finished, "
        f"{out.errored} failed, in {clock(out.wall_s)}",
        f"best (SLA rate, then energy per inference): {describe(out.best)}",
    ]
    if out.pareto_json:
        png = out.pareto_json.with_suffix(".png")
        lines.append(f"Pareto front (SLA rate, energy, sub-accelerators): {png}")
    return [*lines, f"Tune results: {out.experiment_dir}"]


def _report(args: argparse.Namespace, out: SweepOutcome, storage: Path) -> int:
    """Print the outcome; exit 130 if trials are left to ``--resume``, 1 if any failed."""
    summary = _summary(out)
    unfinished = summary["unfinished"]
    if args.json:
        print(dumps(summary))
    else:
        print("\n".join(summary_lines(out)))
    if unfinished:
        print(
            f"relmas: interrupted with {unfinished} unfinished trials; continue with: "
            f"relmas tune {args.config} --resume --storage {storage}",
            file=sys.stderr,
        )
        return 130
    return 1 if out.errored else 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Validate the sweep file and the cluster settings first (no Ray start-up for a typo),
    then run or resume it."""
    from relmas.loaders.paths import sweep_path
    from relmas.sweeps.config import load_sweep

    args.config = sweep_path(args.config)  # from any directory, or by name: heuristics_dse
    cfg = load_sweep(args.config)
    if getattr(args, "dry_run", False):
        return dry_run(args, cfg)
    target = cluster.resolve_target(args.address)
    storage = cluster.resolve_storage(args.storage, target)
    check_output(storage, "--storage", directory=True)
    options = tracking_options(args, target, storage)
    cluster.check_tracking(options, target)
    env_file = getattr(args, "runtime_env", None)
    if env_file and not target.remote:
        raise UserError("--runtime-env", "only applies to an existing cluster", "add --address")
    runtime_env = cluster.load_runtime_env(env_file, target) if env_file else None
    import ray

    from relmas.sweeps.run import experiment_name, run_sweep
    from relmas.tracking.run import warm_up

    with library_output_to(storage / f"{cfg.name}.log"):
        _announce(cfg, storage)
        store = warm_up(options, experiment_name(cfg))  # overlaps Ray's start-up
        _start_ray(args, target, runtime_env)
        if store is not None:
            store.join()
        try:
            if target.remote:
                _preflight(cfg, target, storage, options)
            out = run_sweep(args.config, storage=storage, resume=args.resume, options=options)
        finally:
            ray.shutdown()
    return _report(args, out, storage)


def _announce(cfg: SweepConfig, storage: Path) -> None:
    """The sweep's first line: what runs, how many trials, where the results go."""
    from relmas.sweeps.space import expected_trials

    print(
        f"relmas: tune {cfg.name}: {expected_trials(cfg)} trials ({cfg.trainable}), "
        f"{cfg.search.max_concurrent} at a time; results in {storage / cfg.name}",
        file=sys.stderr,
    )
