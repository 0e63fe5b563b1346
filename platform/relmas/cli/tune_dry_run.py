"""``relmas tune --dry-run``: check a sweep and its cluster settings, print the trial plan and
the ``ray job submit`` command; start nothing. Also the tracking options a sweep runs with."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relmas.cli.common import check_output, fmt, print_table
from relmas.errors import UserError
from relmas.files import dumps
from relmas.sweeps import cluster
from relmas.sweeps.cluster import ClusterTarget
from relmas.tracking import TrackingOptions, options_from_args

if TYPE_CHECKING:
    from relmas.sweeps.config import SweepConfig

ENTRYPOINT = ["python", "-m", "relmas.cli.main", "tune"]


def tracking_options(
    args: argparse.Namespace, target: ClusterTarget, storage: Path
) -> TrackingOptions:
    """Tracking options; inside a job, runs kept offline go to the (persistent) storage root
    rather than the job's temporary working_dir copy."""
    options = options_from_args(args)
    if target.in_job:
        options = dataclasses.replace(options, offline_dir=storage / "mlflow_offline")
    return options


def is_http(address: str | None) -> bool:
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
    address = args.address if is_http(args.address) else "http://HEAD:8265"
    submit = ["ray", "job", "submit", "--address", address]
    if args.runtime_env:
        submit += ["--runtime-env", str(args.runtime_env)]
    return shlex.join([*submit, "--", *_entrypoint(args)])


def dry_run(args: argparse.Namespace, cfg: SweepConfig) -> int:
    """Validate everything that needs no cluster; print the plan and the submit command."""
    from relmas.loaders.scenarios import load_scenario

    target = cluster.resolve_target(None if is_http(args.address) else args.address)
    storage = cluster.resolve_storage(args.storage, target)
    check_output(storage, "--storage", directory=True)
    options = tracking_options(args, target, storage)
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
