"""Bad input at every entry point: one line naming the field, exit 2, no traceback, no files.

One table, one row per mistake. Rows run in-process through ``main(argv)`` (fast); the rows
marked ``sub`` also run the real CLI in a subprocess, so argument parsing, imports and the
exit code are checked end to end. ``{in}`` holds the row's input files, ``{out}`` must still be
absent afterwards; ``edit`` rows change a copy of the data root used as ``RELMAS_HOME``.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from relmas.cli.main import main
from relmas.loaders.paths import data_root

POLICY = Path(__file__).resolve().parents[2] / "platform/relmas/rl/policies/default"
TENANT = {"name": "a", "models": {"resnet50": 1}, "sla_multiplier": 2.0,
          "arrival": {"process": "poisson", "rate_per_s": 10.0}}  # fmt: skip
SWEEP = {"name": "x", "trainable": "heuristic", "scenarios": ["medium"],
         "hardware": {"n_simba": 1, "n_eyeriss": 1, "dram_bandwidth_gbps": 8}}  # fmt: skip
# Billion laughs: 9 levels of 9 aliases each expand to 9**9 nodes from ~500 bytes.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in itertools.pairwise("abcdefghi")
)


def s(top: dict[str, Any] | None = None, **tenant: Any) -> dict[str, str]:
    """Files of a row: a valid 10-request scenario with ``top`` keys or tenant fields changed."""
    data: dict[str, Any] = {"name": "s", "num_requests": 10, "tenants": [{**TENANT, **tenant}]}
    return {"s.yaml": yaml.safe_dump({**data, **(top or {})})}


def trace(csv_text: str | bytes) -> dict[str, str | bytes]:
    """Files of a row whose scenario replays ``t.csv``."""
    return {**s(arrival={"process": "trace", "path": "t.csv"}), "t.csv": csv_text}


def w(**over: Any) -> dict[str, str]:
    """Files of a row with a sweep file, top-level keys overridden (None deletes a key)."""
    data = {**copy.deepcopy(SWEEP), **over}
    return {"w.yaml": yaml.safe_dump({k: v for k, v in data.items() if v is not None})}


def policy(edit: Callable[[dict[str, Any]], Any] = dict, npz: bytes = b"", text: str = "") -> Any:
    """Setup step: a copy of the shipped policy in ``{in}/pol``, policy.json or npz edited."""

    def make(where: Path) -> None:
        shutil.copytree(POLICY, where / "pol")
        meta = json.loads((where / "pol/policy.json").read_text())
        edit(meta)
        (where / "pol/policy.json").write_text(text or json.dumps(meta))
        if npz:
            (where / "pol/policy.npz").write_bytes(npz)

    return make


def ensemble(doc: dict[str, Any], members: int = 0) -> Any:
    """Setup step: ``{in}/e`` holds ``ensemble.json`` = ``doc`` and ``members`` copies of the
    shipped policy as ``member_NN``."""

    def make(where: Path) -> None:
        (where / "e").mkdir()
        (where / "e/ensemble.json").write_text(json.dumps(doc))
        for i in range(members):
            shutil.copytree(POLICY, where / f"e/member_{i:02d}")

    return make


ENS = {"format_version": 1, "combine": "mean_probability", "members": ["member_00", "member_01"]}
ROUTER = {"format_version": 1, "route": "min_sla_multiplier", "threshold": 2, "tight": "rl:default",
          "calm": "rl:gate_ensemble"}  # fmt: skip


@dataclass(frozen=True)
class Case:
    id: str
    argv: str
    field: str  # substring naming the field (or flag) in the one-line message
    hint: str = ""  # further substring, e.g. the "did you mean"
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    edit: tuple[str, str, str] | None = None  # (file in hardware_models/ of a copy, old, new)
    sub: bool = False  # also run as a real subprocess
    xfail: str = ""


SIM = "simulate --scenario {in}/s.yaml"
TUNE = "tune {in}/w.yaml --storage {out}"
EVAL = "evaluate --checkpoint {in}/pol --seeds 1"
POL = f"evaluate --checkpoint {POLICY} --seeds 1"
TRAIN = "train --out {out}"
HW = dict(SWEEP["hardware"])
LAY = "hw layers --model vgg16 --accel "
CSV = "arrival_s,model"
CASES = [
    # hw and the hardware YAML files (edited in a copy of the data root)
    Case("hw-model-typo", "hw layers --model resnt50 --accel simba", "model", "'resnet50'"),
    Case("hw-accel-typo", "hw layers --model alexnet --accel eyris", "accel", "'eyeriss'"),
    Case("hw-bandwidth-inf", LAY + "simba --bandwidth-gbps inf", "--bandwidth-gbps", "finite"),
    Case("hw-missing-flag", "hw layers --model alexnet", "--accel", "required"),
    Case("hw-out-is-file", "hw compare --model vgg16 --out {in}/f", "--out", files={"f": "x"}),
    Case("hwyaml-syntax", "simulate", "simba.yaml", "not valid YAML",
         edit=("simba.yaml", "name: simba", "name: [simba")),
    Case("hwyaml-negative", LAY + "simba", "energy_per_byte_j", edit=("dram.yaml", "64.0", "-6")),
    Case("hwyaml-inf", LAY + "eyeriss", "clock_hz", "finite",
         edit=("eyeriss.yaml", "1.0e9", ".inf")),
    Case("hwyaml-key-typo", LAY + "eyeriss", "clock_hzz", "'clock_hz'",
         edit=("eyeriss.yaml", "clock_hz:", "clock_hzz:")),
    Case("hwyaml-type-typo", "simulate", "counts.simbaa", "'simba'",
         edit=("compositions.yaml", "{simba: 2, eyeriss: 2}", "{simbaa: 2}")),
    Case("hwyaml-duplicate", "simulate", "compositions.yaml", "duplicate key '2s2e'",
         edit=("compositions.yaml", "  3s1e:", "  2s2e:")),
    Case("hwyaml-bomb", "simulate", "compositions.yaml", "aliases",
         edit=("compositions.yaml", "compositions:", BOMB + "compositions:")),
    # simulate
    Case("sim-scenario-typo", "simulate --scenario heavvy", "scenario", "'heavy'", sub=True),
    Case("sim-hardware-typo", "simulate --hardware 2s2", "hardware", "'2s2e'"),
    Case("sim-hardware-inf", "simulate --hardware 2s2e@1e999", "hardware", "finite"),
    Case("sim-hardware-huge", "simulate --hardware 100000s1e@10", "hardware", "at most"),
    Case("sim-scheduler-typo", "simulate --scheduler planria", "scheduler", "'planaria'", sub=True),
    Case("sim-scheduler-nosuch", "simulate --scheduler nosuch", "scheduler", "choose one of"),
    Case("sim-rl-no-dir", "simulate --scheduler rl:/no/such/dir", "checkpoint", sub=True),
    Case("sim-rl-empty", "simulate --scheduler rl:", "checkpoint", "rl:default"),
    Case("sim-rl-param", "simulate --scheduler rl:default --param x=1", "--param", "take no 'x'"),
    Case("sim-module-missing", "simulate --scheduler no_such_mod:Cls", "scheduler", "import"),
    Case("sim-module-colon", "simulate --scheduler :", "scheduler", "module:ClassName"),
    Case("sim-param-yaml", "simulate --scheduler dysta --param x=[1", "--param x", "YAML"),
    Case("sim-param-typo", "simulate --scheduler dysta --param bta=1", "params.bta", "'beta'"),
    Case("sim-param-nan", "simulate --scheduler dysta --param beta=.nan", "params.beta"),
    Case("sim-seed-negative", "simulate --seed -1", "--seed", ">= 0"),
    Case("sim-flag-typo", "simulate --sheduler edf", "--sheduler", "'--scheduler'"),
    Case("sim-command-typo", "simulte", "simulte", "'simulate'", sub=True),
    Case("sim-trace-out-dir", SIM + " --trace-out {in}", "--trace-out", files=s()),
    # scenario YAML
    Case("scn-not-yaml", "simulate --scenario {in}/s.txt", "scenario", files={"s.txt": "x"}),
    Case("scn-syntax", SIM, "scenario", "not valid YAML", files={"s.yaml": "name: [s\n"}),
    Case("scn-bomb", SIM, "scenario", "aliases", files={"s.yaml": BOMB + s()["s.yaml"]}, sub=True),
    Case("scn-recursive", SIM, "scenario", "recursive", files={"s.yaml": "name: &a [*a]\n"}),
    Case("scn-deep", SIM, "scenario", "nested", files={"s.yaml": "x: " + "[" * 1000}),
    Case("scn-huge", SIM, "scenario", "limit", files={"s.yaml": ""},
         setup=lambda d: os.truncate(d / "s.yaml", 11 * 2**20)),  # sparse: instant, no disk
    Case("scn-not-utf8", SIM, "scenario", "UTF-8", files={"s.yaml": b"name: \xff\xfe\n"}),
    Case("scn-dup-key", SIM, "scenario", "duplicate key 'a'", files={"s.yaml": "a: 1\na: 2"}),
    Case("scn-same-tenants", SIM, "scenario", "unique", files=s({"tenants": [TENANT] * 2})),
    Case("scn-key-typo", SIM, "sla_multipler", "'sla_multiplier'", files=s(sla_multipler=2)),
    Case("scn-neg", SIM, "rate_per_s", files=s(arrival={"process": "poisson", "rate_per_s": -1})),
    Case("scn-nan", SIM, "sla_multiplier", "finite", files=s(sla_multiplier=float("nan"))),
    Case("scn-wrong-type", SIM, "num_requests", files=s({"num_requests": "many"})),
    Case("scn-model-typo", SIM, "model", "'resnet50'", files=s(models={"resnet5": 1})),
    Case("scn-10e11-requests", SIM, "tenant a", "arrivals", files=s({"num_requests": 10**11})),
    Case("scn-huge-priority", SIM, "tenants.0", "priorities", files=s(priority=10**12)),
    # trace CSV
    Case("csv-unsorted", SIM, "row 3", "backwards", files=trace(f"{CSV}\n2,vgg16\n1,vgg16\n")),
    Case("csv-negative", SIM, "row 2", "arrival_s", files=trace(f"{CSV}\n-1,vgg16\n")),
    Case("csv-not-utf8", SIM, "trace t.csv", "UTF-8", files=trace(b"arrival_s\n\xff\n")),
    Case("csv-deadline", SIM, "row 2", "deadline_s", files=trace(f"{CSV},deadline_s\n1,vgg16,0\n")),
    Case("csv-priority", SIM, "row 2", "priority", files=trace(f"{CSV},priority\n1,vgg16,0.5\n")),
    Case("csv-empty", SIM, "trace t.csv", "no rows", files=trace(f"{CSV}\n")),
    Case("csv-model-typo", SIM, "model", "'alexnet'", files=trace(f"{CSV}\n1,alexnt\n")),
    Case("csv-missing", SIM, "arrival.path", "does not exist",
         files=s(arrival={"process": "trace", "path": "gone.csv"})),
    # compare, capacity
    Case("cmp-scheduler-typo", "compare --schedulers fcfs,planria", "--schedulers", "'planaria'"),
    Case("cmp-empty-schedulers", "compare --schedulers , --out {out}", "--schedulers", "empty"),
    Case("cmp-zero-seeds", "compare --seeds 0 --out {out}", "--seeds", "> 0", sub=True),
    Case("cmp-empty-loads", "compare --loads , --out {out}", "--loads"),
    Case("cmp-out-is-file", "compare --out {in}/f", "--out", "not a directory", files={"f": ""}),
    Case("cmp-rl-no-dir", "compare --schedulers rl:/no/such --seeds 1 --out {out}", "checkpoint"),
    Case("cap-fixed-rates", "capacity --scenario arvr", "--scenario", "fixed rates"),
    # train (validated before Ray starts: the no_ray fixture fails a row that gets that far)
    Case("train-scenario-typo", TRAIN + " --scenario heavvy", "scenario", "'heavy'"),
    Case("train-lr-inf", TRAIN + " --lr inf", "lr", "finite"),
    Case("train-ensemble-one", TRAIN + " --ensemble-seeds 4", "ensemble_seeds", "two or more"),
    Case("train-ensemble-twice", TRAIN + " --ensemble-seeds 1,1", "ensemble_seeds", "distinct"),
    Case("train-ensemble-init", TRAIN + " --ensemble-seeds 0,1 --init {in}", "--init",
         "one seed"),
    Case("train-hidden-empty", TRAIN + " --hidden ,", "hidden", "at least 1"),
    Case("train-reward-typo", TRAIN + " --reward slaa", "reward.name", "'sla'"),
    Case("train-reward-coef", "train --config {in}/c.yaml --out {out}", "reward.energy", "finite",
         files={"c.yaml": "reward: {name: sla, energy: abc}\n"}),
    Case("train-planaria-params", "train --config {in}/c.yaml --out {out}",
         "planaria_params: priority_exponet", "'priority_exponent'",
         files={"c.yaml": "planaria_params: {priority_exponet: 0.5}\n"}),
    Case("train-rule-typo", TRAIN + " --candidates heuristc", "candidates", "'heuristic'"),
    Case("train-config-typo", "train --config {in}/c.yaml --out {out}", "iteratons",
         "'iterations'", files={"c.yaml": "iteratons: 3\n"}),
    Case("train-bomb", "train --config {in}/c.yaml", "--config", "aliases", files={"c.yaml": BOMB}),
    Case("train-out-is-file", "train --out {in}/f", "out", "not a directory", files={"f": ""}),
    Case("train-seed-negative", TRAIN + " --seed -1", "seed", "greater than or equal to 0"),
    Case("train-dagger-rounds", "train --config {in}/c.yaml --out {out}", "imitation.rounds",
         "greater than or equal to 1",
         files={"c.yaml": "pair_hidden: [16]\nimitation: {rounds: 0}\n"}),
    Case("train-dagger-teacher", "train --config {in}/c.yaml --out {out}", "imitation.teacher",
         "'rollout'", files={"c.yaml": "pair_hidden: [16]\nimitation: {teacher: rolout}\n"}),
    Case("train-dagger-weights", "train --config {in}/c.yaml --out {out}",
         "imitation.scenario_weights", "choose one of: heavy",
         files={"c.yaml": "pair_hidden: [16]\nimitation: {scenario_weights: {tihgt: 4}}\n"}),
    Case("train-dagger-flat", "train --config {in}/c.yaml --out {out}", "top level", "pair_hidden",
         files={"c.yaml": "imitation: {rounds: 1}\n"}),
    Case("train-init-missing", TRAIN + " --init {in}/nothing", "--init", "round_NN"),
    # evaluate: checkpoints (a copy of the shipped policy, edited)
    Case("eval-no-dir", "evaluate --checkpoint /no/such/dir", "checkpoint", "does not exist"),
    Case("eval-env-version", EVAL, "checkpoint", "retrain",
         setup=policy(lambda m: m.update(env_version=99)), sub=True),
    Case("eval-missing-key", EVAL, "checkpoint", "'obs_dim' is None",
         setup=policy(lambda m: m.pop("obs_dim"))),
    Case("eval-bad-npz", EVAL, "checkpoint", "policy.npz", setup=policy(npz=b"not a zip")),
    Case("eval-bad-json", EVAL, "checkpoint", "JSON", setup=policy(text="{oops")),
    Case("eval-scenario-typo", POL + " --scenario heavvy", "scenario", "'heavy'"),
    Case("eval-unknown-type", EVAL + " --hardware 1s3e", "hardware", "'eyeriss' is not one",
         setup=policy(lambda m: m.update(types=["simba"]))),
    Case("eval-first-seed", POL + " --first-seed -5", "seed", ">= 0"),
    # ensemble: writing one (nothing written on error) and loading a damaged one
    Case("ens-one-member", "ensemble --out {out} default", "members", "2 or more"),
    Case("ens-two-recipes", "ensemble --out {out} default medium_specialist", "members",
         "obs_dim", sub=True),
    Case("ens-no-dir", "ensemble --out {out} default /no/such", "checkpoint", "not found"),
    Case("ens-out-exists", "ensemble --out {in}/f default default", "--out", "new directory",
         files={"f": "x"}),
    Case("ens-escapes", "evaluate --checkpoint {in}/e --seeds 1", "checkpoint",
         "not a relmas ensemble", setup=ensemble({**ENS, "members": ["../pol"]})),
    Case("ens-combine", "evaluate --checkpoint {in}/e --seeds 1", "checkpoint",
         "mean_probability", setup=ensemble({**ENS, "combine": "vote"}, 2)),
    Case("ens-missing-member", "simulate --scheduler rl:{in}/e", "checkpoint", "member_01",
         setup=ensemble(ENS, 1)),
    # router: writing one (nothing written on error) and loading a damaged one
    Case("route-threshold", "route --out {out} --tight rl:default --calm default --threshold 1",
         "threshold", "> 1"),
    Case("route-no-dir", "route --out {out} --tight rl:default --calm /no/such --threshold 2",
         "--calm", "does not exist"),
    Case("route-escapes", "simulate --scheduler rl:{in}/r", "checkpoint", "not a relmas router",
         files={"r/router.json": json.dumps({**ROUTER, "calm": "../pol"})}),
    Case("route-unknown-shipped", "simulate --scheduler rl:{in}/r", "checkpoint",
         "not a shipped policy", files={"r/router.json": json.dumps({**ROUTER, "calm": "rl:x"})}),
    Case("route-search", "route --out {out} --tight rl:default --calm gate_ensemble --threshold 2 "
         "--search -1", "search", "0 to 16"),
    Case("route-search-file", "simulate --scheduler rl:{in}/r", "checkpoint", "search 'x'",
         files={"r/router.json": json.dumps({**ROUTER, "search": "x"})}),
    # search: only a gated policy, a small whole number of actions
    Case("search-ungated", "simulate --scheduler rl:default?search=2", "search_base",
         "without an outlook gate"),
    Case("search-width", "simulate --scheduler rl:gate_ensemble?search=2.5", "search",
         "whole number"),
    Case("eval-zero-seeds", f"evaluate --checkpoint {POLICY} --seeds 0 --scenario {{in}}/s.yaml",
         "--seeds", files=s()),
    Case("eval-also-typo", f"evaluate --checkpoint {POLICY} --seeds 1 --scenario {{in}}/s.yaml "
         "--also planria", "scheduler", "'planaria'", files=s()),
    # tune: the sweep file (validated before Ray starts)
    Case("tune-scenario-typo", TUNE, "scenarios.0", "'heavy'", files=w(scenarios=["heavvy"]),
         sub=True),
    Case("tune-scheduler-typo", TUNE, "heuristic.schedulers.0", "'planaria'",
         files=w(heuristic={"schedulers": ["planria"]})),
    Case("tune-key-typo", TUNE, "hardwar", "'hardware'", files=w(hardware=None, hardwar=HW)),
    Case("tune-nan", TUNE, "dram_bandwidth_gbps", "finite",
         files=w(hardware={**HW, "dram_bandwidth_gbps": float("nan")})),
    Case("tune-string-in-grid", TUNE, "dram_bandwidth_gbps", "finite number",
         files=w(hardware={**HW, "dram_bandwidth_gbps": [8, "inf"]})),
    Case("tune-fraction", TUNE, "n_simba", "whole", files=w(hardware={**HW, "n_simba": 1.5})),
    Case("tune-huge-chip", TUNE, "hardware", "at most", files=w(hardware={**HW, "n_simba": 10**5})),
    Case("tune-ref-typo", TUNE, "reference_hardware", "'2s2e'", files=w(reference_hardware="2s2")),
    Case("tune-reward-typo", TUNE, "rl.reward.name", "'sla'",
         files=w(trainable="rl", rl={"reward": {"name": "slaa"}})),
    Case("tune-storage", TUNE + " --storage {in}/f", "--storage", files={**w(), "f": ""}),
    Case("tune-bomb", TUNE, "sweep", "aliases", files={"w.yaml": BOMB + w()["w.yaml"]}),
    # ui
    Case("ui-port-range", "ui --port 70000", "--port", "65535"),
]  # fmt: skip


def _prepare(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Write the row's files, edit the data copy if asked, and expand its argv."""
    src = tmp_path / "in"
    src.mkdir()
    (tmp_path / "cwd").mkdir()
    for name, content in case.files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    if case.setup:
        case.setup(src)
    if case.edit:
        data = tmp_path / "data"
        for sub in ("hardware_models", "envs"):
            shutil.copytree(data_root() / sub, data / sub)
        name, old, new = case.edit
        text = (data / "hardware_models" / name).read_text()
        assert old in text, f"{old!r} not in {name}"  # the edit must apply
        (data / "hardware_models" / name).write_text(text.replace(old, new, 1))
        monkeypatch.setenv("RELMAS_HOME", str(data))
        monkeypatch.setenv("RELMAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RELMAS_NO_TRACK", "1")
    monkeypatch.chdir(tmp_path / "cwd")
    text = case.argv.replace("{in}", str(src)).replace("{out}", str(tmp_path / "out"))
    return shlex.split(text)


