"""The selection scripts behind the shipped recipe run and print paired statistics.

Why: the recipe (tune_configs/train_heavy.yaml) depends on scripts/select_prior.py and
scripts/select_policy.py; a script that silently broke would leave the recipe unreproducible.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*argv: str) -> str:
    out = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=300, cwd=REPO, check=True
    )
    return out.stdout


def test_select_prior_prints_paired_differences_and_the_best() -> None:
    text = _run(
        "scripts/select_prior.py", "--scenario", "toy", "--seeds", "3",
        "--exponents", "0,1", "--jobs", "1",
    )  # fmt: skip
    lines = text.splitlines()
    assert lines[0].startswith("priority_exponent=0: SLA ") and "W/L/T" in lines[0]
    assert lines[1].startswith("priority_exponent=1: SLA ") and "+0.0000 +- 0.0000" in lines[1]
    assert lines[-1] in ("best: priority_exponent=0", "best: priority_exponent=1")


def test_select_policy_lists_the_prior_and_each_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from relmas_testkit import export_policy

    for where in ("imitation/round_00", "checkpoints/iter_000001"):  # both kinds of candidate
        export_policy(
            tmp_path / where,
            prior_weight=1e4,
            planaria_params={"priority_exponent": 0.0},
        )
    text = _run(
        "scripts/select_policy.py", str(tmp_path), "--scenario", "toy", "--seeds", "2",
    )  # fmt: skip
    lines = text.splitlines()
    assert lines[0].startswith("planaria: SLA ")
    prior = lines[1].split("SLA ")[1]
    assert lines[1].startswith("prior alone: planaria {'priority_exponent': 0.0}")
    # a dominant prior: the checkpoint schedules exactly as its prior heuristic
    assert lines[2].startswith("imitation/round_00: SLA ") and lines[2].split("SLA ")[1] == prior
    assert lines[3].startswith("checkpoints/iter_000001: SLA ")
    assert lines[3].split("SLA ")[1] == prior
    assert lines[-1].startswith("best (energy <= +1.5%):")


def test_deviation_probe_fits_a_student_per_weight_and_reuses_its_labels(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import json

    argv = (
        "scripts/deviation_probe.py", "--scenario", "toy", "--episodes", "1",
        "--test-episodes", "1", "--weights", "20,200", "--epochs", "1",
        "--validation-seeds", "2", "--out", str(tmp_path),
    )  # fmt: skip
    lines = _run(*argv).splitlines()
    assert lines[0].startswith("labelled 1+1 episodes in ") and "departures)" in lines[0]
    assert lines[1].startswith("planaria?priority_exponent=0.5: validation SLA ")
    assert [line.split(":")[0] for line in lines[2:]] == ["weight 20", "weight 200"]
    assert all("validation SLA vs planaria?priority_exponent=0.5" in line for line in lines[2:])
    assert all("waits on seed 5000: " in line for line in lines[1:])
    rows = json.loads((tmp_path / "toy_2s2e_results.json").read_text())["rows"]
    assert [r["deviation_weight"] for r in rows] == [20.0, 200.0]
    assert all(0 <= r["departures_right"] <= r["departures"] for r in rows)
    assert (tmp_path / "toy_2s2e_student_w200" / "policy.npz").is_file()
    labels = sorted(tmp_path.glob("labels_toy_2s2e_*.npz"))
    assert len(labels) == 2
    stamps = [p.stat().st_mtime_ns for p in labels]
    _run(*argv[:-2], "--weights", "20", "--out", str(tmp_path))
    assert [p.stat().st_mtime_ns for p in labels] == stamps  # labelled once, read back


def test_deviation_probe_runs_dagger_rounds_and_a_gate(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import json

    argv = (
        "scripts/deviation_probe.py", "--scenario", "toy", "--episodes", "1",
        "--test-episodes", "1", "--epochs", "1", "--validation-seeds", "1",
        "--out", str(tmp_path),
    )  # fmt: skip
    lines = _run(*argv, "--weights", "20", "--dagger-rounds", "1", "--dagger-episodes", "1")
    assert [line.split(":")[0] for line in lines.splitlines()[2:]] == [
        "weight 20", "weight 20 after DAgger round 1",
    ]  # fmt: skip
    (row,) = json.loads((tmp_path / "toy_2s2e_results_dagger1.json").read_text())["rows"]
    rounds = row["dagger"]
    assert [r["round"] for r in rounds] == [0, 1]
    assert rounds[1]["states"] > rounds[0]["states"]  # the student's own states were added
    lines = _run(*argv, "--gate", "--wait-slack").splitlines()
    assert len(lines) == 2 and lines[1].startswith("gate: share of held-out departures")
    gate_file = tmp_path / "toy_2s2e_results_gate_waitslack.json"
    gate = json.loads(gate_file.read_text())["gate_recall"]
    assert list(gate) == ["0.01", "0.02", "0.05", "0.1", "0.2"]
    assert all(0.0 <= v <= 1.0 for v in gate.values())
    assert len(list(tmp_path.glob("labels_toy_2s2e_*.npz"))) == 4  # another layout: relabelled


def test_ensemble_dagger_probe_refits_every_member_and_pairs_three_rows(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import json

    import numpy as np

    from relmas.rl.policy_scheduler import resolve_policy_dir

    out = tmp_path / "refit"  # on 4s4e: more units than the members were trained with
    argv = (
        "scripts/ensemble_dagger_probe.py", "--out", str(out), "--label", "toy:0:1",
        "--hardware", "4s4e", "--epochs", "1", "--validate", "toy", "--seeds", "2",
        "--jobs", "1",
    )  # fmt: skip
    (row,) = [json.loads(line) for line in _run(*argv).splitlines()]
    assert (row["scenario"], row["hardware"]) == ("toy", "4s4e") and len(row["refit_per_seed"]) == 2
    for key, (a, b) in {
        "refit_minus_ensemble": ("refit_per_seed", "ensemble_per_seed"),
        "ensemble_minus_reference": ("ensemble_per_seed", "reference_per_seed"),
    }.items():
        assert row[key]["mean"] == pytest.approx(np.mean(np.subtract(row[a], row[b])))
    shipped = resolve_policy_dir("gate_ensemble")
    members = json.loads((shipped / "ensemble.json").read_text())["members"]
    assert json.loads((out / "ensemble.json").read_text())["members"] == members
    old, new = (np.load(d / members[0] / "policy.npz") for d in (shipped, out))
    assert set(old) == set(new)
    assert np.array_equal(old["pre_w0"], new["pre_w0"])  # only the pair head is trained
    assert not np.array_equal(old["pair_w0"], new["pair_w0"])
    again = tmp_path / "again"  # the same labels, another fit: nothing is labelled anew
    argv2 = (*argv[:2], str(again), "--labels", str(out / "labels.npz"), *argv[5:])
    (row2,) = [json.loads(line) for line in _run(*argv2, "--no-bag").splitlines()]
    assert row2["label"] == str(out / "labels.npz") and not (again / "labels.npz").exists()
    assert row2["ensemble_per_seed"] == row["ensemble_per_seed"]


NOPE = "unknown name 'nope'"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("scripts/select_prior.py", "--scenario", "nope"), NOPE),
        (("scripts/select_policy.py", "RUN", "--scenario", "nope"), NOPE),
        (("scripts/deviation_probe.py", "--scenario", "nope", "--out", "OUT"), NOPE),
        (("scripts/deviation_probe.py", "--base", "nope", "--out", "OUT"), NOPE),
        (("scripts/deviation_probe.py", "--dagger-rounds", "-1", "--out", "OUT"), "must be >= 0"),
        (("scripts/ensemble_dagger_probe.py", "--label", "heavy:x:1", "--out", "OUT"), "--label"),
        (
            ("scripts/ensemble_dagger_probe.py", "--labels", "RUN/no.npz", "--out", "OUT"),
            "--labels",
        ),
        (
            ("scripts/ensemble_dagger_probe.py", "--ensemble", "default", "--out", "OUT"),
            "no ensemble.json",
        ),
    ],
)
def test_scripts_refuse_bad_input_in_one_line(
    tmp_path: Path, argv: tuple[str, ...], says: str
) -> None:
    out = tmp_path / "probe"
    args = [{"RUN": str(tmp_path), "OUT": str(out)}.get(a, a) for a in argv]
    args = [a.replace("RUN/", f"{tmp_path}/") for a in args]
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and says in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # nothing written


@pytest.mark.parametrize("gated", [False, True])
def test_policy_departures_counts_none_for_a_policy_that_is_its_prior(
    tmp_path: Path, gated: bool
) -> None:
    pytest.importorskip("torch")
    import json

    from relmas_testkit import export_policy

    gate = {"outlook": True, "outlook_gate": True} if gated else {}
    export_policy(
        tmp_path / "p", prior_weight=1e4, planaria_params={"priority_exponent": 0.5}, **gate
    )
    text = _run(
        "scripts/policy_departures.py", "--policy", str(tmp_path / "p"), "--scenario", "toy",
        "--hardware", "2s2e,1s2e", "--seeds", "0,1", "--requests", "30",
    )  # fmt: skip
    rows = [json.loads(line) for line in text.splitlines()]
    assert [r["hardware"] for r in rows] == ["2s2e", "1s2e"]
    for row in rows:  # a dominant prior takes Planaria's dispatch (or wait) at every decision
        counts = row["per_episode"]
        same, closed = counts.pop("same_as_planaria"), counts.pop("gate_closed")
        assert same > 0
        # the gate leaves only Planaria's action, so it can close only on such decisions
        assert (0 < closed <= same + counts.get("wait", 0)) if gated else closed == 0
        assert counts.pop("sla_rate_permille") == counts.pop("reference_sla_rate_permille")
        assert set(counts) <= {"wait"}, counts


def _departures_at_first_decision(tmp_path: Path) -> tuple[Any, Any, list[Any]]:
    """``scripts/policy_departures.py`` as a module, a small pair-head policy, and its
    decisions at the first decision point of a toy run (the encoder then holds that state)."""
    import importlib.util

    import numpy as np
    from relmas_testkit import export_policy

    from relmas.env.sources import ToySource
    from relmas.rl.policy_scheduler import load_policy_scheduler

    spec = importlib.util.spec_from_file_location(
        "departures", REPO / "scripts/policy_departures.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    export_policy(tmp_path / "pair", pair_hidden=[8])
    sched = load_policy_scheduler(tmp_path / "pair")
    sim = ToySource({"hardware": "2s2e", "num_requests": 10}).make_simulator(0)
    sched.reset(sim, np.random.default_rng(0))
    assert sim.advance()
    return script, sched, sched.decide(sim)


def test_policy_departures_wait_bias_lowers_only_the_wait_logit(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    import numpy as np
    from relmas_testkit import export_policy

    script, sched, _ = _departures_at_first_decision(tmp_path)
    enc = sched.encoder
    before = sched.policy.logits(enc.obs.copy(), enc.layout)
    script.lower_wait_logit(sched, 2.5)
    after = sched.policy.logits(enc.obs.copy(), enc.layout)
    np.testing.assert_allclose(after[:-1], before[:-1])
    assert after[-1] == pytest.approx(before[-1] - 2.5, abs=1e-5)
    export_policy(tmp_path / "flat")  # no pair head: one line, exit 2
    run = subprocess.run(
        [sys.executable, "scripts/policy_departures.py", "--policy", str(tmp_path / "flat"),
         "--scenario", "toy", "--seeds", "0", "--requests", "10", "--wait-bias", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [
        "policy_departures.py: error: --wait-bias: the policy has no pair head; "
        "use a pair-head policy"
    ]


def test_policy_departures_wait_bias_lowers_every_members_wait_logit(tmp_path: Path) -> None:
    """An ensemble's ``pair`` is its first member's head: the bias must reach each member."""
    pytest.importorskip("torch")
    from relmas_testkit import export_policy

    from relmas.rl.ensemble import write_ensemble
    from relmas.rl.export import read_meta
    from relmas.rl.policy_scheduler import load_policy_scheduler

    script, sched, _ = _departures_at_first_decision(tmp_path)
    enc = sched.encoder
    export_policy(tmp_path / "pair2", pair_hidden=[8], seed=1)
    sources = [tmp_path / "pair", tmp_path / "pair2"]
    write_ensemble(tmp_path / "ens", sources, [read_meta(d) for d in sources])
    ens = load_policy_scheduler(tmp_path / "ens")
    before = [m.logits(enc.obs.copy(), enc.layout) for m in ens.policy.members]
    script.lower_wait_logit(ens, 1.5)
    for member, old in zip(ens.policy.members, before, strict=True):
        new = member.logits(enc.obs.copy(), enc.layout)
        assert new[-1] == pytest.approx(old[-1] - 1.5, abs=1e-5)
        assert (new[:-1] == old[:-1]).all()


def test_policy_departures_planaria_unit_replaces_only_the_unit_swaps(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from relmas.sim.request import Dispatch

    script, sched, mine = _departures_at_first_decision(tmp_path)
    request, unit = sched.encoder.choice
    swapped = script.on_planaria_unit(sched, "planaria_request_on_eyeriss", mine)
    assert swapped == [Dispatch(request, unit)]
    for kind in ("same_as_planaria", "other_request", "wait_where_planaria_dispatches"):
        assert script.on_planaria_unit(sched, kind, mine) is mine


def test_pair_validation_prints_every_training_pair(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from relmas_testkit import export_policy

    policy = tmp_path / "checkpoints" / "iter_000001"
    export_policy(policy, prior_weight=1e4, planaria_params={"priority_exponent": 0.0})
    text = _run(
        "scripts/pair_validation.py", str(tmp_path), str(policy), "--seeds", "2",
        "--against", "fcfs", "--jobs", "1",
    )  # fmt: skip
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("toy/")
    # no teacher.json: the base is the recipe's Planaria, which a dominant prior reproduces
    assert "base planaria?priority_exponent=0.0 " in lines[0]
    assert lines[0].endswith("policy - base +0.0000")
    assert lines[1].startswith("all pairs: policy - fcfs ")
    assert lines[2] == "all pairs: policy - base +0.0000 +- 0.0000 (0/0/2)"
