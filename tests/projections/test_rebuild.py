"""`rebuild`: the canonical topics replayed into a second PostgreSQL database give the live
projection row for row (real broker, registry and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from projections.models import ReviewNote
from projections.rebuild import rebuild
from projections.store import make_engine, open_store
from projections.writer import read_checkpoints
from tests.projections.harness import snapshot

pytestmark = pytest.mark.integration


@pytest.fixture
def second_db(live):
    name = f"t_projection_rebuild_{uuid.uuid4().hex[:8]}"
    url = live.postgres.create_database(name)
    try:
        yield url
    finally:
        live.postgres.drop_database(name)


def test_rebuild_gives_identical_rows(live, second_db):
    stats = rebuild(live.settings, second_db, progress=False, topics=live.topics)
    assert stats.events == live.total
    assert stats.partitions == 10  # three per topic, the identity topic one
    rebuilt = make_engine(second_db)
    try:
        assert snapshot(rebuilt) == snapshot(live.engine)
        with rebuilt.connect() as conn:  # built in a schema of its own, moved in, dropped
            schemas = conn.exec_driver_sql("SELECT nspname FROM pg_namespace").scalars().all()
            tables = conn.exec_driver_sql(
                "SELECT DISTINCT schemaname FROM pg_tables WHERE tablename = 'citizen'"
            )
            assert tables.scalars().all() == ["public"]
        assert not [s for s in schemas if s.startswith("mpphub_rebuild")]
    finally:
        rebuilt.dispose()


def test_rebuild_leaves_checkpoints_at_the_end_offsets(live, second_db):
    stats = rebuild(live.settings, second_db, progress=False, topics=live.topics)
    store = open_store(second_db, create=False)
    try:
        with store.sessions() as s:
            checkpoints = read_checkpoints(s)
    finally:
        store.close()
    ends = {tuple(k.rsplit(":", 1)): v for k, v in stats.end_offsets.items()}
    assert {(t, str(p)): o + 1 for (t, p), o in checkpoints.items()} == {
        k: v for k, v in ends.items() if v > 0
    }


def test_rebuild_twice_into_the_same_database_keeps_the_review_notes(live, second_db):
    rebuild(live.settings, second_db, progress=False, topics=live.topics)
    store = open_store(second_db, create=False)
    try:
        with store.sessions() as s:
            s.add(
                ReviewNote(
                    at=dt.datetime(2026, 7, 1),
                    who="kabid",
                    record_a="Ra",
                    record_b="Rb",
                    decision="CANNOT_LINK",
                )
            )
            s.commit()
        first = snapshot(store.engine)
        stats = rebuild(live.settings, second_db, progress=True, topics=live.topics)
        assert stats.events == live.total
        assert snapshot(store.engine) == first
        with store.sessions() as s:
            assert [n.who for n in s.scalars(select(ReviewNote))] == ["kabid"]
    finally:
        store.close()
