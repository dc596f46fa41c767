"""A rebuilt SQLite projection takes the target's place whole: renamed in when there is no
target yet, else copied over the target's projection tables in one transaction, so a reader
sees the old projection or the new one, and review notes stay."""

from __future__ import annotations

import datetime as dt
import sqlite3

from sqlalchemy import func, select

from projections.models import Citizen, ReviewNote
from projections.store import open_store
from projections.swap import staging_for
from projections.writer import apply_batch
from tests.projections import factories as f

TODAY = dt.date(2026, 7, 1)


def _project(url: str, people: int) -> None:
    store = open_store(url)
    try:
        log = f.Log()
        messages = []
        for i in range(people):
            fact = f.person(f"74130145079{i:05d}", record_id=str(i), position=f"p{i}")
            messages += log.linked(fact, f.pid(i), "NEW")
        with store.sessions() as s:
            apply_batch(s, messages, today=TODAY)
    finally:
        store.close()


def _citizens(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM citizen").fetchone()[0]
    finally:
        conn.close()


def test_a_new_target_is_the_rebuilt_file_renamed(tmp_path):
    target = tmp_path / "projections.db"
    (tmp_path / "projections.db-wal").write_bytes(b"a WAL left by a deleted database")
    staging = staging_for(f"sqlite:///{target}")
    assert staging.fresh and not staging.url.endswith("/projections.db")
    _project(staging.url, 3)
    staging.swap()
    assert _citizens(target) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["projections.db"]


def test_an_existing_target_gets_the_new_tables_in_one_transaction(tmp_path):
    target = tmp_path / "projections.db"
    url = f"sqlite:///{target}"
    _project(url, 2)
    store = open_store(url)
    try:
        with store.sessions() as s:
            s.add(ReviewNote(at=dt.datetime(2026, 7, 1), who="kabid", record_a="a",
                             record_b="b", decision="CANNOT_LINK"))  # fmt: skip
            s.commit()
        reader = open_store(url, writer=False)
        staging = staging_for(url)
        _project(staging.url, 5)
        with reader.engine.connect() as conn:
            before = conn.scalar(select(func.count()).select_from(Citizen))
            staging.swap()  # while this reader's transaction is open
            assert conn.scalar(select(func.count()).select_from(Citizen)) == before == 2
        with store.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Citizen)) == 5
            assert [n.who for n in s.scalars(select(ReviewNote))] == ["kabid"]
        reader.close()
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir() if "rebuild" in p.name) == []


def test_an_sqlite_database_in_memory_is_rebuilt_in_place():
    # PostgreSQL: a schema of its own, swapped in (tests/projections/test_rebuild.py).
    staging = staging_for("sqlite:///:memory:")
    assert staging.url == "sqlite:///:memory:" and not staging.fresh
