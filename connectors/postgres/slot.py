"""A logical replication slot over SQL: the connection, the server checks, the slot's creation,
its position, heartbeats, and the copies that keep a paused table's place (read by peeking).

The main slot is streamed over the replication protocol (replication.py). Its copies are
*peeked* (`pg_logical_slot_peek_binary_changes`), never *got*: get moves the slot as soon as the
rows are read, and a crash before Kafka acknowledged them would lose them. A copy moves only by
`advance`, called once a batch is acknowledged and its offset stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa

from ..config import ConfigError
from .pgoutput import format_lsn, parse_lsn

log = logging.getLogger(__name__)

HEARTBEAT_PREFIX = "mpphub-heartbeat"
IN_USE_WAIT_S = 60.0  # a killed predecessor's backend may hold the slot for a moment
# Session settings that fix how values are rendered as text while decoding (it runs in our
# backend): ISO dates, UTC offsets, exact floats, hex bytea.
SESSION = (
    "SET DateStyle = 'ISO, YMD'",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
    "SET IntervalStyle = 'postgres'",
)


class ReplicationError(RuntimeError):
    """The source cannot be captured as configured; the message says what and where."""


async def while_in_use(
    blocking: Callable[[], Any],
    in_use: type[Exception],
    slot: str,
    where: str,
    cleanup: Callable[[], None] | None = None,
) -> Any:
    """`blocking()` in a thread, again every 0.5 s while the slot is in use (`in_use`, the
    driver's ObjectInUse: a killed predecessor's backend may hold it for a moment; `cleanup`
    after each refusal), ReplicationError naming the slot after IN_USE_WAIT_S."""
    deadline = time.monotonic() + IN_USE_WAIT_S
    while True:
        try:
            return await asyncio.to_thread(blocking)
        except in_use as e:
            if cleanup is not None:
                cleanup()
            if time.monotonic() > deadline:
                message = e.diag.message_primary  # type: ignore[attr-defined]
                raise ReplicationError(
                    f"source.slot: replication slot {slot} on {where} stays in use "
                    f"({message}): is another connector using it?"
                ) from None
            await asyncio.sleep(0.5)


def connect(engine: sa.Engine, connector: str) -> psycopg.Connection:
    """An autocommit connection to the source, its session fixed for decoding (SESSION)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.pop("context", None)  # SQLAlchemy's adapters: this connection keeps psycopg's
    kwargs.setdefault("application_name", f"mpphub-{connector}")
    conn = psycopg.connect(*args, **kwargs, autocommit=True)
    for statement in SESSION:
        conn.execute(statement)
    return conn


def close(conn: psycopg.Connection) -> None:
    """Close the connection once a peek still running in its thread has ended."""
    with conn.lock:  # the peek's task was cancelled, but its thread goes on until it returns
        conn.close()


