"""``relmas bench imitate``: the fit's peak memory per labelled state, in a fresh process."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from relmas.cli import bench_imitate

pytest.importorskip("torch")


def test_fit_memory_stays_near_the_labelled_arrays(capsys: Any) -> None:
    parser = argparse.ArgumentParser(prog="relmas")
    bench = parser.add_subparsers(required=True).add_parser("bench")
    bench_imitate.register_bench(bench.add_subparsers(required=True))
    args = parser.parse_args(["bench", "imitate", "--states", "20000", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["states"] == 20000 and out["fit_states_per_s"] > 0
    assert out["data_bytes_per_state"] > 1000  # 214 + 33 + 33 + 5 floats and 33 labels a state
    # The fit used to measure itself in one forward over every state: ~27x the labelled
    # arrays (31 KB a state) at any size. In chunks, 20k states take ~6.6x (a fixed ~130 MB
    # of torch and chunk activations), 100k about 1.3x.
    assert out["ratio_fit_extra_to_data"] < 15
    assert out["ratio_fit_extra_to_data"] == pytest.approx(
        out["fit_extra_peak_bytes_per_state"] / out["data_bytes_per_state"]
    )