def _check(case: Case, code: Any, out: str, err: str, tmp_path: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}; stderr: {err[-2000:]}"
    assert "Traceback" not in err + out
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert case.field in lines[0] and case.hint in lines[0], lines[0]
    assert out.strip() == "", f"printed output before failing: {out[:500]}"
    assert not (tmp_path / "out").exists(), "partial output left behind"
    assert list((tmp_path / "cwd").iterdir()) == [], "files written to the working directory"


def _forbidden(*_a: Any, **_k: Any) -> None:
    pytest.fail("bad input reached ray.init: validation came too late")


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make starting Ray fail the row at once (a stub module if Ray is not imported yet)."""
    ray = sys.modules.get("ray") or types.ModuleType("ray")
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setattr(ray, "init", _forbidden, raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False, raising=False)


PARAMS = [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)]
                       if c.xfail else []) for c in CASES]  # fmt: skip


def test_the_table_is_big_and_ids_are_unique() -> None:
    assert len(CASES) >= 80 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.usefixtures("no_ray")
@pytest.mark.parametrize("case", PARAMS)
def test_bad_input_in_process(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _prepare(case, tmp_path, monkeypatch)
    try:
        code: Any = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    captured = capsys.readouterr()
    _check(case, code, captured.out, captured.err, tmp_path)


@pytest.mark.parametrize("case", [p for p in PARAMS if p.values[0].sub])
def test_bad_input_as_a_real_process(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = _prepare(case, tmp_path, monkeypatch)
    proc = subprocess.run([sys.executable, "-m", "relmas.cli.main", *argv], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    _check(case, proc.returncode, proc.stdout, proc.stderr, tmp_path)
