"""``relmas hw`` commands, called in-process through a parser built like the real one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from relmas.cli import hw
from relmas.errors import UserError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="relmas")
    hw.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_list_json_has_types_compositions_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["hw", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {a["name"]: a for a in data["accelerators"]}
    assert names["eyeriss"]["mac_units"] == 168 and names["simba"]["mac_units"] == 256
    assert {"2s2e", "0s2e"} <= {c["name"] for c in data["compositions"]}
    resnet = next(m for m in data["models"] if m["name"] == "resnet50")
    assert resnet["gmacs"] == pytest.approx(4.089, rel=1e-3)


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["hw", "list"]) == 0
    out = capsys.readouterr().out
    assert "row_stationary" in out and "2s2e" in out and "mobilenet_v2" in out


def test_layers_json_rows_and_bandwidth(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["hw", "layers", "--model", "resnet50", "--accel", "eyeriss", "--json"]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert len(fast) == 54
    assert set(fast[0]) == {
        "name", "kind", "macs", "cycles", "latency_s", "dram_bytes",
        "required_bandwidth_bytes_per_s", "energy_j", "utilization",
    }  # fmt: skip
    argv = ["hw", "layers", "--model", "resnet50", "--accel", "eyeriss", "--json"]
    assert run([*argv, "--bandwidth-gbps", "0.5"]) == 0
    slow = json.loads(capsys.readouterr().out)
    assert sum(r["latency_s"] for r in slow) > 2 * sum(r["latency_s"] for r in fast)


def test_layers_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["hw", "layers", "--model", "alexnet", "--accel", "simba"]) == 0
    out = capsys.readouterr().out
    assert "features.0" in out and "total:" in out


def test_compare_writes_png_and_counts_winners(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["hw", "compare", "--model", "mobilenet_v2", "--out", str(tmp_path), "--json"]
    assert run(argv) == 0
    data = json.loads(capsys.readouterr().out)
    png = Path(data["png"])
    assert png == tmp_path / "hw_compare_mobilenet_v2.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    wins = data["summary"]["latency_wins"]
    assert wins["eyeriss"] > 0 and wins["simba"] > 0
    assert sum(wins.values()) == len(data["layers"]) == 53
    depthwise = [r for r in data["layers"] if r["kind"] == "depthwise"]
    # 16 of 17: the stride-2 ones starve RS's ifmap bus (4 inputs per output pixel)
    assert sum(r["latency_winner"] == "eyeriss" for r in depthwise) >= 0.8 * len(depthwise)


def test_compare_table_prints_png_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["hw", "compare", "--model", "alexnet", "--out", str(tmp_path)]) == 0
    assert f"plot: {tmp_path / 'hw_compare_alexnet.png'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["hw", "layers", "--model", "resnet5", "--accel", "eyeriss"], "did you mean 'resnet50'"),
        (["hw", "layers", "--model", "resnet50", "--accel", "eyris"], "did you mean 'eyeriss'"),
        (["hw", "compare", "--model", "vgg1"], "did you mean 'vgg16'"),
        (["hw", "compare", "--model", "vgg16", "--accels", "simba", "simba"], "two different"),
    ],
)
def test_bad_names_are_user_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        run(argv)


@pytest.mark.parametrize("value", ["0", "-2"])
@pytest.mark.parametrize("command", ["layers", "compare"])
def test_non_positive_bandwidth_is_a_user_error(command: str, value: str) -> None:
    argv = ["hw", command, "--model", "alexnet", "--bandwidth-gbps", value]
    if command == "layers":
        argv += ["--accel", "simba"]
    with pytest.raises(UserError, match="--bandwidth-gbps: must be > 0"):
        run(argv)
