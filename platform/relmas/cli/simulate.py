"""``relmas simulate`` (one scheduler, one seed) and ``relmas list`` (what can be named)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from relmas.cli.common import (
    check_output,
    fmt,
    non_negative_int,
    output_errors,
    positive_float,
    print_table,
)
from relmas.errors import UserError
from relmas.experiment import load_setup, make_simulator
from relmas.files import dumps, write_atomic
from relmas.loaders.safe_yaml import parse_yaml
from relmas.schedulers import make_scheduler, scheduler_class, scheduler_names
from relmas.sim.metrics import compute_metrics
from relmas.tracking import add_tracking_args, log_simulation

SCENARIO_HELP = "scenario preset (relmas list) or a scenario YAML path"
HARDWARE_HELP = (
    "chip: a composition (relmas hw list) or <N>s<M>e@<GB/s>, e.g. 3s1e@20 = 3 Simba-like + "
    "1 Eyeriss-like sharing 20 GB/s of DRAM bandwidth"
)


def register(subparsers: Any) -> None:
    """Add ``simulate`` and ``list``."""
    p = subparsers.add_parser("simulate", help="run one scheduler on one scenario and seed")
    add_setup_args(p)
    p.add_argument("--scheduler", default="edf",
                   help="scheduler name (relmas list), pkg.mod:Class or rl:DIR")  # fmt: skip
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="scheduler parameter, repeatable, e.g. --param beta=0.05")  # fmt: skip
    p.add_argument("--seed", type=non_negative_int, default=0, help="workload and scheduler seed")
    p.add_argument("--trace-out", type=Path, default=None,
                   help="write the per-layer schedule to this CSV (default: none)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print metrics as JSON, not a table")
    add_tracking_args(p)
    p.set_defaults(func=cmd_simulate)
    lp = subparsers.add_parser("list", help="list schedulers (with parameters) and scenarios")
    lp.add_argument("--json", action="store_true", help="print JSON, not tables")
    lp.set_defaults(func=cmd_list)


def add_setup_args(p: argparse.ArgumentParser) -> None:
    """``--scenario``, ``--hardware`` and ``--bandwidth-gbps``, shared by several commands."""
    p.add_argument("--scenario", default="heavy", help=SCENARIO_HELP)
    p.add_argument("--hardware", default="2s2e", help=HARDWARE_HELP)
    p.add_argument("--bandwidth-gbps", type=positive_float, default=None,
                   help="DRAM bandwidth in GB/s (default: the composition's own)")  # fmt: skip


def parse_params(items: list[str], flag: str = "--param") -> dict[str, Any]:
    """``["beta=0.05", "variant=ae"]`` -> ``{"beta": 0.05, "variant": "ae"}`` (YAML scalars)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(flag, f"{item!r} is not KEY=VALUE", f"e.g. {flag} beta=0.05")
        out[key.strip()] = parse_yaml(value, f"{flag} {key.strip()}", repr(value))
    return out


