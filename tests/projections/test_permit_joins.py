"""Two workers writing the two sides of a permit's join at once, on the real PostgreSQL server.

A permit and its service, or its applicant's record, arrive on different partitions, so on
different workers. Each worker's transaction runs while the other's is still open: the one
holding the service (or record) is held open here, the permit's batch runs beside it, then the
first commits. The permit must end with its service's SLA and its applicant's person, as when
the two batches run one after the other (projections.permit._lock_joins)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from projections.facts import CONSUMER, DEFAULT_TOPICS
from projections.models import Permit
from projections.store import Store, open_store
from projections.writer import BatchResult, _apply, apply_batch
from tests.projections import factories as f

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 7, 7)
PID = "dpmptsp:1"


@pytest.fixture
def pg_store(postgres_server) -> Iterator[Store]:
    name = f"t_joins_{uuid.uuid4().hex[:8]}"
    store = open_store(postgres_server.create_database(name))
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
        # Long enough for the other session to read and write what it would without waiting;
        # if it had not got that far, it only reads this commit later: the result is the same.
        time.sleep(1.0)
        s1.commit()
        thread.join(30)
        assert not thread.is_alive(), "the second worker's batch never finished"
        assert not errors, errors


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
