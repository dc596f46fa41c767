"""A projection writer stopped inside a transaction does not stall the others (issue 12): on
PostgreSQL the projection's sessions have a lock_timeout and an
idle_in_transaction_session_timeout (projections.store.LockTimeouts).

Here on the real server, as a worker stopped (SIGSTOP) with its row locks and its successor meet:
the successor's wait for the rows ends in a lock timeout the projector retries (not bad data),
and once the stopped session has been idle in its transaction long enough the server ends it,
its uncommitted write rolled back, and the successor goes through."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from projections.projector import bad_data
from projections.store import LockTimeouts, make_engine
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

TIMEOUTS = LockTimeouts(lock_timeout_s=0.5, idle_in_transaction_s=2.0)


@pytest.fixture
def engine(postgres_server) -> Iterator[sa.Engine]:
    name = f"t_locks_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create_database(name)
    engine = make_engine(url, timeouts=TIMEOUTS)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE checkpoint (id int PRIMARY KEY, n int NOT NULL)")
        c.exec_driver_sql("INSERT INTO checkpoint VALUES (1, 0)")
    try:
        yield engine
    finally:
        engine.dispose()
        postgres_server.drop_database(name)


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
        assert not bad_data(waited.value), "a lock timeout is retried, not passed over"
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
