"""A store write is never cut in half by the first Ctrl-C or SIGTERM (tracking/interrupts.py).

Regression: SIGTERM landing inside a sqlite ``log_batch`` left the write lock held, the run's
"end as KILLED" then failed with "database is locked" and the run fell back offline with a
"store unavailable" warning (CI, tests/reliability/test_interrupts.py).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from relmas.tracking import TrackingOptions, start_run
from relmas.tracking.interrupts import deferred_interrupts


@pytest.fixture(autouse=True)
def _python_sigint_handler() -> Iterator[None]:
    """Python's own Ctrl-C handler for each test: an earlier in-process Tune run leaves its
    own SIGINT handler installed (it stops the run instead of raising)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_the_first_signal_waits_for_the_block_then_interrupts() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            signal.raise_signal(signal.SIGINT)
            steps.append("block finished")
        steps.append("after the block")  # pragma: no cover - must not run
    assert steps == ["block finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_interrupts_at_once() -> None:
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupts():
        signal.raise_signal(signal.SIGINT)
        steps.append("after the first")
        signal.raise_signal(signal.SIGINT)
        steps.append("after the second")  # pragma: no cover - must not run
    assert steps == ["after the first"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_goes_to_the_handler_that_was_in_place() -> None:
    got: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        with deferred_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            assert got == []
        assert got == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_off_the_main_thread_it_changes_nothing() -> None:
    seen: list[object] = []

    def body() -> None:
        with deferred_interrupts():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


@pytest.mark.slow
def test_a_signal_inside_a_sqlite_write_leaves_the_store_usable(
    sqlite_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The signal arrives right after the metrics ``INSERT`` (an SQLAlchemy event hook), inside
    the open transaction: the write completes, the interrupt follows, and the run still ends
    ``KILLED`` in the store with its metric written once."""
    from mlflow.tracking import MlflowClient
    from sqlalchemy import event

    from relmas.tracking.client import backend

    run = start_run("train", "cut", {}, {}, options=TrackingOptions(uri=sqlite_uri))
    run.flush()  # create the run
    engine = backend(sqlite_uri).client._tracking_client.store.engine
    fired: list[str] = []

    def after_insert(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if not fired and statement.lstrip().upper().startswith("INSERT INTO METRICS"):
            fired.append(statement)
            signal.raise_signal(signal.SIGINT)

    event.listen(engine, "after_cursor_execute", after_insert)
    try:
        run.log_metrics({"sla_rate": 0.5}, step=1)
        with pytest.raises(KeyboardInterrupt):
            run.flush()
    finally:
        event.remove(engine, "after_cursor_execute", after_insert)
    assert fired, "the hook never saw the metrics INSERT"
    run.end("KILLED")
    err = capsys.readouterr().err
    assert run.online and "unavailable" not in err, err
    got = MlflowClient(tracking_uri=sqlite_uri)
    assert got.get_run(run.run_id).info.status == "KILLED"
    assert [m.value for m in got.get_metric_history(run.run_id, "sla_rate")] == [0.5]
