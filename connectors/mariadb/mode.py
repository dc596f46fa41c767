"""MariaDB/MySQL binlog capture (what Debezium's MySQL connector does): the capture mode, which
reads the binlog through a reader thread (binlog.py) as a replica with `source.server_id`.

The stored offset is `{"position", "file", "pos"}`, `pos` the end of the last published
transaction's XID: a restart resumes with the next transaction, never inside one (a batch yielded
inside a large transaction carries no offset and is re-read after a crash). A lost session is
read again from there, with a growing pause; a purged binlog stops capture with the reason. While
the captured tables are idle the offset follows the server's XIDs every `heartbeat_interval_s`.
A DDL statement or an unknown column re-reads the table's shape (or pauses the table); TRUNCATE,
absent from a row binlog, is published as deletes of every key the table's topic holds.
"""

from __future__ import annotations

import asyncio
import logging
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
from .server import ReplicationError, binlog_end, check_server, utc_sessions

log = logging.getLogger(__name__)

_MAX_FAILURES = 8  # reader failures without a transaction getting through, then capture stops
_BINLOG_GONE = 1236  # ER_MASTER_FATAL_ERROR_READING_BINLOG: the file/position is not there


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
        utc_sessions(engine)
        await asyncio.to_thread(check_server, engine, self.where)

    async def snapshot_marker(self) -> dict[str, Any]:
        """The binlog position that the snapshot's reads will all be past (taken first)."""
        assert self.ctx.engine is not None
        return await asyncio.to_thread(binlog_end, self.ctx.engine, self.where)

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
