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
import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relmas.cli.common import check_output, claim_sigterm, fmt, print_table
from relmas.cli.console import library_output_to
from relmas.errors import UserError
from relmas.files import dumps
from relmas.sweeps import cluster
from relmas.sweeps.cluster import ClusterTarget
from relmas.tracking import TrackingOptions, add_tracking_args, options_from_args

if TYPE_CHECKING:
    from relmas.sweeps.config import SweepConfig
    from relmas.sweeps.run import SweepOutcome

DEFAULT_STORAGE = Path("relmas_out/tune")
ENTRYPOINT = ["python", "-m", "relmas.cli.main", "tune"]


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


def _options(args: argparse.Namespace, target: ClusterTarget, storage: Path) -> TrackingOptions:
    """Tracking options; inside a job, runs kept offline go to the (persistent) storage root
    rather than the job's temporary working_dir copy."""
    options = options_from_args(args)
    if target.in_job:
        options = dataclasses.replace(options, offline_dir=storage / "mlflow_offline")
    return options


def _is_http(address: str | None) -> bool:
    """A dashboard (job submission) address, as opposed to a cluster to join."""
    return bool(address) and str(address).startswith(("http://", "https://"))


def _job_problems(args: argparse.Namespace, job_env: dict[str, Any]) -> list[str]:
    """What ``relmas tune`` would refuse when run as the entrypoint of ``ray job submit``."""
    target = ClusterTarget("auto", in_job=True)
    problems: list[str] = []
    uri = args.tracking_uri or job_env.get("MLFLOW_TRACKING_URI")
    if args.no_track:  # not RELMAS_NO_TRACK: this shell's environment does not reach the job
        uri = None
    elif uri is None:
        problems.append(
            "--tracking-uri: not set, so the job would log to sqlite inside its temporary "
            f"working_dir copy; {cluster.SERVER_FIX}"
        )
    checks = [lambda: cluster.resolve_storage(args.storage, target)]
    if uri is not None:
        checks.append(lambda: cluster.check_tracking(TrackingOptions(uri=str(uri)), target))
    for check in checks:
        try:
            check()
        except UserError as exc:
            problems.append(str(exc))
    return problems


def _job_env(target: ClusterTarget, runtime_env: dict[str, Any]) -> dict[str, Any]:
    """The environment the job's entrypoint sees: this one if already inside the job, plus the
    runtime_env's ``env_vars``."""
    return {**(os.environ if target.in_job else {}), **(runtime_env.get("env_vars") or {})}


def _entrypoint(args: argparse.Namespace) -> list[str]:
    """The job's command: config relative to the working_dir (= this cwd) when inside it."""
    config = args.config.resolve()
    rel = config.relative_to(Path.cwd()) if config.is_relative_to(Path.cwd()) else config
    cmd = [*ENTRYPOINT, str(rel), "--storage", str(args.storage)]
    if args.no_track:
        return [*cmd, "--no-track"]
    return [*cmd, "--tracking-uri", args.tracking_uri] if args.tracking_uri else cmd


def _trial_plan(cfg: SweepConfig) -> dict[str, Any]:
    """The sweep's grid as Tune will expand it (scheduler names are validated here)."""
    from relmas.sweeps.space import expected_trials, schedulers_of

    names = [] if cfg.trainable == "rl" else schedulers_of(cfg)
    return {
        "sweep": cfg.name,
        "trainable": cfg.trainable,
        "trials": expected_trials(cfg),
        "scenarios": list(cfg.scenarios),
        "hardware": cfg.hardware.model_dump(exclude_none=True),
        "schedulers": names + (["rl"] if cfg.trainable != "heuristic" else []),
        "search": cfg.search.algorithm,
        "max_concurrent": cfg.search.max_concurrent,
        "cpus_per_trial": cfg.cpus_per_trial,
    }


def _submit_command(args: argparse.Namespace) -> str:
    """``ray job submit ... -- python -m relmas.cli.main tune ...`` for these options."""
    address = args.address if _is_http(args.address) else "http://HEAD:8265"
    submit = ["ray", "job", "submit", "--address", address]
    if args.runtime_env:
        submit += ["--runtime-env", str(args.runtime_env)]
    return shlex.join([*submit, "--", *_entrypoint(args)])


def _dry_run(args: argparse.Namespace, cfg: SweepConfig) -> int:
    """Validate everything that needs no cluster; print the plan and the submit command."""
    from relmas.loaders.scenarios import load_scenario

    target = cluster.resolve_target(None if _is_http(args.address) else args.address)
    storage = cluster.resolve_storage(args.storage, target)
    check_output(storage, "--storage", directory=True)
    options = _options(args, target, storage)
    cluster.check_tracking(options, target)
    for ref in cfg.scenarios:
        load_scenario(ref)
    runtime_env = cluster.load_runtime_env(args.runtime_env, target) if args.runtime_env else {}
    plan = {
        **_trial_plan(cfg),
        "target": target.address or "local",
        "storage": str(storage),
        "tracking_uri": options.resolved_uri if options.enabled else None,
        "notes": cluster.check_package_layout(runtime_env),
        "submit_command": _submit_command(args),
        "submit_problems": _job_problems(args, _job_env(target, runtime_env)),
    }
    _print_plan(args, plan)
    return 0


def _print_plan(args: argparse.Namespace, plan: dict[str, Any]) -> None:
    """JSON, or a table + warnings on stderr + the submit command alone on the last line."""
    if args.json:
        print(dumps(plan))
        return
    skip = ("submit_command", "submit_problems", "notes")
    rows = [[k, fmt(v) if not isinstance(v, list | dict) else str(v)]
            for k, v in plan.items() if k not in skip]  # fmt: skip
    print_table(f"dry run: {args.config.name} (nothing started)", ["field", "value"], rows)
    for line in plan["notes"] + plan["submit_problems"]:
        print(f"relmas: warning: {line}", file=sys.stderr)
    print(plan["submit_command"])


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
    from relmas.sweeps.config import load_sweep, sweep_path

    args.config = sweep_path(args.config)  # from any directory, or by name: heuristics_dse
    cfg = load_sweep(args.config)
    if getattr(args, "dry_run", False):
        return _dry_run(args, cfg)
    target = cluster.resolve_target(args.address)
    storage = cluster.resolve_storage(args.storage, target)
    check_output(storage, "--storage", directory=True)
    options = _options(args, target, storage)
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