def metric_rows(m: dict[str, Any]) -> list[list[str]]:
    """Rows of the human-readable metrics table."""
    keys = [
        ("sla_rate", ""), ("violation_rate", ""), ("drop_rate", ""), ("antt", ""), ("stp", ""),
        ("fairness", ""), ("p50_latency_s", " s"), ("p99_latency_s", " s"),
        ("throughput_per_s", " /s"), ("energy_j", " J"), ("energy_per_inference_j", " J"),
        ("edp", " J·s"), ("mean_utilization", ""), ("dram_utilization", ""),
        ("requests", ""), ("dispatches", ""),
    ]  # fmt: skip
    rows = [[k, fmt(m[k], u)] for k, u in keys]
    rows.append(["utilization", " ".join(f"{u:.2f}" for u in m["utilization"])])
    rows += [[f"sla_rate[{t}]", fmt(v)] for t, v in m["sla_rate_per_tenant"].items()]
    return rows


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run one simulation and print its metrics."""
    if args.trace_out is not None:
        check_output(args.trace_out, "--trace-out", directory=False)
    setup = load_setup(args.scenario, args.hardware, args.bandwidth_gbps)
    sched_params = parse_params(args.param)
    scheduler = make_scheduler(args.scheduler, sched_params)
    sim = make_simulator(
        setup, args.seed, record_trace=args.trace_out is not None,
        bandwidth_policy=scheduler.bandwidth_policy,
    )  # fmt: skip
    res = sim.run(scheduler, seed=args.seed)
    metrics = compute_metrics(res, [t.name for t in setup.scenario.tenants])
    if args.trace_out:
        lines = ["accel,accel_type,request,model,layer,start_s,end_s"]
        lines += [
            f"{a},{res.accel_types[a]},{rid},{res.model_names[res.model[rid]]},{layer},{s!r},{e!r}"
            for a, rid, layer, s, e in res.trace
        ]
        with output_errors("--trace-out"):
            write_atomic(args.trace_out, "\n".join(lines) + "\n")
    if args.json:
        print(dumps({"scenario": args.scenario, "hardware": args.hardware,
                     "scheduler": args.scheduler, "seed": args.seed, **metrics}))  # fmt: skip
    else:
        title = f"{args.scheduler} on {args.scenario} / {args.hardware}, seed {args.seed}"
        print_table(title, ["metric", "value"], metric_rows(metrics))
    log_simulation(args, setup, metrics, sched_params, [args.trace_out] if args.trace_out else [])
    return 0


def param_label(name: str, annotation: Any) -> str:
    """``form=relmas|dysta`` for a parameter with fixed choices, else the bare name.

    The choices are where a scheduler's published forms show (``form``), so ``relmas list``
    names them without the reader opening ``--json`` or the code.
    """
    if get_origin(annotation) is Literal:
        return f"{name}={'|'.join(str(c) for c in get_args(annotation))}"
    return name


def cmd_list(args: argparse.Namespace) -> int:
    """List schedulers with their parameters, scenario presets and the shipped RL policies."""
    from relmas.loaders.scenarios import scenario_names

    info, labels = {}, {}
    for name in scheduler_names(lookahead=True):  # rollout too: it can be named everywhere
        cls = scheduler_class(name)
        fields = cls.Params.model_fields
        params = {k: f.description or "" for k, f in fields.items()}
        summary = ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        info[name] = {"summary": summary, "params": params}
        labels[name] = [param_label(k, f.annotation) for k, f in fields.items()]
    from relmas.rl.shipped import shipped_policies

    policies = shipped_policies()
    if args.json:
        print(dumps({"schedulers": info, "scenarios": scenario_names(), "policies": policies}))
        return 0
    rows = [[n, d["summary"], ", ".join(labels[n]) or "-"] for n, d in info.items()]
    print_table("schedulers", ["name", "summary", "parameters"], rows)
    print("form (the first choice is the default): relmas = relmas's own adaptation; dysta = the "
          "Dysta authors' re-implementation (SamsungLabs/Sparse-Multi-DNN-Scheduling); authors = "
          "Planaria's own code (he-actlab/planaria.code). docs/peers_as_published.md")  # fmt: skip
    print_table("scenarios (envs/)", ["name"], [[s] for s in scenario_names()])
    rows = [
        [f"rl:{name}", ", ".join(p["scenarios"]), ", ".join(p["hardware"]),
         "routed (below)" if "router" in p else "yes (a specialist)" if p["outlook_gate"]
         else "no", "routed" if "router" in p else str(p["iterations"]), str(p["members"])]
        for name, p in policies.items()
    ]  # fmt: skip
    head = ["scheduler", "trained on", "chips", "outlook gate", "PPO iterations", "policies"]
    print_table("shipped RL policies (docs/rl.md)", head, rows)
    for name, p in policies.items():
        if "router" in p:
            r = p["router"]
            searched = f", searching {r['search']} actions where its gate is open" if r[
                "search"] else ""  # fmt: skip
            print(f"rl:{name}: {r['tight']} once a request's SLA multiplier is below "
                  f"{r['threshold']:g}, {r['calm']} before{searched} (relmas route)")  # fmt: skip
    return 0
