"""Where a rebuild writes, and how its result takes the place of the target database.

An SQLite target is rebuilt in a new file next to it (`<name>.rebuild-<pid>`), written without
fsync and with its rollback journal in memory (a rebuild cut short is run again from the start;
a batch that fails on bad data still rolls back before it is applied message by message). Then:
- no target file yet: the new file is renamed into place (one atomic rename);
- a target file: its projection tables are replaced by the new file's in one transaction
  (ATTACH, DROP, CREATE, INSERT ... SELECT, COMMIT), so a reader sees the old projection or the
  new one, never a mix, and the other tables (review notes, the access log) stay as they are.
Any other database (PostgreSQL) is rebuilt in place, as before.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex, CreateTable

from .models import PROJECTION_TABLES
from .store import SQLITE_BUSY_TIMEOUT_MS

SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass
class Staging:
    """The database a rebuild writes into, and how to put it in place of the target."""

    url: str
    swap: Callable[[], None]
    discard: Callable[[], None]
    fresh: bool  # a new SQLite file written without fsync (see bulk_pragmas)


def staging_for(url: str) -> Staging:
    """Where to rebuild the projection of `url`."""
    u = make_url(url)
    database = u.database or ""
    if u.get_backend_name() != "sqlite" or database in ("", ":memory:") or "file:" in database:
        return Staging(url, swap=lambda: None, discard=lambda: None, fresh=False)
    target = Path(database).expanduser()
    new = target.with_name(f"{target.name}.rebuild-{os.getpid()}")
    _remove(new)
    return Staging(
        u.set(database=str(new)).render_as_string(hide_password=False),
        swap=lambda: swap_sqlite(new, target),
        discard=lambda: _remove(new),
        fresh=True,
    )


def bulk_pragmas(engine: Engine) -> None:
    """A fresh SQLite file written as a bulk load: no fsync, the journal in memory, a large page
    cache, one writer (these connections only)."""

    def pragmas(conn, _record) -> None:
        cur = conn.cursor()
        for pragma in (
            "journal_mode=MEMORY",
            "synchronous=OFF",
            "cache_size=-262144",  # KiB: 256 MiB
            "temp_store=MEMORY",
            "locking_mode=EXCLUSIVE",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    event.listen(engine, "connect", pragmas)


def swap_sqlite(new: Path, target: Path) -> None:
    """Put the projection tables of the SQLite file `new` in place of the target's; `new` is
    gone afterwards."""
    if not target.exists():
        for suffix in SIDE_FILES:  # a WAL left without its database must not meet the new one
            _remove(target.with_name(target.name + suffix))
        os.replace(new, target)
        return
    copy_projection(new, target)
    _remove(new)


def copy_projection(source: Path, target: Path) -> None:
    """Replace the projection tables of `target` by those of `source`, in one transaction."""
    dialect = sqlite_dialect.dialect()
    conn = sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute("ATTACH DATABASE ? AS bulk", (str(source),))
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in PROJECTION_TABLES:
                name = dialect.identifier_preparer.quote(table.name)
                columns = ", ".join(dialect.identifier_preparer.quote(c.name) for c in table.c)
                conn.execute(f"DROP TABLE IF EXISTS main.{name}")
                conn.execute(str(CreateTable(table).compile(dialect=dialect)))
                for index in table.indexes:
                    conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
                conn.execute(
                    f"INSERT INTO main.{name} ({columns}) SELECT {columns} FROM bulk.{name}"
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("DETACH DATABASE bulk")
    finally:
        conn.close()


def _remove(path: Path) -> None:
    for p in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        p.unlink(missing_ok=True)
