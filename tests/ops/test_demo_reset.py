"""A new demo starts from an empty projection even when the last one was killed -9 with its
writes still in the WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from projections.swap import remove_sqlite_file


def test_the_last_demos_wal_is_not_replayed_into_the_new_projection(tmp_path: Path) -> None:
    db = tmp_path / "projections.db"
    killed = sqlite3.connect(db)  # left open, as by a worker killed -9: the rows stay in the WAL
    killed.execute("PRAGMA journal_mode=WAL")
    killed.execute("PRAGMA wal_autocheckpoint=0")
    killed.execute("CREATE TABLE citizen (nik TEXT)")
    killed.execute("INSERT INTO citizen VALUES ('7413103009950001')")
    killed.commit()
    assert (tmp_path / "projections.db-wal").stat().st_size > 0

    remove_sqlite_file(db)  # as the demo does before it starts

    assert sorted(p.name for p in tmp_path.iterdir()) == []
    fresh = sqlite3.connect(db)
    assert fresh.execute("SELECT name FROM sqlite_master").fetchall() == []
    fresh.close()
    killed.close()
