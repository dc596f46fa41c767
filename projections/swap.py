"""Where a rebuild writes, and how its result takes the place of the target database.

An SQLite target is rebuilt in a new file next to it (`<name>.rebuild-<pid>`), written without
fsync and with its rollback journal in memory (a rebuild cut short is run again from the start;
a batch that fails on bad data still rolls back before it is applied message by message). Then:
- no target file yet: the new file is renamed into place (one atomic rename);
- a target file: its projection tables are replaced by the new file's in one transaction
  (ATTACH, DROP, CREATE, INSERT ... SELECT, COMMIT), so a reader sees the old projection or the
  new one, never a mix, and the other tables (review notes, the access log) stay as they are.
A PostgreSQL target is rebuilt in a new schema (`mpphub_rebuild_<pid>`, the staging URL puts it
first on the search path), whose projection tables then replace the target schema's in one
transaction (DROP TABLE, ALTER TABLE ... SET SCHEMA, COMMIT): readers wait for the swap's locks
for that moment and see the old projection or the new one. Any other database is rebuilt in
place.
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
from .store import SQLITE_BUSY_TIMEOUT_MS, create_tables, make_engine

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
    if u.get_backend_name() == "postgresql":
        return _postgres_staging(url)
    if u.get_backend_name() != "sqlite" or database in ("", ":memory:") or "file:" in database:
        return Staging(url, swap=lambda: None, discard=lambda: None, fresh=False)
    target = Path(database).expanduser()
    new = target.with_name(f"{target.name}.rebuild-{os.getpid()}")
    remove_sqlite_file(new)
    return Staging(
        u.set(database=str(new)).render_as_string(hide_password=False),
        swap=lambda: swap_sqlite(new, target),
        discard=lambda: remove_sqlite_file(new),
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
            "cache_size=-65536",  # KiB: 64 MiB
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
            remove_sqlite_file(target.with_name(target.name + suffix))
        # Written without fsync: flushed to disk before it takes the target's name, and the
        # rename itself after it, so a power cut leaves the old state or the whole new file.
        _fsync(new)
        os.replace(new, target)
        _fsync(target.parent)
        return
    copy_projection(new, target)
    remove_sqlite_file(new)
    engine = make_engine(f"sqlite:///{target}")
    try:
        create_tables(engine)  # the review notes' table of a target that had none
    finally:
        engine.dispose()


def _fsync(path: Path) -> None:
    """Flush a file's (or a directory's entries') writes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def _postgres_staging(url: str) -> Staging:
    staging = f"mpphub_rebuild_{os.getpid()}"
    engine = make_engine(url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        with engine.begin() as conn:
            target = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote(staging)} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {quote(staging)}")
    finally:
        engine.dispose()
    u = make_url(url)
    options = " ".join(filter(None, [u.query.get("options"), f"-c search_path={staging}"]))
    return Staging(
        u.update_query_dict({"options": options}).render_as_string(hide_password=False),
        swap=lambda: swap_postgres(url, staging, target),
        discard=lambda: _drop_schema(url, staging),
        fresh=False,
    )


def swap_postgres(url: str, staging: str, target: str) -> None:
    """Move the projection tables of schema `staging` into `target` in place of its own, in
    one transaction; the staging schema (its empty other tables) is dropped."""
    engine = make_engine(url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        with engine.begin() as conn:
            for table in PROJECTION_TABLES:
                name = quote(table.name)
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(target)}.{name}")
                conn.exec_driver_sql(
                    f"ALTER TABLE {quote(staging)}.{name} SET SCHEMA {quote(target)}"
                )
            conn.exec_driver_sql(f"DROP SCHEMA {quote(staging)} CASCADE")
            create_tables(conn)  # the review notes' table of a target that had none
    finally:
        engine.dispose()


def _drop_schema(url: str, schema: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            quoted = engine.dialect.identifier_preparer.quote(schema)
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quoted} CASCADE")
    finally:
        engine.dispose()


def remove_sqlite_file(path: Path) -> None:
    """Delete an SQLite database file with its WAL, shared-memory and journal files (a WAL
    left without its database would be replayed into the next one made at that path)."""
    for p in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        p.unlink(missing_ok=True)
