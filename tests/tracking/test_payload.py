"""Pure payload helpers (no mlflow): flattening, metric cleaning, offline store round trip."""

from __future__ import annotations

import math
from pathlib import Path

from relmas.tracking.payload import (
    RunPayload,
    as_metrics,
    as_params,
    config_hash,
    load_offline,
    pending_runs,
    save_offline,
)


def test_flatten_names_per_accelerator_utilisation_and_nested_keys() -> None:
    m = as_metrics(
        {
            "utilization": [0.5, 0.25],
            "sla_rate_per_tenant": {"a b": 1.0},
            "ok": True,
            "name": "x",
            "nan": math.nan,
        }
    )
    assert m["utilization_0"] == 0.5 and m["utilization_1"] == 0.25
    assert m["sla_rate_per_tenant/a b"] == 1.0
    assert "ok" not in m and "name" not in m and math.isnan(m["nan"])


def test_params_are_strings_capped_and_keys_cleaned() -> None:
    p = as_params({"scenario": {"tenants": "t" * 7000}, "bad:key": 1})
    assert len(p["scenario/tenants"]) == 6000
    assert p["bad_key"] == "1"


def test_config_hash_ignores_key_order() -> None:
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_offline_round_trip_copies_artifacts(tmp_path: Path) -> None:
    art = tmp_path / "plot.png"
    art.write_bytes(b"png")
    p = RunPayload(experiment="e", name="n", params={"a": "1"}, artifacts=[str(art)])
    p.add_metrics({"sla_rate": 0.5}, step=3)
    run_dir = save_offline(p, tmp_path / "off")
    art.unlink()  # the offline copy must not depend on the original file
    back = load_offline(run_dir)
    assert back.params == {"a": "1"} and back.metrics[0][0] == "sla_rate"
    assert back.metrics[0][3] == 3
    assert Path(back.artifacts[0]).read_bytes() == b"png"
    assert pending_runs(tmp_path / "off") == [run_dir]
