"""Where the read models live: an engine and sessions for a database URL (an SQLite
file by default, in WAL mode so the API reads while the worker writes; PostgreSQL by URL)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from domain.tokens import Tokens, load_secret

from .models import PROJECTION_TABLES, Base
from .rows import LOCK_KEY

# Local time of the MPP (WITA, no daylight saving): "today" for working days and SLA states.
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), "WITA")
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITER_APPLICATION = "mpphub-projection-writer"  # the live writers' PostgreSQL sessions


def local_today() -> dt.date:
    """Today's date at the MPP."""
    return dt.datetime.now(LOCAL_TZ).date()


@dataclass(frozen=True)
class LockTimeouts:
    """How long a PostgreSQL session of the projection writer waits for a row lock
    (`lock_timeout`), and how long the server lets a session sit idle inside an open transaction
    before it ends the session and releases its locks (`idle_in_transaction_session_timeout`).

    A worker stopped (SIGSTOP, a frozen VM) inside a projection transaction keeps its row
    locks; without these a successor that took its partitions over waits on them for good.
    With them the successor's batch fails with a lock timeout and is retried, and the stopped
    worker's session is ended by the server (its uncommitted batch, checkpoint included, rolls
    back). 0 disables a timeout.

    The server's idle timeout misses one case: a worker stopped in the middle of an
    executemany (psycopg sends it as a pipeline, with no Sync until the end) leaves its session
    "active", waiting to read from its client (ClientRead), with its locks held for good. The
    sessions are named (application_name WRITER_APPLICATION) so that a successor that meets a
    lock timeout ends such a session itself (end_stalled_writers)."""

    lock_timeout_s: float = 10.0
    idle_in_transaction_s: float = 30.0

    def options(self) -> str:
        """The libpq `options` string that sets both for every session."""
        ms = (round(self.lock_timeout_s * 1000), round(self.idle_in_transaction_s * 1000))
        return f"-c lock_timeout={ms[0]} -c idle_in_transaction_session_timeout={ms[1]}"


def make_engine(url: str, *, writer: bool = True, timeouts: LockTimeouts | None = None) -> Engine:
    """An engine for a projection database URL; an SQLite file's directory is created.

    SQLite writers begin IMMEDIATE (take the write lock up front: two deferred transactions that
    both read, then write, fail instead of waiting); readers begin deferred and never block it.
    On PostgreSQL, `timeouts` (the projection writer's) bound lock waits and idle transactions;
    without them the server's settings apply (a rebuild may sit in a transaction while it reads
    Kafka)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        database = u.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            u,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            hide_parameters=True,  # rows hold personal data: never in an error message or log
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over
        # so that one apply_batch is one BEGIN ... COMMIT.
        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    if u.get_backend_name() == "postgresql" and u.get_driver_name() in ("", "psycopg2"):
        u = u.set(drivername="postgresql+psycopg")  # psycopg 3 is what the hub ships
    connect_args = {}
    if timeouts is not None:
        connect_args = {"options": timeouts.options(), "application_name": WRITER_APPLICATION}
    return create_engine(u, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args)


def end_stalled_writers(engine: Engine, after_s: float) -> int:
    """End the sessions of other projection writers (PostgreSQL, this database) that have sat in
    a statement waiting on their own client for `after_s` or longer: a writer stopped in the
    middle of an executemany, whose locks the server's idle timeout never frees (LockTimeouts).
    Its uncommitted batch rolls back, checkpoint included, and is retried when it is continued.
    The number of sessions ended; 0 on SQLite or when `after_s` is 0 (disabled)."""
    if engine.dialect.name != "postgresql" or after_s <= 0:
        return 0
    with engine.connect() as c:
        ended = c.exec_driver_sql(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %(app)s AND datname = current_database()"
            " AND pid <> pg_backend_pid() AND state = 'active' AND wait_event = 'ClientRead'"
            " AND state_change <= clock_timestamp() - make_interval(secs => %(after)s)",
            {"app": WRITER_APPLICATION, "after": after_s},
        ).scalar_one()
        c.commit()
    return int(ended)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # see the "begin" listener
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_tables(engine: Engine) -> None:
    """Create the projection tables and the access log where missing."""
    Base.metadata.create_all(engine)


def drop_projection_tables(engine: Engine) -> None:
    """Drop the projection tables (not the access log: an audit trail outlives a rebuild)."""
    Base.metadata.drop_all(engine, tables=list(PROJECTION_TABLES))


def has_tables(engine: Engine) -> bool:
    """Whether the projection tables exist in the database."""
    names = set(inspect(engine).get_table_names())
    return all(t.name in names for t in PROJECTION_TABLES)


def lock_key(url: str, secret_file: Path) -> bytes | None:
    """The key the join locks' names are hashed under (rows.lock_names), derived from the hub's
    secret in `secret_file`; None for SQLite, which takes no such locks (its secret is not
    read). SecretError names the file when it is missing or unusable."""
    if make_url(url).get_backend_name() != "postgresql":
        return None
    return Tokens(load_secret(secret_file)).digest("projection-join-lock", "")


@dataclass
class Store:
    """An engine and its session factory."""

    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()


def open_store(
    url: str,
    *,
    create: bool = True,
    writer: bool = True,
    timeouts: LockTimeouts | None = None,
    lock_key: bytes | None = None,
) -> Store:
    """A Store over `url` (ProjectionSettings.db_url), its tables created unless told not to;
    `timeouts` as for make_engine; `lock_key` (lock_key()) for a writer of permits on
    PostgreSQL."""
    engine = make_engine(url, writer=writer, timeouts=timeouts)
    if create:
        create_tables(engine)
    info = {LOCK_KEY: lock_key} if lock_key else {}
    return Store(engine, sessionmaker(engine, expire_on_commit=False, info=info))
