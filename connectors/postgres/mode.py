"""PostgreSQL logical decoding with the pgoutput plugin (what Debezium's PostgreSQL connector does,
over plain SQL).

Transport. psycopg 3 does not speak the replication protocol, so changes are read on an ordinary
autocommit connection with `pg_logical_slot_peek_binary_changes(slot, NULL, n, 'proto_version',
'1', 'publication_names', P, 'messages', 'true')` and the pgoutput messages are parsed here.
*Peek*, never *get*: get moves the slot as soon as the rows are read, and a crash before Kafka
acknowledged them would lose them. The slot moves only in a batch's `on_committed` callback
(`pg_replication_slot_advance`), i.e. after Kafka acknowledged every event of the batch and the
offset was stored, so its confirmed position never passes what downstream has: a kill -9 at any
moment re-reads from there (at-least-once, same positions), never skips. Decoding emits a
transaction only at its commit, so a peek holds whole transactions and an offset never falls
inside one. Transactions whose commit lies before the stored offset are skipped on a re-read (the
slot may lag the offset: a crash between storing the offset and advancing, or a server crash,
since an advanced position is only persisted at the next checkpoint).

Positions. The messages, values and change positions are connectors/pgoutput.py's. The stored
offset is `{"position", "lsn"}` with `lsn` the end of the last published commit (`0/16B3748`).

Replica identity. With PostgreSQL's default identity an update carries no old row and a delete
only the key, and an unchanged TOASTed value is not sent at all. When `create_slot` lets the
connector change the source, it runs `ALTER TABLE .. REPLICA IDENTITY FULL` (Debezium's
recommendation; more WAL per update, nothing changes for the application) with a short lock
timeout. If that is not allowed the table is captured with its key only (`before` of an update
null, of a delete the key; a missing TOASTed value read from the table as it is now). A table
without a primary key must have FULL: in a publication without replica identity the
application's own UPDATE and DELETE would fail, so the connector refuses to add it. An update of
the key is published as a delete of the old key and a create of the new one (as Debezium does).

Heartbeats. A slot holds WAL back from its restart point. When the captured tables are idle
(while others in the same cluster are not) nothing would move it, so every `heartbeat_interval_s`
of idleness the connector writes `pg_logical_emit_message(false, 'mpphub-heartbeat', now())`; when
the message comes back through the slot, everything committed before it has been published, and
the slot is advanced past it (after the offset is stored, like any batch).

Publication and slot are created (publication first: pgoutput looks it up as of each change) when
missing and `create_slot` is true; otherwise their absence is an error naming them. The slot is
created before the snapshot reads, and `snapshot_marker` is its position, so changes committed
during the snapshot are streamed after it (duplicates are fine).

Values are decoded from their text form, in a session fixed to ISO dates and UTC; one Python
cannot hold ('infinity', BC, year > 9999) stays text and makes its row a dead letter, in the
snapshot too (the runner makes the snapshot engine's date loaders lenient: connectors/sql.py).

Paused tables. When the registry refuses a table's new shape, the table pauses and the slot goes
on for the others; the paused table's place is kept by a copy of the slot
(`pg_copy_logical_replication_slot`, named `<slot>_<table>`, recorded in the offset under
`parked`). When the table resumes (a later shape is accepted, while running or at a restart),
its changes since the pause are read from that copy and published first, then the copy is
dropped: nothing is lost. The copy holds WAL back while the table is paused.

Limits: a transaction is held in memory whole (peek returns it at once), and every peek decodes
again from the slot's restart point (the SQL interface has no streaming session); TRUNCATE is
published as a delete of every key the table's topic holds.
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
import sqlalchemy as sa
from psycopg import sql

from ..changes import Batch, Change
from ..config import ConfigError
from ..mode import ModeContext
from ..shapes import TableShape
from .pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    LogicalMessage,
    Relation,
    Row,
    Truncated,
    format_lsn,
    messages,
    parse_lsn,
    row_changes,
    row_images,
    truncate_changes,
)

log = logging.getLogger(__name__)

HEARTBEAT_PREFIX = "mpphub-heartbeat"
_IN_USE_WAIT_S = 60.0  # a killed predecessor's backend may hold the slot for a moment
# Session settings that fix how values are rendered as text while decoding (it runs in our
# backend): ISO dates, UTC offsets, exact floats, hex bytea.
_SESSION = (
    "SET DateStyle = 'ISO, YMD'",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
    "SET IntervalStyle = 'postgres'",
)


class ReplicationError(RuntimeError):
    """The source cannot be captured as configured; the message says what and where."""


# --- the capture mode ---------------------------------------------------------------------------
@dataclass
class _Tx:
    begin: Begin
    skip: bool  # committed before what is already published
    changes: list[Change] = field(default_factory=list)


@dataclass
class _Pending:
    """Decoded changes not yet handed to the runner, and how far they reach."""

    changes: list[Change] = field(default_factory=list)
    upto: int | None = None  # everything committed before this LSN is in `changes` (or done)


class PostgresMode:
    """pgoutput logical decoding through a replication slot, read with SQL."""

    name = "postgres"
    sql_snapshot = True

    def __init__(self, ctx: ModeContext):
        self.ctx = ctx
        self.cfg = ctx.config
        src = ctx.config.source
        default = "mpphub_" + re.sub(r"[^a-z0-9_]", "_", ctx.config.connector_name.lower())
        self.slot = src.slot or default[:63]
        self.publication = src.publication or default[:63]
        self.where = ctx.config.safe_url()
        self.conn: psycopg.Connection | None = None
        self.schema = "public"
        self.created_at: int | None = None  # slot position when this run created the slot
        self._names = {t.name: name for name, t in ctx.tables.items()}  # real name -> config name
        self._relations: dict[int, Relation] = {}
        self._signatures: dict[str, tuple] = {}
        self._done = 0  # everything committed before this LSN is published and stored
        # Paused tables: a copy of the slot parked where each one stopped, and the commit LSN
        # from which its changes are unpublished. Drained when the table resumes.
        self._parked: dict[str, dict[str, Any]] = {}
        self._heartbeats = True

    # --- set-up -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Check wal_level and privileges; replica identity, publication and slot."""
        engine = self.ctx.engine
        if engine is None or engine.dialect.name != "postgresql":
            raise ConfigError("source.url: mode 'postgres' needs a postgresql:// URL")
        self.conn = await asyncio.to_thread(self._connect)
        await asyncio.to_thread(self._prepare)

    def _connect(self) -> psycopg.Connection:
        engine = self.ctx.engine
        assert engine is not None
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs.pop("context", None)  # SQLAlchemy's adapters: this connection keeps psycopg's
        kwargs.setdefault("application_name", f"mpphub-{self.cfg.connector_name}")
        conn = psycopg.connect(*args, **kwargs, autocommit=True)
        for statement in _SESSION:
            conn.execute(statement)
        return conn

    def _one(self, query: Any, params: tuple = ()) -> tuple | None:
        assert self.conn is not None
        return self.conn.execute(query, params).fetchone()

    def _prepare(self) -> None:
        wal_level = self._one("SHOW wal_level")[0]
        if wal_level != "logical":
            raise ReplicationError(
                f"source: {self.where} has wal_level={wal_level}; logical decoding needs "
                "wal_level=logical in postgresql.conf (and a server restart)"
            )
        user, allowed, self.schema = self._one(
            "SELECT current_user, rolsuper OR rolreplication, current_schema() "
            "FROM pg_roles WHERE rolname = current_user"
        )
        if not allowed:
            raise ReplicationError(
                f"source: user {user} on {self.where} lacks the REPLICATION privilege that "
                f"logical decoding needs: ALTER ROLE {user} REPLICATION (as a superuser)"
            )
        self._replica_identity()
        self._ensure_publication()
        self._ensure_slot()

    def _ident(self, table: str) -> sql.Composable:
        return sql.Identifier(self.ctx.tables[table].name)

    def _replica_identity(self) -> None:
        for table in self.ctx.tables:
            ident, has_pk = self._one(
                "SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_index i "
                "WHERE i.indrelid = c.oid AND i.indisprimary) "
                "FROM pg_class c WHERE c.oid = %s::regclass",
                (self._ident(table).as_string(self.conn),),
            )
            if ident == "f":
                continue
            why = "not allowed (source.create_slot is false)"
            if self.cfg.source.create_slot:
                try:
                    with self.conn.transaction():
                        self.conn.execute("SET LOCAL lock_timeout = '5s'")
                        self.conn.execute(
                            sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(
                                self._ident(table)
                            )
                        )
                    log.info("table %s: REPLICA IDENTITY FULL set", table)
                    continue
                except (psycopg.errors.InsufficientPrivilege, psycopg.errors.LockNotAvailable) as e:
                    why = e.diag.message_primary or type(e).__name__
            if ident == "n" or (ident == "d" and not has_pk):
                raise ReplicationError(
                    f"tables.{table}: no primary key and no replica identity on {self.where}; "
                    f"in a publication the application's UPDATE/DELETE would fail. Run ALTER "
                    f"TABLE {self.ctx.tables[table].name} REPLICA IDENTITY FULL as its owner "
                    f"({why})"
                )
            log.warning(
                "table %s: REPLICA IDENTITY FULL not set (%s): updates carry no old row, "
                "deletes only the key",
                table,
                why,
            )

    def _ensure_publication(self) -> None:
        pub = self.publication
        create = self.cfg.source.create_slot
        names = [self.ctx.tables[t].name for t in self.ctx.tables]
        row = self._one(
            "SELECT puballtables, pubinsert AND pubupdate AND pubdelete "
            "FROM pg_publication WHERE pubname = %s",
            (pub,),
        )
        if row is None:
            if not create:
                raise ConfigError(
                    f"source.publication: publication {pub!r} does not exist on {self.where} and "
                    f"source.create_slot is false: CREATE PUBLICATION {pub} FOR TABLE "
                    f"{', '.join(names)}"
                )
            self._ddl(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                    sql.Identifier(pub), sql.SQL(", ").join(map(sql.Identifier, names))
                ),
                f"create publication {pub}",
            )
            log.info("created publication %s for %s", pub, ", ".join(names))
            return
        all_tables, all_ops = row
        if not all_ops:
            log.warning("publication %s does not publish every insert/update/delete", pub)
        if all_tables:
            return
        have = {
            r[0]
            for r in self.conn.execute(
                "SELECT tablename FROM pg_publication_tables WHERE pubname = %s "
                "AND schemaname = %s",
                (pub, self.schema),
            )
        }
        missing = [n for n in names if n not in have]
        if missing and not create:
            raise ConfigError(
                f"source.publication: publication {pub!r} on {self.where} lacks table(s) "
                f"{', '.join(missing)} and source.create_slot is false: ALTER PUBLICATION {pub} "
                f"ADD TABLE {', '.join(missing)}"
            )
        if missing:
            self._ddl(
                sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(
                    sql.Identifier(pub), sql.SQL(", ").join(map(sql.Identifier, missing))
                ),
                f"add {', '.join(missing)} to publication {pub}",
            )
            log.info("added %s to publication %s", ", ".join(missing), pub)

    def _ddl(self, statement: sql.Composable, what: str) -> None:
        try:
            self.conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as e:
            raise ReplicationError(
                f"source: cannot {what} on {self.where}: {e.diag.message_primary}; have the "
                "tables' owner do it, and name it in source.publication"
            ) from None

    def _ensure_slot(self) -> None:
        row = self._one(
            "SELECT plugin, database, current_database() FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (self.slot,),
        )
        if row is not None:
            plugin, database, ours = row
            if plugin != "pgoutput" or database != ours:
                raise ConfigError(
                    f"source.slot: replication slot {self.slot!r} on {self.where} is for "
                    f"database {database} with plugin {plugin}, not {ours} with pgoutput"
                )
            return
        if not self.cfg.source.create_slot:
            raise ConfigError(
                f"source.slot: replication slot {self.slot!r} does not exist on {self.where} and "
                f"source.create_slot is false: SELECT pg_create_logical_replication_slot("
                f"'{self.slot}', 'pgoutput')"
            )
        # Waits for transactions running now to end (the slot's consistent point).
        lsn = self._one(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')",
            (self.slot,),
        )[0]
        self.created_at = parse_lsn(lsn)
        log.info("created replication slot %s at %s", self.slot, lsn)

    async def snapshot_marker(self) -> dict[str, Any]:
        """The slot's position: nothing was read from it yet, so it is where it was created."""
        lsn = await self._call(self._confirmed_flush)
        return {"position": f"{lsn:016X}", "lsn": format_lsn(lsn)}

    # --- slot access --------------------------------------------------------------------------
    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a slot function in a thread; wait while a killed predecessor still holds the slot."""
        deadline = time.monotonic() + _IN_USE_WAIT_S
        while True:
            try:
                return await asyncio.to_thread(fn, *args)
            except psycopg.errors.ObjectInUse as e:
                if time.monotonic() > deadline:
                    raise ReplicationError(
                        f"source.slot: replication slot {self.slot} on {self.where} stays in use "
                        f"({e.diag.message_primary}): is another connector using it?"
                    ) from None
                await asyncio.sleep(0.5)

    def _confirmed_flush(self) -> int:
        lsn = self._slot_position(self.slot)
        if lsn is None:
            raise ReplicationError(f"source.slot: replication slot {self.slot} vanished")
        return lsn

    def _peek(self, slot: str) -> list[tuple[str, bytes]]:
        quoted = '"' + self.publication.replace('"', '""') + '"'
        return self.conn.execute(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, %s::int, "
            "'proto_version', '1', 'publication_names', %s, 'messages', 'true')",
            (slot, self.cfg.batch_size, quoted),
        ).fetchall()

    def _advance(self, lsn: int, slot: str | None = None) -> None:
        # Never backwards (PostgreSQL refuses that), and only ever to a published position.
        self.conn.execute(
            "SELECT pg_replication_slot_advance(slot_name, %s::pg_lsn) FROM pg_replication_slots "
            "WHERE slot_name = %s AND confirmed_flush_lsn < %s::pg_lsn",
            (format_lsn(lsn), slot or self.slot, format_lsn(lsn)),
        )

    def _emit_heartbeat(self) -> None:
        try:
            self.conn.execute(
                "SELECT pg_logical_emit_message(false, %s, now()::text)", (HEARTBEAT_PREFIX,)
            )
        except psycopg.errors.InsufficientPrivilege as e:
            log.warning("heartbeats off: %s", e.diag.message_primary)
            self._heartbeats = False

    def _advance_callback(self, lsn: int, slot: str | None = None) -> Callable[[], Any]:
        async def advance() -> None:
            await self._call(self._advance, lsn, slot)
            if slot is None:
                self._done = max(self._done, lsn)

        return advance

    # --- streaming ----------------------------------------------------------------------------
    async def stream(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Peek, decode, yield one batch per peek; the slot advances once a batch is stored."""
        slot_at = await self._call(self._confirmed_flush)
        start = parse_lsn(resume["lsn"]) if resume and resume.get("lsn") else slot_at
        if self.created_at is not None and start < self.created_at:
            raise ReplicationError(
                f"source.slot: replication slot {self.slot} was missing on {self.where} and was "
                f"created at {format_lsn(self.created_at)}, but the stored offset resumes from "
                f"{format_lsn(start)}: changes in between are lost. Start over with a snapshot "
                "(a new connector name, or reset this connector's offsets)"
            )
        if start > slot_at:  # stored, but the advance did not happen (crash) or was not persisted
            await self._call(self._advance, start)
        elif start < slot_at:
            log.warning(
                "slot %s is at %s, ahead of the stored offset %s: someone else moved it",
                self.slot,
                format_lsn(slot_at),
                format_lsn(start),
            )
        self._done = start
        stored = (resume or {}).get("parked") or {}
        for table in self.ctx.tables:
            name = self._park_name(table)
            at = await self._call(self._slot_position, name)
            if at is None:
                if table in stored:
                    log.info("table %s: parked slot %s already drained", table, name)
                if self._paused(table):
                    await self._park(table, start)
                continue
            unpublished = parse_lsn(stored[table]["from"]) if table in stored else at
            self._parked[table] = {"slot": name, "from": unpublished}
            if not self._paused(table):  # fixed while we were down: its backlog first
                async for batch in self._drain(table, until=start, inclusive=False):
                    yield batch
        idle_since = time.monotonic()
        while True:
            rows = await self._call(self._peek, self.slot)
            pending = _Pending()
            async for batch in self._decode(rows, pending):
                yield batch
            if pending.changes or pending.upto is not None:
                yield self._batch(pending)
                idle_since = time.monotonic()
            elif rows:  # only transactions published before: the slot lags the offset
                await self._call(self._advance, self._done)
            if len(rows) >= self.cfg.batch_size:
                continue
            now = time.monotonic()
            if self._heartbeats and now - idle_since >= self.cfg.source.heartbeat_interval_s:
                await self._call(self._emit_heartbeat)
                idle_since = now
            await asyncio.sleep(self.cfg.source.poll_interval_s)

    def _batch(self, pending: _Pending) -> Batch:
        """Hand over the pending changes; the offset only when a commit (or heartbeat) is passed."""
        upto, changes = pending.upto, pending.changes
        pending.changes, pending.upto = [], None
        if upto is None:
            return Batch(changes, offset=None)
        return Batch(changes, self._offset(upto), on_committed=[self._advance_callback(upto)])

    def _offset(self, upto: int) -> dict[str, Any]:
        offset: dict[str, Any] = {"position": f"{upto:016X}", "lsn": format_lsn(upto)}
        if self._parked:
            offset["parked"] = {
                t: {"slot": p["slot"], "from": format_lsn(p["from"])}
                for t, p in self._parked.items()
            }
        return offset

    async def _decode(self, rows: list[tuple[str, bytes]], pending: _Pending):
        """Decode one peek; yields early only where what follows must see it published."""
        tx: _Tx | None = None
        for msg in messages(rows, self._relations):
            if isinstance(msg, Begin):
                tx = _Tx(msg, skip=msg.final_lsn < self._done)
            elif isinstance(msg, Commit):
                if tx is not None and not tx.skip:
                    pending.changes.extend(tx.changes)
                    pending.upto = msg.end_lsn
                tx = None
            elif isinstance(msg, Relation):
                table = self._table_of(msg)
                if table is not None and self._shape_changed(table, msg):
                    # Changes decoded so far are encoded with the shape they were made under.
                    if tx is not None and tx.changes:
                        pending.changes.extend(tx.changes)
                        tx.changes = []
                    if pending.changes:
                        yield self._batch(pending)
                    now = tx.begin.final_lsn if tx is not None else self._done
                    if not await self._refresh_shape(table):
                        if table not in self._parked:
                            await self._park(table, now)
                    elif table in self._parked:  # fixed: the changes made while paused first
                        async for batch in self._drain(table, until=now, inclusive=True):
                            yield batch
            elif isinstance(msg, Row) and tx is not None:
                table = self._table_of(msg.relation)
                if not tx.skip and table is not None and not self._paused(table):
                    tx.changes.extend(await self._changes(msg, table))
            elif isinstance(msg, Truncated) and tx is not None:
                for rel in msg.relations:
                    table = self._table_of(rel)
                    if tx.skip or table is None or self._paused(table):
                        continue
                    # The deletes are of what the topic holds: publish what came before first.
                    pending.changes.extend(tx.changes)
                    tx.changes = []
                    if pending.changes:
                        yield self._batch(pending)
                    tx.changes.extend(await self._truncate(msg, table))
            elif isinstance(msg, LogicalMessage):
                if msg.prefix == HEARTBEAT_PREFIX and not msg.transactional and tx is None:
                    # Everything committed before it came before it: safe to move past it.
                    if msg.lsn + 1 > self._done:
                        pending.upto = max(pending.upto or 0, msg.lsn + 1)

    # --- paused tables ------------------------------------------------------------------------
    def _park_name(self, table: str) -> str:
        return re.sub(r"[^a-z0-9_]", "_", f"{self.slot}_{table}".lower())[:63]

    async def _park(self, table: str, unpublished_from: int) -> None:
        """Keep a paused table's place: a copy of the slot, which stays where it is now (at or
        before the table's first unpublished change) while the slot moves on for the others."""
        name = self._park_name(table)
        try:
            at, created = await self._call(self._copy_slot, name)
        except psycopg.Error as e:
            raise ReplicationError(
                f"tables.{table}: paused, but its place cannot be kept in a copy of slot "
                f"{self.slot} on {self.where}: {e.diag.message_primary or e}"
            ) from None
        # A copy left by a run that died before storing it may be older: start from there.
        self._parked[table] = {"slot": name, "from": unpublished_from if created else at}
        log.warning("table %s paused: its changes wait in slot %s", table, name)

    def _slot_position(self, name: str) -> int | None:
        row = self._one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (name,),
        )
        return parse_lsn(row[0]) if row is not None else None

    def _copy_slot(self, name: str) -> tuple[int, bool]:
        at = self._slot_position(name)
        if at is not None:
            return at, False
        lsn = self._one(
            "SELECT lsn::text FROM pg_copy_logical_replication_slot(%s, %s)", (self.slot, name)
        )[0]
        return parse_lsn(lsn), True

    async def _drain(self, table: str, until: int, inclusive: bool) -> AsyncIterator[Batch]:
        """Publish a resumed table's changes from its parked slot, up to where the slot has
        gone on without it (the transaction committing at `until` too when inclusive)."""
        park = self._parked[table]
        relations: dict[int, Relation] = {}
        log.info(
            "table %s resumed: publishing its changes since %s", table, format_lsn(park["from"])
        )
        while True:
            rows = await self._call(self._peek, park["slot"])
            changes: list[Change] = []
            upto, tx, beyond = None, None, False
            for msg in messages(rows, relations):
                if isinstance(msg, Begin):
                    beyond = msg.final_lsn > until if inclusive else msg.final_lsn >= until
                    if beyond:
                        break
                    tx = _Tx(msg, skip=msg.final_lsn < park["from"])
                elif isinstance(msg, Row | Truncated) and tx is not None and not tx.skip:
                    if isinstance(msg, Row) and self._table_of(msg.relation) == table:
                        tx.changes.extend(await self._changes(msg, table))
                    elif isinstance(msg, Truncated) and any(
                        self._table_of(r) == table for r in msg.relations
                    ):
                        before = changes + tx.changes  # published before the topic is read
                        changes, tx.changes = [], []
                        if before:
                            yield Batch(before, offset=None)
                        tx.changes.extend(await self._truncate(msg, table))
                elif isinstance(msg, Commit) and tx is not None:
                    changes.extend(tx.changes if not tx.skip else [])
                    upto, tx = msg.end_lsn, None
                elif isinstance(msg, LogicalMessage) and tx is None:
                    upto = max(upto or 0, msg.lsn + 1)
            if upto is not None:
                park["from"] = max(park["from"], upto)
                advance = self._advance_callback(upto, park["slot"])
                yield Batch(changes, self._offset(self._done), on_committed=[advance])
            if beyond or len(rows) < self.cfg.batch_size:
                break
        del self._parked[table]
        await self._call(self._drop_slot, park["slot"])

    def _drop_slot(self, name: str) -> None:
        self.conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (name,),
        )

    def _table_of(self, rel: Relation | None) -> str | None:
        if rel is None or rel.namespace != self.schema:
            return None
        return self._names.get(rel.name)

    def _shape_changed(self, table: str, rel: Relation) -> bool:
        before = self._signatures.get(table)
        self._signatures[table] = rel.signature()
        # First sight in this process: the types are not comparable with the shape, read the
        # table's metadata once (cheap: nothing happens when it is unchanged).
        return before != self._signatures[table]

    async def _refresh_shape(self, table: str) -> bool:
        """Re-read the table's metadata; a changed shape is registered (or the table pauses)."""
        refl = await asyncio.to_thread(_reflect, self.ctx.engine, self.ctx.tables[table].name)
        shape = TableShape.from_table(refl, self.cfg.table(table).key)
        if shape == self.ctx.shapes[table]:
            return table not in self.ctx.paused
        self.ctx.tables[table] = refl
        return await self.ctx.schema_changed(table, shape)

    def _paused(self, table: str) -> bool:
        return table in self.ctx.paused or self.ctx.shapes[table].name in self.ctx.paused

    async def _changes(self, row: Row, table: str) -> list[Change]:
        old, new = row_images(row)
        if new is not None and any(v is UNCHANGED for v in new.values()):
            await self._fill_unchanged(table, new, old if row.change.old_kind == "O" else None)
        return row_changes(table, row, old, new, self.ctx.shapes[table].key)

    async def _fill_unchanged(self, table: str, new: dict, old: dict | None) -> None:
        """Unchanged TOASTed values: from the full old row, else from the table as it is now."""
        missing = [c for c, v in new.items() if v is UNCHANGED]
        if old is not None:
            for c in missing:
                new[c] = old.get(c)
            return
        shape = self.ctx.shapes[table]
        query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(", ").join(map(sql.Identifier, missing)),
            self._ident(table),
            sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in shape.key),
        )
        row = await asyncio.to_thread(self._one, query, shape.key_values(new))
        for i, c in enumerate(missing):
            new[c] = row[i] if row is not None else None

    async def _truncate(self, truncated: Truncated, table: str) -> list[Change]:
        from ..topic_state import published_state  # the Kafka read-back, only ever for a TRUNCATE

        shape = self.ctx.shapes[table]
        keys = await published_state(self.cfg, self.cfg.topic(table), shape, None)
        log.info("table %s truncated: publishing deletes of %d keys", table, len(keys))
        return truncate_changes(table, truncated, shape.key, keys)

    async def stop(self) -> None:
        """Close the connection; the slot stays (it keeps our place)."""
        if self.conn is not None:
            await asyncio.to_thread(_close, self.conn)
            self.conn = None


def _close(conn: psycopg.Connection) -> None:
    with conn.lock:  # a peek still running in its thread (the task was cancelled) ends first
        conn.close()


def _reflect(engine: sa.Engine, table: str) -> sa.Table:
    return sa.Table(table, sa.MetaData(), autoload_with=engine)
