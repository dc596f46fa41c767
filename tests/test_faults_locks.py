"""A projection writer stopped inside a transaction does not stall the others (issue 12): on
PostgreSQL the projection's sessions have a lock_timeout and an
idle_in_transaction_session_timeout (projections.store.LockTimeouts).

Here on the real server, as a worker stopped (SIGSTOP) with its row locks and its successor meet:
the successor's wait for the rows ends in a lock timeout the projector retries (not bad data),
and once the stopped session has been idle in its transaction long enough the server ends it,
its uncommitted write rolled back, and the successor goes through. A writer stopped in the middle
of an executemany (a psycopg pipeline) is no idle session to the server; its successor ends it
after a lock timeout (store.end_stalled_writers, Projector.process)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from projections.projector import Projector, bad_data, lock_timeout
from projections.settings import ProjectionSettings
from projections.store import (
    WRITER_APPLICATION,
    LockTimeouts,
    end_stalled_writers,
    make_engine,
    open_store,
)
from projections.writer import BatchResult
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

TIMEOUTS = LockTimeouts(lock_timeout_s=0.5, idle_in_transaction_s=2.0)


@pytest.fixture
def database(postgres_server) -> Iterator[str]:
    name = f"t_locks_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    try:
        yield url
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def engine(database) -> Iterator[sa.Engine]:
    engine = make_engine(database, timeouts=TIMEOUTS)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE checkpoint (id int PRIMARY KEY, n int NOT NULL)")
        c.exec_driver_sql("INSERT INTO checkpoint VALUES (1, 0)")
        c.exec_driver_sql("CREATE TABLE bulk (id bigint, s text)")
    try:
        yield engine
    finally:
        engine.dispose()


def _advance(engine: sa.Engine) -> int:
    """What a projection batch does to its checkpoint: lock the row, move it on, commit."""
    with engine.begin() as c:
        n = c.exec_driver_sql("SELECT n FROM checkpoint WHERE id = 1 FOR UPDATE").scalar_one()
        c.exec_driver_sql("UPDATE checkpoint SET n = %(n)s WHERE id = 1", {"n": n + 1})
        return n + 1


def test_sessions_carry_the_timeouts(engine) -> None:
    with engine.connect() as c:
        assert c.exec_driver_sql("SHOW lock_timeout").scalar_one() == "500ms"
        assert c.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar_one() == "2s"
        assert c.exec_driver_sql("SHOW application_name").scalar_one() == WRITER_APPLICATION


def test_a_stopped_writers_locks_time_out_and_its_session_ends(engine) -> None:
    stopped = engine.connect()
    try:
        tx = stopped.begin()
        stopped.exec_driver_sql("SELECT n FROM checkpoint WHERE id = 1 FOR UPDATE")
        stopped.exec_driver_sql("UPDATE checkpoint SET n = 100 WHERE id = 1")
        # ... and the "stopped" writer says nothing more. Its successor waits, then gives up:
        with pytest.raises(sa.exc.OperationalError) as waited:
            _advance(engine)
        assert "lock timeout" in str(waited.value.orig)
        assert lock_timeout(waited.value)
        assert not bad_data(waited.value), "a lock timeout is retried, not passed over"
        # Idle in its transaction, it is the server's to end, not its successor's.
        assert end_stalled_writers(engine, 0.1) == 0
        # The server ends the idle session (2 s): the successor's retry goes through.
        assert wait_until(lambda: _advance(engine) if _try(engine) else None, 15, "the rows free")
        # The stopped writer, continued, finds its session gone and its write rolled back.
        with pytest.raises(sa.exc.DBAPIError) as ended:
            stopped.exec_driver_sql("UPDATE checkpoint SET n = 200 WHERE id = 1")
            tx.commit()
        assert "idle-in-transaction timeout" in str(ended.value.orig)
        assert not bad_data(ended.value), "the stopped writer retries its batch from the checkpoint"
    finally:
        stopped.invalidate()
        stopped.close()
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT n FROM checkpoint").scalar_one() == 1


def _try(engine: sa.Engine) -> bool:
    """Whether the checkpoint row can be locked now (a lock timeout is "not yet")."""
    try:
        with engine.begin() as c:
            c.exec_driver_sql("SELECT n FROM checkpoint WHERE id = 1 FOR UPDATE").scalar_one()
        return True
    except sa.exc.OperationalError as e:
        assert not bad_data(e)
        return False


# A writer stopped in the middle of an executemany: psycopg sends it as a pipeline, so the
# server waits for the rest of it (state active, ClientRead) and its idle timeout never fires.
_IN_A_PIPELINE = """
import os, sys
from projections.store import LockTimeouts, make_engine
engine = make_engine(os.environ["DB_URL"], timeouts=LockTimeouts(0.5, 2.0))
raw = engine.raw_connection()
cur = raw.cursor()
cur.execute("UPDATE checkpoint SET n = 100 WHERE id = 1")
print("locked", flush=True)
cur.executemany("INSERT INTO bulk VALUES (%s, %s)", ((i, "x" * 200) for i in range(10**9)))
"""


def _writer(engine: sa.Engine) -> tuple | None:
    """(state, wait_event, seconds in that state) of the other projection writer's session."""
    with engine.connect() as c:
        return c.exec_driver_sql(
            "SELECT state, wait_event, extract(epoch FROM clock_timestamp() - state_change)"
            " FROM pg_stat_activity WHERE application_name = %(app)s"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            {"app": WRITER_APPLICATION},
        ).first()


