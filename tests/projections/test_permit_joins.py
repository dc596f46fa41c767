"""Two workers writing the two sides of a permit's join at once, on the real PostgreSQL server.

A permit and its service, or its applicant's record, arrive on different partitions, so on
different workers. Each worker's transaction runs while the other's is still open: the one
holding the service (or record) is held open here, the permit's batch runs beside it, then the
first commits. The permit must end with its service's SLA and its applicant's person, as when
the two batches run one after the other (projections.permit._lock_joins)."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from projections.facts import CONSUMER, DEFAULT_TOPICS
from projections.models import Permit
from projections.rows import _lock_key
from projections.store import Store, open_store
from projections.writer import BatchResult, _apply, apply_batch
from tests.projections import factories as f

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 7, 7)
PID = "dpmptsp:1"
LOCK_KEY = b"k" * 32


@pytest.fixture
def pg_store(postgres_server) -> Iterator[Store]:
    name = f"t_joins_{uuid.uuid4().hex[:8]}"
    store = open_store(postgres_server.create_database(name), lock_key=LOCK_KEY)
    try:
        yield store
    finally:
        store.close()
        postgres_server.drop_database(name)


def beside_an_open_transaction(store: Store, first: list, second: list) -> None:
    """`first` applied in a transaction left open while `second` is applied by another session
    (a thread, as another worker), then `first` committed; waits for both."""
    with store.sessions() as s1:
        _apply(s1, first, DEFAULT_TOPICS, CONSUMER, TODAY, BatchResult())
        errors: list[BaseException] = []

        def other_worker() -> None:
            try:
                with store.sessions() as s2:
                    apply_batch(s2, second, today=TODAY)
            except BaseException as e:  # noqa: BLE001 - reported by the test
                errors.append(e)

        thread = threading.Thread(target=other_worker)
        thread.start()
        # Commit once the other session waits for a lock (or, without one, has finished); if it
        # had not got that far it only reads this commit later: the result is the same.
        _until_waiting_or_done(store, thread)
        s1.commit()
        thread.join(30)
        assert not thread.is_alive(), "the second worker's batch never finished"
        assert not errors, errors


def _until_waiting_or_done(store: Store, thread: threading.Thread, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    with store.engine.connect() as c:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = c.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar()
            if waiting:
                return
            c.rollback()
            time.sleep(0.05)


def permit(store: Store) -> Permit:
    with store.sessions() as s:
        p = s.get(Permit, PID)
        assert p is not None
        return p


def test_a_permit_and_its_new_service_written_at_once_end_with_the_sla(pg_store) -> None:
    log = f.Log()
    beside_an_open_transaction(
        pg_store,
        [log.service(f.service(sla_days=20))],
        [log.permit(f.application(service_ref="dpmptsp:1"))],
    )
    p = permit(pg_store)
    assert (p.service_ref, p.sla_days) == ("dpmptsp:1", 20)


def test_a_permit_and_its_applicants_new_record_written_at_once_end_with_the_person(
    pg_store,
) -> None:
    log = f.Log()
    applicant = f.person(f.NIK_B, agency="dpmptsp", table="tmpemohon", record_id="7", position="e7")
    beside_an_open_transaction(
        pg_store,
        [log.person(applicant), log.identity(f.link(applicant, f.P_B, kind="NEW"))],
        [log.permit(f.application(applicant_ref="DPMPTSP:TMPEMOHON:7"))],
    )
    p = permit(pg_store)
    assert (p.applicant_ref, p.applicant_person_id) == ("dpmptsp:tmpemohon:7", f.P_B)


def _held_advisory_keys(store: Store) -> set[int]:
    with store.engine.connect() as c:
        rows = c.exec_driver_sql(
            "SELECT classid::bigint, objid::bigint FROM pg_locks"
            " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
        ).all()
    return {int.from_bytes(((hi << 32) | lo).to_bytes(8, "big"), signed=True) for hi, lo in rows}


def test_the_join_locks_every_server_user_sees_are_keyed_not_plain_hashes_of_record_ids(
    pg_store,
) -> None:
    """pg_locks is readable by any user of the server; a record id may be a NIK."""
    log = f.Log()
    ref = f"disdukcapil:biodata_wni:{f.NIK_B}"
    event = log.permit(f.application(applicant_ref=ref))
    with pg_store.sessions() as s:
        _apply(s, [event], DEFAULT_TOPICS, CONSUMER, TODAY, BatchResult())
        held = _held_advisory_keys(pg_store)
        s.rollback()
    name = f"record:{ref}"
    unkeyed = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), signed=True)
    assert _lock_key(LOCK_KEY, name) in held
    assert unkeyed not in held
    assert _lock_key(b"another secret 0123456789abcdef", name) not in held


def test_a_postgresql_store_without_the_lock_key_refuses_to_write_permits(
    postgres_server,
) -> None:
    name = f"t_joins_{uuid.uuid4().hex[:8]}"
    store = open_store(postgres_server.create_database(name))
    try:
        with store.sessions() as s, pytest.raises(RuntimeError, match="hub's secret"):
            _apply(
                s, [f.Log().permit(f.application())], DEFAULT_TOPICS, CONSUMER, TODAY, BatchResult()
            )
    finally:
        store.close()
        postgres_server.drop_database(name)
