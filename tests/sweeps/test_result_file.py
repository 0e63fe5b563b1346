"""Reading a trial's result.json back after a killed driver (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from relmas.sweeps.result_file import result_rows


def _report(step: int) -> str:
    return json.dumps({"training_iteration": step, "sla_rate": step / 10})


def test_a_cut_off_line_is_skipped_with_a_notice_and_the_last_result_fills_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = _report(3)[:20]  # SIGKILL while Tune wrote report 3
    text = "\n".join([_report(1), _report(2), cut + _report(4), _report(5)]) + "\n"
    (tmp_path / "result.json").write_text(text)
    last = json.loads(_report(5))
    trial = SimpleNamespace(local_path=str(tmp_path), path=None, last_result=last)
    rows = result_rows(trial)
    assert [r["training_iteration"] for r in rows] == [1, 2, 5]  # 4 was glued to the cut line
    err = capsys.readouterr().err
    assert "result.json: line 3 was cut off" in err and err.count("\n") == 1


def test_the_last_result_stands_in_for_a_cut_last_line(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text(_report(1) + "\n" + _report(2)[:10])
    trial = SimpleNamespace(local_path=str(tmp_path), path=None, last_result=json.loads(_report(2)))
    assert [r["training_iteration"] for r in result_rows(trial)] == [1, 2]


def test_without_a_file_only_the_last_result_with_a_notice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trial = SimpleNamespace(local_path=None, path=None, last_result={"training_iteration": 4})
    assert result_rows(trial) == [{"training_iteration": 4}]
    err = capsys.readouterr().err  # steps 1-3 are lost: said, not silent
    assert "no result.json under None or None" in err and "(step 4)" in err
    assert result_rows(SimpleNamespace(local_path=None, path=None, last_result={})) == []
    first = SimpleNamespace(local_path=None, path=None, last_result={"training_iteration": 1})
    assert result_rows(first) == [{"training_iteration": 1}]  # nothing lost, nothing said
    assert capsys.readouterr().err == ""