def check_logical_decoding(conn: psycopg.Connection, where: str) -> str:
    """Refuse a server without wal_level=logical or a user without REPLICATION; returns the
    user's current schema (where the captured tables are looked up)."""
    wal_level = conn.execute("SHOW wal_level").fetchone()[0]
    if wal_level != "logical":
        raise ReplicationError(
            f"source: {where} has wal_level={wal_level}; logical decoding needs "
            "wal_level=logical in postgresql.conf (and a server restart)"
        )
    user, allowed, schema = conn.execute(
        "SELECT current_user, rolsuper OR rolreplication, current_schema() "
        "FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if not allowed:
        raise ReplicationError(
            f"source: user {user} on {where} lacks the REPLICATION privilege that "
            f"logical decoding needs: ALTER ROLE {user} REPLICATION (as a superuser)"
        )
    return schema


class Slot:
    """One pgoutput slot (and its copies) on the mode's connection; the async methods run in a
    thread and wait while a killed predecessor still holds the slot."""

    def __init__(
        self, conn: psycopg.Connection, name: str, publication: str, where: str, batch_size: int
    ):
        self.conn = conn
        self.name = name
        self.publication = publication
        self.where = where
        self.batch_size = batch_size

    def ensure(self, create: bool) -> int | None:
        """Check the slot, or create it when missing and allowed; returns the position it was
        created at (None when it existed)."""
        row = self.conn.execute(
            "SELECT plugin, database, current_database() FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (self.name,),
        ).fetchone()
        if row is not None:
            plugin, database, ours = row
            if plugin != "pgoutput" or database != ours:
                raise ConfigError(
                    f"source.slot: replication slot {self.name!r} on {self.where} is for "
                    f"database {database} with plugin {plugin}, not {ours} with pgoutput"
                )
            return None
        if not create:
            raise ConfigError(
                f"source.slot: replication slot {self.name!r} does not exist on {self.where} and "
                f"source.create_slot is false: SELECT pg_create_logical_replication_slot("
                f"'{self.name}', 'pgoutput')"
            )
        # Waits for transactions running now to end (the slot's consistent point).
        lsn = self.conn.execute(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')",
            (self.name,),
        ).fetchone()[0]
        log.info("created replication slot %s at %s", self.name, lsn)
        return parse_lsn(lsn)

    # --- used while streaming ------------------------------------------------------------------
    async def position(self, name: str | None = None) -> int | None:
        """Where a slot (this one by default) is confirmed; None when it does not exist."""
        return await self._in_thread(self._position, name or self.name)

    async def confirmed_flush(self) -> int:
        """This slot's confirmed position; it vanishing is an error."""
        lsn = await self.position()
        if lsn is None:
            raise ReplicationError(f"source.slot: replication slot {self.name} vanished")
        return lsn

    async def peek(self, name: str | None = None) -> list[tuple[str, bytes]]:
        """Up to batch_size pgoutput messages (lsn, data) after a slot's position."""
        return await self._in_thread(self._peek, name or self.name)

    async def advance(self, lsn: int, name: str | None = None) -> None:
        """Move a slot to `lsn`: never backwards (PostgreSQL refuses that)."""
        await self._in_thread(self._advance, lsn, name or self.name)

    async def emit_heartbeat(self) -> bool:
        """Write a heartbeat message into the WAL; False when the user may not."""
        return await self._in_thread(self._emit_heartbeat)

    async def copy(self, name: str) -> tuple[int, bool]:
        """A copy of this slot named `name` (kept when it exists): (its position, created)."""
        return await self._in_thread(self._copy, name)

    async def drop(self, name: str) -> None:
        """Drop a slot (a copy, once drained) if it exists."""
        await self._in_thread(self._drop, name)

    async def _in_thread(self, blocking: Callable[..., Any], *args: Any) -> Any:
        return await while_in_use(
            lambda: blocking(*args), psycopg.errors.ObjectInUse, self.name, self.where
        )

    def _position(self, name: str) -> int | None:
        row = self.conn.execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            (name,),
        ).fetchone()
        return parse_lsn(row[0]) if row is not None else None

    def _peek(self, name: str) -> list[tuple[str, bytes]]:
        quoted = '"' + self.publication.replace('"', '""') + '"'
        return self.conn.execute(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, %s::int, "
            "'proto_version', '1', 'publication_names', %s, 'messages', 'true')",
            (name, self.batch_size, quoted),
        ).fetchall()

    def _advance(self, lsn: int, name: str) -> None:
        # Only ever to a published position: the callers pass what Kafka acknowledged.
        self.conn.execute(
            "SELECT pg_replication_slot_advance(slot_name, %s::pg_lsn) FROM pg_replication_slots "
            "WHERE slot_name = %s AND confirmed_flush_lsn < %s::pg_lsn",
            (format_lsn(lsn), name, format_lsn(lsn)),
        )

    def _emit_heartbeat(self) -> bool:
        try:
            self.conn.execute(
                "SELECT pg_logical_emit_message(false, %s, now()::text)", (HEARTBEAT_PREFIX,)
            )
        except psycopg.errors.InsufficientPrivilege as e:
            log.warning("heartbeats off: %s", e.diag.message_primary)
            return False
        return True

    def _copy(self, name: str) -> tuple[int, bool]:
        at = self._position(name)
        if at is not None:
            return at, False
        lsn = self.conn.execute(
            "SELECT lsn::text FROM pg_copy_logical_replication_slot(%s, %s)", (self.name, name)
        ).fetchone()[0]
        return parse_lsn(lsn), True

    def _drop(self, name: str) -> None:
        self.conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = %s",
            (name,),
        )