def _writer_state(engine: sa.Engine) -> tuple | None:
    """(state, wait_event) of the other projection writer's session."""
    row = _writer(engine)
    return None if row is None else tuple(row[:2])


def _stalled_past_the_idle_timeout(engine: sa.Engine) -> None:
    """Until the stopped writer has made no progress for longer than the server's idle timeout
    (2 s) would allow an idle session: 2.5 s by the server's own clock."""
    wait_until(lambda: float((_writer(engine) or (0, 0, 0))[2]) >= 2.5, 10, "2.5 s stalled")


@pytest.fixture
def stalled(engine, database) -> Iterator[subprocess.Popen]:
    """A projection writer stopped (SIGSTOP) inside an executemany, holding the checkpoint
    row's lock; killed at the end."""
    child = subprocess.Popen(
        [sys.executable, "-c", _IN_A_PIPELINE],
        env={**os.environ, "DB_URL": database},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        assert wait_until(lambda: (_writer_state(engine) or ("",))[0] == "active", 10)
        os.kill(child.pid, signal.SIGSTOP)
        yield child
    finally:
        child.kill()
        child.wait()


def test_a_writer_stopped_inside_an_executemany_is_ended_by_the_one_it_blocks(
    engine, stalled
) -> None:
    assert end_stalled_writers(engine, 2.0) == 0, "not stalled for 2 s yet"
    _stalled_past_the_idle_timeout(engine)
    # Past the idle timeout the server has not ended it: it is inside a statement.
    assert _writer_state(engine) == ("active", "ClientRead")
    assert not _try(engine)
    assert end_stalled_writers(engine, 2.0) == 1
    assert wait_until(lambda: _try(engine), 10, "the rows free")
    assert _advance(engine) == 1  # the stopped writer's update rolled back


def test_the_projector_ends_a_stalled_writer_only_after_a_lock_timeout(
    engine, database, stalled
) -> None:
    settings = ProjectionSettings(db_url=database, idle_in_transaction_timeout_s=2.0)
    store = open_store(database, timeouts=TIMEOUTS)
    try:
        projector = Projector(settings, store=store)
        _stalled_past_the_idle_timeout(engine)
        projector._retry_apply([], locked_out=False, integrity_is_bad_data=False)
        assert _writer_state(engine) == ("active", "ClientRead"), "no lock timeout: left alone"
        projector._retry_apply([], locked_out=True, integrity_is_bad_data=False)
        assert wait_until(lambda: _try(engine), 10, "the rows free")
    finally:
        store.close()


def test_a_retry_after_a_lock_timeout_is_told_so(monkeypatch) -> None:
    projector = Projector(ProjectionSettings())
    told: list[bool] = []

    def attempt(raw, locked_out, integrity_is_bad_data) -> BatchResult:
        told.append(locked_out)
        if len(told) == 1:
            raise sa.exc.OperationalError("UPDATE", {}, psycopg.errors.LockNotAvailable())
        if len(told) == 2:
            raise sa.exc.OperationalError("SELECT", {}, psycopg.errors.AdminShutdown())
        return BatchResult()

    monkeypatch.setattr(projector, "_retry_apply", attempt)
    monkeypatch.setattr("projections.projector.RETRY_FIRST_S", 0.01)
    asyncio.run(projector.process([("t", 0, 0, None, None)]))
    assert told == [False, True, False]
