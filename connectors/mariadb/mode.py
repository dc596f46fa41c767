"""MariaDB/MySQL binlog capture (what Debezium's MySQL connector does), with `mysql-replication`.

Transport. The binlog is read by a thread (connectors/binlog.py: the reader, the positions, the
values) as a replica with our `source.server_id` (unique among everything that reads the
server's binlog: the server drops an older session with the same id). A lost session is reopened
by the reader itself; when that fails too, the mode reads again from the end of the last whole
transaction (with a growing pause, giving up with the reason after a few tries, at once when the
binlog file was purged). Every XID (and COMMIT / DDL query) of the whole server passes the
reader's filter, and while the captured tables are idle the stored offset follows it every
`heartbeat_interval_s` (so a restart does not re-read, or miss as purged, binlog that holds
nothing of ours).

Positions. The stored offset is `{"position", "file", "pos"}` with `pos` the end of the last
published transaction's XID: a restart resumes with the next transaction, never inside one. A batch
yielded inside a large transaction carries no offset (it is re-read after a crash: at-least-once,
same positions). `snapshot_marker` is the binlog position of a consistent snapshot (MariaDB's
`binlog_snapshot_position`), taken before the snapshot reads: everything before it is visible to
them, and what commits during the snapshot is streamed after it. MySQL has no such status; there it
is `SHOW MASTER STATUS`, which leaves a window of a transaction written to the binlog but not yet
committed in InnoDB (Debezium closes it with a global read lock).

Values are brought to what the SQL snapshot reads for the same row (connectors/binlog.py), in
UTC: the snapshot's sessions use UTC too. One that cannot be (a zero date, undecodable bytes)
makes its row a dead letter with its column and position.

Schema changes. An ALTER/CREATE/DROP/RENAME of a captured table (or a row with a column the
table's shape lacks) re-reads the table's metadata; a new shape is registered, or the table
pauses when the registry refuses it (changes to it are skipped while paused, like PostgreSQL's
mode). TRUNCATE is not in a row binlog: it is published as a delete of every key the table's
topic holds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pymysql
import sqlalchemy as sa

from ..changes import Batch, Change
from ..config import ConfigError
from ..mode import ModeContext
from ..shapes import TableShape
from .binlog import (
    BinlogReader,
    Commit,
    Failed,
    Query,
    Replica,
    Rows,
    Tick,
    binlog_offset,
    ddl_tables,
    row_changes,
    truncate_changes,
)

log = logging.getLogger(__name__)

_MAX_FAILURES = 8  # reader failures without a transaction getting through, then capture stops
_BINLOG_GONE = 1236  # ER_MASTER_FATAL_ERROR_READING_BINLOG: the file/position is not there


class ReplicationError(RuntimeError):
    """The source cannot be captured as configured; the message says what and how to fix it."""


# --- the capture mode ---------------------------------------------------------------------------
class MariaDBMode:
    """Row-based binlog capture from MariaDB or MySQL."""

    name = "mariadb"
    sql_snapshot = True

    def __init__(self, ctx: ModeContext):
        self.ctx = ctx
        self.cfg = ctx.config
        self.where = ctx.config.safe_url()
        self.schema = ""
        self.replica: Replica | None = None
        self.names = {t.name: name for name, t in ctx.tables.items()}  # real name -> config name
        self._seen: dict[str, set[tuple[str, ...]]] = {}
        self._reader: BinlogReader | None = None

    # --- set-up -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Check the URL, the binlog settings and the replication grants."""
        engine = self.ctx.engine
        if engine is None or engine.dialect.name not in ("mysql", "mariadb"):
            raise ConfigError(
                "source.url: mode 'mariadb' needs a mysql+pymysql:// or mariadb+pymysql:// URL"
            )
        if not engine.url.database:
            raise ConfigError("source.url: name the database (mysql+pymysql://user@host/DB)")
        self.schema = engine.url.database
        _args, kwargs = engine.dialect.create_connect_args(engine.url)
        for key in ("db", "database"):
            kwargs.pop(key, None)
        self.replica = Replica(
            name=self.cfg.connector_name,
            connection={**kwargs, "read_timeout": 30, "connect_timeout": 10},
            server_id=self.cfg.source.server_id,
            schema=self.schema,
            tables=tuple(self.names),
        )
        self._seen = {t: {self.ctx.shapes[t].columns} for t in self.ctx.tables}
        _utc_sessions(engine)
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        assert self.ctx.engine is not None
        with self.ctx.engine.connect() as conn:
            settings = dict(
                conn.exec_driver_sql(
                    "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
                    "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata')"
                ).all()
            )
            user = conn.exec_driver_sql("SELECT CURRENT_USER()").scalar_one()
            grants = [r[0] for r in conn.exec_driver_sql("SHOW GRANTS")]
        self._check_settings({k.lower(): str(v).upper() for k, v in settings.items()})
        self._check_grants(user, grants)

    def _check_settings(self, s: dict[str, str]) -> None:
        if s.get("log_bin") != "ON":
            raise ReplicationError(
                f"source: binary logging is off on {self.where} (log_bin={s.get('log_bin')}); "
                "binlog capture needs it: set log_bin, server_id, binlog_format=ROW, "
                "binlog_row_image=FULL and binlog_row_metadata=FULL under [mysqld] in the "
                "server's config and restart it"
            )
        wanted = {"binlog_format": "ROW", "binlog_row_image": "FULL", "binlog_row_metadata": "FULL"}
        for var, value in wanted.items():
            have = s.get(var)
            if have is None:
                raise ReplicationError(
                    f"source: {self.where} has no {var} setting; binlog capture needs "
                    "MariaDB 10.5+ or MySQL 8.0.14+ (column names in the row events)"
                )
            if have != value:
                raise ReplicationError(
                    f"source: {self.where} has {var}={have}; binlog capture needs {var}={value}: "
                    f"SET GLOBAL {var} = '{value}' and put {var}={value} under [mysqld] in the "
                    "server's config (sessions already open keep the old value until they "
                    "reconnect)"
                )

    def _check_grants(self, user: str, grants: list[str]) -> None:
        privileges: set[str] = set()
        for g in grants:
            m = re.match(r"GRANT (.+?) ON \*\.\* TO ", g, re.I)
            if m:
                privileges |= {p.strip().upper() for p in m.group(1).split(",")}
        if "ALL PRIVILEGES" in privileges:
            return
        missing = []
        if "REPLICATION SLAVE" not in privileges:
            missing.append("REPLICATION SLAVE")
        if not privileges & {"REPLICATION CLIENT", "BINLOG MONITOR", "SUPER"}:
            missing.append("REPLICATION CLIENT")
        if not missing:
            return
        name, _, host = user.rpartition("@")
        message = (
            f"source: user {user} on {self.where} lacks {' and '.join(missing)}, which binlog "
            f"capture needs: GRANT {', '.join(missing)} ON *.* TO '{name}'@'{host}' (as an "
            "administrator)"
        )
        if any(g.startswith("GRANT `") for g in grants):  # a role, whose grants we don't see
            log.warning("%s (it may come with a role: going on)", message)
            return
        raise ReplicationError(message)

    async def snapshot_marker(self) -> dict[str, Any]:
        """The binlog position that the snapshot's reads will all be past (taken first)."""
        return await asyncio.to_thread(self._binlog_end)

    def _binlog_end(self) -> dict[str, Any]:
        # The binlog is written before the storage engine commits: a transaction before
        # SHOW MASTER STATUS's position may not be visible yet. MariaDB gives the position of
        # a consistent snapshot instead, and every later read sees at least what it sees.
        assert self.ctx.engine is not None
        with self.ctx.engine.connect() as conn:
            conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            status = dict(conn.exec_driver_sql("SHOW STATUS LIKE 'binlog_snapshot_%%'").all())
            conn.rollback()
            if status.get("Binlog_snapshot_file"):
                return binlog_offset(
                    status["Binlog_snapshot_file"], int(status["Binlog_snapshot_position"])
                )
            try:  # MySQL: no such status (see the module doc)
                row = conn.exec_driver_sql("SHOW MASTER STATUS").first()
            except sa.exc.ProgrammingError:  # MySQL 8.4 knows only the new name
                row = conn.exec_driver_sql("SHOW BINARY LOG STATUS").first()
        if row is None:
            raise ReplicationError(f"source: binary logging is off on {self.where}")
        return binlog_offset(row[0], int(row[1]))

    # --- streaming ----------------------------------------------------------------------------
    async def stream(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Batches of whole transactions (offset after the last one), from `resume` on."""
        start = resume if resume and resume.get("file") else await self.snapshot_marker()
        done = binlog_offset(start["file"], int(start["pos"]))  # after the last whole transaction
        stored = done  # the last offset handed to the runner
        stored_at = time.monotonic()
        pending: list[Change] = []  # whole transactions not yet handed over
        tx: list[Change] = []  # the transaction being read
        queue: asyncio.Queue = asyncio.Queue()
        failures, failed_at = 0, done
        self._start_reader(done, queue)
        try:
            while True:
                item = await queue.get()
                reader = self._reader
                assert reader is not None
                reader.room.release()
                if isinstance(item, Failed):
                    # Counted until a transaction gets through: one that fails each time it is
                    # read must not be retried forever.
                    failures = failures + 1 if done == failed_at else 1
                    failed_at = done
                    await self._recover(item.error, failures, done)
                    tx = []  # read again from its start
                    self._start_reader(done, queue)
                    continue
                if isinstance(item, Rows):
                    table = self.names.get(item.table)
                    if table is None or table in self.ctx.paused:
                        continue
                    if not set(item.columns) <= set(self.ctx.shapes[table].columns) and (
                        item.columns not in self._seen[table]
                    ):
                        self._seen[table].add(item.columns)
                        if pending or tx:  # published under the shape they were read with
                            yield Batch(pending + tx, offset=done if done != stored else None)
                            stored, pending, tx = done, [], []
                        if not await self._refresh_shape(table):
                            continue
                    tx.extend(row_changes(table, item, self.ctx.shapes[table].key))
                    if len(pending) + len(tx) >= self.cfg.batch_size:
                        # Inside a big transaction: its start is read again after a crash.
                        yield Batch(pending + tx, offset=done if done != stored else None)
                        stored, pending, tx = done, [], []
                elif isinstance(item, Commit | Query):
                    pending.extend(tx)
                    tx = []
                    ddl = self._ddl_targets(item) if isinstance(item, Query) else None
                    if ddl:
                        if pending:  # published under the shape they were read with
                            yield Batch(pending, offset=done if done != stored else None)
                            stored, stored_at, pending = done, time.monotonic(), []
                        pending = await self._apply_ddl(item, *ddl)
                    done = binlog_offset(item.file, item.pos)
                    if pending and (len(pending) >= self.cfg.batch_size or queue.empty()):
                        yield Batch(pending, offset=done)
                        stored, stored_at, pending = done, time.monotonic(), []
                    elif not pending and self._offset_due(done, stored, stored_at):
                        yield Batch([], offset=done)
                        stored, stored_at = done, time.monotonic()
                elif isinstance(item, Tick):
                    if pending:
                        yield Batch(pending, offset=done)
                        stored, stored_at, pending = done, time.monotonic(), []
                    elif self._offset_due(done, stored, stored_at):
                        yield Batch([], offset=done)  # other databases' traffic moved the binlog
                        stored, stored_at = done, time.monotonic()
        finally:
            self._stop_reader()

    def _offset_due(self, done: dict, stored: dict, stored_at: float) -> bool:
        interval = self.cfg.source.heartbeat_interval_s
        return done != stored and time.monotonic() - stored_at >= interval

    def _start_reader(self, at: dict[str, Any], queue: asyncio.Queue) -> None:
        assert self.replica is not None
        self._reader = BinlogReader(self.replica, at["file"], int(at["pos"]), queue)
        self._reader.start()

    def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.stopping.set()

    async def _recover(self, error: BaseException, failures: int, at: dict[str, Any]) -> None:
        """After a reader failure: wait and read again from `at`, or give up with the reason."""
        code = error.args[0] if isinstance(error, pymysql.err.Error) and error.args else None
        if code == _BINLOG_GONE:
            raise ReplicationError(
                f"source: {self.where} cannot send the binlog from {at['file']}:{at['pos']} "
                f"({error.args[-1]}): it was purged while the connector was away. Start over "
                "with a snapshot (a new connector name, or reset this connector's offsets), and "
                "keep binlogs longer (binlog_expire_logs_seconds)"
            ) from None
        if failures > _MAX_FAILURES:
            raise ReplicationError(
                f"source: reading the binlog of {self.where} keeps failing: "
                f"{type(error).__name__}: {error}"
            ) from error
        delay = min(0.5 * 2**failures, 15.0)
        log.warning(
            "binlog reader failed (%s: %s); reading again from %s:%s in %.1fs",
            type(error).__name__,
            error,
            at["file"],
            at["pos"],
            delay,
        )
        await asyncio.sleep(delay)

    def _ddl_targets(self, item: Query) -> tuple[str, list[str]] | None:
        """(verb, captured tables) of a DDL statement on captured tables, else None."""
        parsed = ddl_tables(item.query, item.schema)
        if parsed is None:
            return None
        verb, names = parsed
        tables = [self.names[t] for s, t in names if s == self.schema and t in self.names]
        return (verb, list(dict.fromkeys(tables))) if tables else None

    async def _apply_ddl(self, item: Query, verb: str, tables: list[str]) -> list[Change]:
        """Re-read the shapes of the tables a DDL statement touched; the deletes a TRUNCATE
        implies (what came before it is published already: they are read from the topic)."""
        changes: list[Change] = []
        for table in tables:
            if verb == "TRUNCATE":
                if table not in self.ctx.paused:
                    changes.extend(await self._truncate(table, item))
                continue
            await self._refresh_shape(table)
        return changes

    async def _truncate(self, table: str, item: Query) -> list[Change]:
        from ..topic_state import published_state  # the Kafka read-back, only ever for TRUNCATE

        shape = self.ctx.shapes[table]
        keys = await published_state(self.cfg, self.cfg.topic(table), shape, None)
        log.info("table %s truncated: publishing deletes of %d keys", table, len(keys))
        return truncate_changes(table, item, shape.key, keys)

    async def _refresh_shape(self, table: str) -> bool:
        """Re-read the table's metadata; a changed shape is registered (or the table pauses)."""
        assert self.ctx.engine is not None
        real = self.ctx.tables[table].name
        try:
            refl = await asyncio.to_thread(_reflect, self.ctx.engine, real)
        except sa.exc.NoSuchTableError:
            log.warning("table %s is gone from the source; its capture waits for it", table)
            return table not in self.ctx.paused
        shape = TableShape.from_table(refl, self.cfg.table(table).key)
        self._seen[table].add(shape.columns)
        if shape == self.ctx.shapes[table]:
            return table not in self.ctx.paused
        self.ctx.tables[table] = refl
        log.info("table %s: columns changed in the source: %s", table, ", ".join(shape.columns))
        return await self.ctx.schema_changed(table, shape)

    async def stop(self) -> None:
        """Stop the reader thread (it closes its connections)."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.stopping.set()
            await asyncio.to_thread(reader.join, 5)


def _reflect(engine: sa.Engine, table: str) -> sa.Table:
    return sa.Table(table, sa.MetaData(), autoload_with=engine)


def _utc_sessions(engine: sa.Engine) -> None:
    """Snapshot reads in UTC: the binlog carries TIMESTAMP values in UTC."""

    @sa.event.listens_for(engine, "connect")
    def _utc(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")

    engine.dispose()  # connections opened before (reflection) come back with it
