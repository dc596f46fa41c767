"""The projection store: engines for SQLite files and PostgreSQL URLs, tables, drops."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import inspect, text

from projections.models import ReviewNote
from projections.settings import ProjectionSettings
from projections.store import (
    LOCAL_TZ,
    drop_projection_tables,
    has_tables,
    local_today,
    make_engine,
    open_store,
)


def test_sqlite_file_in_a_new_directory_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'projections.db'}"
    store = open_store(url)
    try:
        assert (tmp_path / "a" / "b" / "projections.db").exists()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert has_tables(store.engine)
    finally:
        store.close()


def test_store_opens_the_settings_database(tmp_path):
    settings = ProjectionSettings(db_url=f"sqlite:///{tmp_path / 'p.db'}")
    store = open_store(settings.db_url)
    try:
        assert has_tables(store.engine)
    finally:
        store.close()


def test_postgresql_urls_use_psycopg_3():
    assert make_engine("postgresql://u:p@127.0.0.1:1/db").dialect.driver == "psycopg"
    assert make_engine("postgresql+psycopg://u:p@127.0.0.1:1/db").dialect.driver == "psycopg"


def test_drop_keeps_the_review_notes(store):
    note = ReviewNote(
        at=dt.datetime(2026, 1, 1), who="a", record_a="Ra", record_b="Rb", decision="MUST_LINK"
    )
    with store.sessions() as s:
        s.add(note)
        s.commit()
    drop_projection_tables(store.engine)
    names = set(inspect(store.engine).get_table_names())
    assert names == {ReviewNote.__tablename__}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM review_note")).scalar() == "a"


def test_readers_do_not_wait_for_the_writer(store, tmp_path):
    reader = open_store(str(store.engine.url), create=False, writer=False)
    try:
        with store.sessions() as w:
            w.execute(
                text(
                    'INSERT INTO checkpoint (consumer, topic, partition, "offset")'
                    " VALUES ('c', 't', 0, 1)"
                )
            )
            with reader.sessions() as r:  # the writer holds the lock, uncommitted
                assert r.execute(text("SELECT count(*) FROM checkpoint")).scalar() == 0
            w.commit()
        with reader.sessions() as r:
            assert r.execute(text("SELECT count(*) FROM checkpoint")).scalar() == 1
    finally:
        reader.close()


def test_today_is_the_mpp_local_date():
    assert LOCAL_TZ.utcoffset(None) == dt.timedelta(hours=8)
    assert local_today() == dt.datetime.now(LOCAL_TZ).date()
