"""A rebuild equals the live projection by row count and a hash of the sorted rows
(projections/digest.py): here on the live run's events (real broker, registry, PostgreSQL),
folded in memory and swapped in (projections/bulk_fold.py, swap.py), and through the live
worker's batches when the database refuses the bulk write; `mpphub bench e2e` checks the same
at full size.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import exc as sa_exc

from projections.bulk_fold import BulkFold
from projections.digest import projection_digest
from projections.rebuild import rebuild
from projections.store import make_engine
from projections.writer import apply_batch
from tests.projections.factories import P_A, link, person

TODAY = dt.date(2026, 7, 1)


def _project(store, messages) -> None:
    with store.sessions() as s:
        apply_batch(s, messages, today=TODAY)


def _facts(n: int) -> list[tuple]:
    out = []
    for i in range(n):
        fact = person(f"74130145079{i:05d}", record_id=str(i), position=f"p{i}", name=f"N {i}")
        out.append(("mpp.canonical.person", 0, 2 * i, fact["record_key"], fact))
        out.append(("mpp.canonical.identity", 0, 2 * i + 1, P_A, link(fact, P_A)))
    return out


def test_digest_counts_rows_and_changes_with_any_value(store, tmp_path):
    from projections.store import open_store

    _project(store, _facts(5))
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        for part in (_facts(5)[:3], _facts(5)[3:7], _facts(5)[7:]):  # same events, 3 batches
            _project(other, part)
        same = projection_digest(other.engine)
        assert same == projection_digest(store.engine)
        assert same["citizen_source_record"]["rows"] == 5 and same["citizen"]["rows"] == 1
        with other.engine.begin() as c:
            c.exec_driver_sql("UPDATE citizen SET name = 'X'")
        changed = projection_digest(other.engine)
        assert changed["citizen"]["rows"] == 1
        assert changed["citizen"]["sha256"] != same["citizen"]["sha256"]
    finally:
        other.close()


@pytest.fixture
def rebuilt_db(live):
    name = f"t_projection_digest_{uuid.uuid4().hex[:8]}"
    url = live.postgres.create_database(name)
    try:
        yield url
    finally:
        live.postgres.drop_database(name)


@pytest.mark.integration
def test_a_bulk_rebuild_equals_the_live_projection_by_rows_and_hash(live, rebuilt_db):
    # Small hand-overs: the fold gets the log 97 events at a time, each while the next are fetched.
    stats = rebuild(live.settings, rebuilt_db, progress=False, topics=live.topics, batch_size=97)
    assert stats.events == live.total
    expected = projection_digest(live.engine)
    assert expected["citizen_source_record"]["rows"] > 0 and expected["permit"]["rows"] > 0
    engine = make_engine(rebuilt_db)
    try:
        assert projection_digest(engine) == expected
    finally:
        engine.dispose()


@pytest.mark.integration
def test_rows_the_database_refuses_send_the_rebuild_through_the_live_batches(
    live, rebuilt_db, monkeypatch
):
    # The bulk write refused as a too-long value would be: the rebuild starts over through
    # Projector/apply_batch, which skips bad data message by message as the live worker does.
    def refuse(*_args, **_kwargs):
        raise sa_exc.DataError("INSERT INTO citizen ...", None, ValueError("value too long"))

    monkeypatch.setattr(BulkFold, "write", refuse)
    stats = rebuild(live.settings, rebuilt_db, progress=False, topics=live.topics)
    assert stats.events == live.total
    engine = make_engine(rebuilt_db)
    try:
        assert projection_digest(engine) == projection_digest(live.engine)
    finally:
        engine.dispose()
