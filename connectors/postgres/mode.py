"""PostgreSQL logical decoding with the pgoutput plugin (what Debezium's PostgreSQL connector
does): the capture mode, which streams its slot over the replication protocol
(connectors/postgres/replication.py), decodes and hands over batches. Set-up, heartbeats and the
parked tables' copies of the slot use a plain SQL connection (connectors/postgres/slot.py).

The stored offset is `{"position", "lsn"}`, `lsn` the end of the last published commit; the slot
advances to it only once Kafka acknowledged the batch and the offset is stored, so a kill -9 at
any moment re-reads from there, never skips. Decoding emits whole transactions at their commit,
so an offset never falls inside one; those committed before the offset are skipped on a re-read.
While the captured tables are idle, heartbeat messages move the slot (it holds WAL back).

The source server going away (restart, failover, a dropped connection) is not the end of
capture: the mode reconnects and streams again from the last stored offset, dropping whatever
it had decoded but not handed over (the slot still holds it).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from ..changes import Batch, Change
from ..config import ConfigError
from ..mode import ModeContext
from .parking import ParkedTables
from .pgoutput import (
    Begin,
    Commit,
    LogicalMessage,
    MessageReader,
    Relation,
    Row,
    Truncated,
    format_lsn,
    parse_lsn,
)
from .publication import ensure_publication, set_replica_identity
from .replication import Gone, ReplicationStream, connect_kwargs
from .slot import (
    HEARTBEAT_PREFIX,
    ReplicationError,
    Slot,
    check_logical_decoding,
    close,
    connect,
)
from .tables import CapturedTables, Transaction

log = logging.getLogger(__name__)

RECONNECT_WAIT_S = 1.0  # between attempts to reach a source server that went away
BUFFERED_BATCHES = 4  # messages read ahead of the encoder, in batches (the server waits beyond)


@dataclass
class _Pending:
    """Decoded changes not yet handed to the runner, and how far they reach."""

    changes: list[Change] = field(default_factory=list)
    upto: int | None = None  # everything committed before this LSN is in `changes` (or done)


class PostgresMode:
    """pgoutput logical decoding through a replication slot, streamed."""

    name = "postgres"
    sql_snapshot = True

    def __init__(self, ctx: ModeContext):
        self.ctx = ctx
        self.cfg = ctx.config
        src = ctx.config.source
        default = "mpphub_" + re.sub(r"[^a-z0-9_]", "_", ctx.config.connector_name.lower())
        self.slot_name = src.slot or default[:63]
        self.publication = src.publication or default[:63]
        self.where = ctx.config.safe_url()
        self.conn: psycopg.Connection | None = None
        self.created_at: int | None = None  # slot position when this run created the slot
        self._relations: dict[int, Relation] = {}
        self._stream: ReplicationStream | None = None
        self._reader = MessageReader(self._relations)
        self._tx: Transaction | None = None  # open across pieces of the stream
        self._done = 0  # everything committed before this LSN is published and stored
        self._heartbeats = True
        # Set by start(), once the connection is open:
        self.slot: Slot
        self.captured: CapturedTables
        self.parked: ParkedTables

    # --- set-up -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Check wal_level and privileges; replica identity, publication and slot."""
        engine = self.ctx.engine
        if engine is None or engine.dialect.name != "postgresql":
            raise ConfigError("source.url: mode 'postgres' needs a postgresql:// URL")
        self.conn = await asyncio.to_thread(connect, engine, self.cfg.connector_name)
        self.slot = Slot(
            self.conn, self.slot_name, self.publication, self.where, self.cfg.batch_size
        )
        schema = await asyncio.to_thread(self._prepare)
        self.captured = CapturedTables(self.ctx, self.conn, schema)
        self.parked = ParkedTables(self.slot, self.captured, lambda: self._offset(self._done))

    def _prepare(self) -> str:
        # Publication before slot: pgoutput looks the publication up as of each change.
        assert self.conn is not None
        schema = check_logical_decoding(self.conn, self.where)
        create = self.cfg.source.create_slot
        real_names = {t: sql_table.name for t, sql_table in self.ctx.tables.items()}
        set_replica_identity(self.conn, real_names, create, self.where)
        ensure_publication(
            self.conn, self.publication, list(real_names.values()), schema, create, self.where
        )
        self.created_at = self.slot.ensure(create)
        return schema

    async def snapshot_marker(self) -> dict[str, Any]:
        """The slot's position: nothing was read from it yet, so it is where it was created."""
        lsn = await self.slot.confirmed_flush()
        return {"position": f"{lsn:016X}", "lsn": format_lsn(lsn)}

    def _advancer(self, lsn: int) -> Callable[[], Any]:
        async def advance() -> None:
            # The offset is stored: from here on a re-read skips up to it, whatever the slot.
            self._done = max(self._done, lsn)
            if self._stream is not None:  # none: reconnecting, which brings the slot up to it
                self._stream.confirm(lsn)

        return advance

    # --- streaming ----------------------------------------------------------------------------
    async def stream(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Stream, decode, yield batches; the slot advances once a batch is stored. A lost
        connection is reopened, and capture goes on from the last stored offset."""
        start = await self._resume_at(resume)
        self._done = start
        async for batch in self.parked.restore((resume or {}).get("parked") or {}, start):
            yield batch
        while True:
            try:
                async for batch in self._follow():
                    yield batch
            except (psycopg.OperationalError, *Gone) as e:
                log.warning(
                    "source %s went away (%s): reconnecting, to resume from %s",
                    self.where,
                    type(e).__name__,
                    format_lsn(self._done),
                )
                await self._reconnect()

    async def _follow(self) -> AsyncIterator[Batch]:
        kwargs = connect_kwargs(self.ctx.engine, self.cfg.connector_name)
        size = self.cfg.batch_size
        stream = ReplicationStream(
            kwargs, self.slot_name, self.publication, self.where, BUFFERED_BATCHES * size
        )
        self._reader, self._tx = MessageReader(self._relations), None
        await stream.open(self._done)
        self._stream = stream
        try:
            idle_since = time.monotonic()
            while True:
                rows = await stream.take(size, self.cfg.source.poll_interval_s)
                pending = _Pending()
                async for batch in self._decode(rows, pending):
                    yield batch
                if pending.changes or pending.upto is not None:
                    yield self._batch(pending)
                    idle_since = time.monotonic()
                elif rows and self._tx is None:  # only transactions published before
                    stream.confirm(self._done)
                now = time.monotonic()
                if self._heartbeats and now - idle_since >= self.cfg.source.heartbeat_interval_s:
                    self._heartbeats = await self.slot.emit_heartbeat()
                    idle_since = now
        finally:
            self._stream = None
            stream.close()

    async def _reconnect(self) -> None:
        """A new connection (waiting until the server answers), the slot brought up to the
        stored offset: a server that crashed may have lost the slot's last advances."""
        while True:
            if self.conn is not None:
                await asyncio.to_thread(close, self.conn)
                self.conn = None
            try:
                self.conn = await asyncio.to_thread(
                    connect, self.ctx.engine, self.cfg.connector_name
                )
                self.slot.conn = self.captured.conn = self.conn
                await self._resume_at({"lsn": format_lsn(self._done)})
                break
            except psycopg.OperationalError:  # not up yet, or gone again
                await asyncio.sleep(RECONNECT_WAIT_S)
        log.info("source %s is back: capture resumes from %s", self.where, format_lsn(self._done))

    async def _resume_at(self, resume: dict[str, Any] | None) -> int:
        """The LSN to stream from: the stored offset's, with the slot brought up to it."""
        slot_at = await self.slot.confirmed_flush()
        start = parse_lsn(resume["lsn"]) if resume and resume.get("lsn") else slot_at
        if self.created_at is not None and start < self.created_at:
            raise ReplicationError(
                f"source.slot: replication slot {self.slot_name} was missing on {self.where} and "
                f"was created at {format_lsn(self.created_at)}, but the stored offset resumes "
                f"from {format_lsn(start)}: changes in between are lost. Start over with a "
                "snapshot (a new connector name, or reset this connector's offsets)"
            )
        if start > slot_at:  # stored, but the advance did not happen (crash) or was not persisted
            await self.slot.advance(start)
        elif start < slot_at:
            log.warning(
                "slot %s is at %s, ahead of the stored offset %s: someone else moved it",
                self.slot_name,
                format_lsn(slot_at),
                format_lsn(start),
            )
        return start

    def _batch(self, pending: _Pending) -> Batch:
        """Hand over the pending changes; the offset only when a commit (or heartbeat) is passed."""
        upto, changes = pending.upto, pending.changes
        pending.changes, pending.upto = [], None
        if upto is None:
            return Batch(changes, offset=None)
        return Batch(changes, self._offset(upto), on_committed=[self._advancer(upto)])

    def _offset(self, upto: int) -> dict[str, Any]:
        offset: dict[str, Any] = {"position": f"{upto:016X}", "lsn": format_lsn(upto)}
        if self.parked:
            offset["parked"] = self.parked.offset()
        return offset

    async def _decode(self, rows: list[tuple[None, bytes]], pending: _Pending):
        """Decode a piece of the stream; the transaction it ends in stays open (self._tx) for the
        next piece. Yields early only where what follows must see it published."""
        captured = self.captured
        tx = self._tx
        for msg in self._reader.read(rows):
            if isinstance(msg, Begin):
                tx = self._tx = Transaction(msg, skip=msg.final_lsn < self._done)
            elif isinstance(msg, Commit):
                if tx is not None and not tx.skip:
                    pending.changes.extend(tx.changes)
                    pending.upto = msg.end_lsn
                tx = self._tx = None
            elif isinstance(msg, Relation):
                table = captured.table_of(msg)
                if table is not None and captured.shape_changed(table, msg):
                    # Changes decoded so far are encoded with the shape they were made under.
                    if tx is not None and tx.changes:
                        pending.changes.extend(tx.changes)
                        tx.changes = []
                    if pending.changes:
                        yield self._batch(pending)
                    now = tx.begin.final_lsn if tx is not None else self._done
                    if not await captured.refresh_shape(table):
                        if table not in self.parked:
                            await self.parked.park(table, now)
                    elif table in self.parked:  # fixed: the changes made while paused first
                        async for batch in self.parked.drain(table, until=now, inclusive=True):
                            yield batch
            elif isinstance(msg, Row) and tx is not None:
                table = captured.table_of(msg.relation)
                if not tx.skip and table is not None and not captured.paused(table):
                    tx.changes.extend(await captured.changes(msg, table))
            elif isinstance(msg, Truncated) and tx is not None:
                for rel in msg.relations:
                    table = captured.table_of(rel)
                    if tx.skip or table is None or captured.paused(table):
                        continue
                    # The deletes are of what the topic holds: publish what came before first.
                    pending.changes.extend(tx.changes)
                    tx.changes = []
                    if pending.changes:
                        yield self._batch(pending)
                    tx.changes.extend(await captured.truncate(msg, table))
            elif isinstance(msg, LogicalMessage):
                if msg.prefix == HEARTBEAT_PREFIX and not msg.transactional and tx is None:
                    # Everything committed before it came before it: safe to move past it.
                    if msg.lsn + 1 > self._done:
                        pending.upto = max(pending.upto or 0, msg.lsn + 1)

    async def stop(self) -> None:
        """Close the connections; the slot stays (it keeps our place)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self.conn is not None:
            await asyncio.to_thread(close, self.conn)
            self.conn = None
