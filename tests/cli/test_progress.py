"""Progress off a terminal: timed plain lines instead of a live bar that would draw nothing."""

from __future__ import annotations

import io
import re

import pytest

from relmas.cli.progress import LineProgress, progress


def test_a_line_only_when_due_and_once_on_completion() -> None:
    out = io.StringIO()
    bar = LineProgress(out, every_s=3600)
    task = bar.add_task("labelling", total=3, status="starting")
    bar.advance(task)
    bar.update(task, advance=1, status="1,200 states/s")
    assert out.getvalue() == ""  # not due yet: a quick run prints one line, at the end
    bar.update(task, advance=1)
    bar.update(task, completed=3)  # already shown complete: no second line
    assert out.getvalue() == "relmas: labelling: 3/3 (100%), 0:00 elapsed, 1,200 states/s\n"


def test_every_update_is_a_line_when_always_due() -> None:
    out = io.StringIO()
    bar = LineProgress(out, every_s=0)
    task = bar.add_task("train", total=4)
    bar.update(task, completed=1)
    bar.update(task, completed=2)
    lines = out.getvalue().splitlines()
    assert [re.sub(r", \d+:\d\d elapsed", "", x) for x in lines] == [
        "relmas: train: 1/4 (25%)",
        "relmas: train: 2/4 (50%)",
    ]


def test_no_total_counts_without_a_share() -> None:
    out = io.StringIO()
    bar = LineProgress(out, every_s=0)
    bar.advance(bar.add_task("runs"), 2)
    assert out.getvalue().startswith("relmas: runs: 2, 0:00 elapsed")


@pytest.mark.parametrize("terminal", ["0", "1"])
def test_the_stream_decides_which_display(terminal: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.progress import Progress

    monkeypatch.setenv("TTY_COMPATIBLE", terminal)  # rich's switch; a StringIO is no tty
    with progress((), io.StringIO()) as bar:
        assert isinstance(bar, Progress if terminal == "1" else LineProgress)


def test_a_task_that_does_not_advance_still_gets_timed_lines() -> None:
    """The heartbeat: an hour-long first step must not look hung; it stops with the block."""
    import time

    out = io.StringIO()
    with LineProgress(out, every_s=0.02) as bar:
        bar.add_task("oracle runs", total=2)
        deadline = time.monotonic() + 10
        while out.getvalue().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2, lines
    assert all(x.startswith("relmas: oracle runs: 0/2 (0%), 0:00 elapsed") for x in lines)
    time.sleep(0.1)
    assert out.getvalue().splitlines() == lines  # nothing after the block ended


def test_progress_off_a_terminal_beats_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    with progress((), io.StringIO()) as bar:
        assert bar._heartbeat is not None and bar._heartbeat.is_alive()
    assert not bar._heartbeat.is_alive()
