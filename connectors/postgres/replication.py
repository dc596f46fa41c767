"""Reading a slot over the streaming replication protocol, as Debezium does: the server decodes
and sends changes continuously while the connector encodes and waits for Kafka, instead of one
SQL peek (and a second decoding of the same WAL by the advance) per batch.

psycopg 3 has no replication protocol; psycopg2's `LogicalReplicationConnection` has
(psycopg2-binary, pinned in pyproject.toml). The connection is read in the event loop
(`add_reader`, non-blocking `read_message`) into a bounded buffer: when the buffer is full the
socket is not read, and the server waits. The slot's confirmed position moves only by
`confirm(lsn)`, which the mode calls once Kafka acknowledged everything before `lsn` and the
offset is stored. (psycopg2 also moves it to a keepalive's WAL end once everything received was
confirmed: WAL the publication filtered out, nothing the connector still holds.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import psycopg2
import psycopg2.errors
import sqlalchemy as sa
from psycopg2.extras import LogicalReplicationConnection

from .pgoutput import format_lsn
from .slot import while_in_use

log = logging.getLogger(__name__)

# The session of the decoding backend (as slot.SESSION): ISO dates, UTC, exact floats, hex bytea.
OPTIONS = (
    "-c DateStyle=ISO,YMD -c TimeZone=UTC -c extra_float_digits=3 "
    "-c bytea_output=hex -c IntervalStyle=postgres"
)
FEEDBACK_EVERY_S = 5.0  # a status update at least this often, so the server never times us out


class StreamLost(ConnectionError):
    """Reading or confirming failed once streaming had started: the server went away (libpq
    says so in several ways, "no COPY in progress" among them), or the slot did."""


Gone = (psycopg2.OperationalError, psycopg2.InterfaceError, StreamLost)
"""What a source server going away raises here (the mode reconnects on these)."""


def connect_kwargs(engine: sa.Engine, connector: str) -> dict[str, Any]:
    """libpq keywords for the replication connection, from the connector's URL."""
    _args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.pop("context", None)
    kwargs.setdefault("application_name", f"mpphub-{connector}")
    kwargs["options"] = (kwargs.get("options", "") + " " + OPTIONS).strip()
    return kwargs


class ReplicationStream:
    """One slot streamed from `start`; the pgoutput messages' bytes are taken in pieces."""

    def __init__(self, kwargs: dict[str, Any], slot: str, publication: str, where: str, high: int):
        self.kwargs = kwargs
        self.slot = slot
        self.publication = publication
        self.where = where
        self.high = max(high, 1)  # messages buffered before the socket is left unread
        self._conn: Any = None
        self._cur: Any = None
        self._buf: list[tuple[None, bytes]] = []
        self._error: BaseException | None = None
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False
        self._fd = -1
        self._fed_back = time.monotonic()

    async def open(self, start: int) -> None:
        """Connect and start streaming after `start`; waits while a killed predecessor's
        backend still holds the slot."""
        await while_in_use(
            lambda: self._start(start),
            psycopg2.errors.ObjectInUse,
            self.slot,
            self.where,
            cleanup=self._close_conn,
        )
        self._loop = asyncio.get_running_loop()
        self._resume_reading()

    def _start(self, start: int) -> None:
        self._conn = psycopg2.connect(
            connection_factory=LogicalReplicationConnection, **self.kwargs
        )
        self._cur = self._conn.cursor()
        quoted = '"' + self.publication.replace('"', '""') + '"'
        self._cur.start_replication(
            slot_name=self.slot,
            decode=False,
            start_lsn=format_lsn(start),
            options={"proto_version": "1", "publication_names": quoted, "messages": "true"},
            status_interval=FEEDBACK_EVERY_S,
        )

    # --- reading, in the event loop -------------------------------------------------------------
    def _readable(self) -> None:
        try:
            while len(self._buf) < self.high:
                msg = self._cur.read_message()
                if msg is None:
                    break
                self._buf.append((None, msg.payload))
        except psycopg2.Error as e:  # handed to the taker: the mode reconnects
            self._error = StreamLost(f"{type(e).__name__}: {str(e).strip()}")
            self._stop_reading()
        else:
            if len(self._buf) >= self.high:
                self._stop_reading()  # backpressure: the server waits until we take
        if self._buf or self._error is not None:
            self._ready.set()

    def _resume_reading(self) -> None:
        if self._reading or self._error is not None or self._loop is None:
            return
        # Drain what libpq already holds first: the socket may have nothing left to wake us.
        self._readable()
        if self._error is None and len(self._buf) < self.high:
            self._fd = self._conn.fileno()
            self._loop.add_reader(self._fd, self._readable)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._reading = False

    async def take(self, limit: int, timeout: float) -> list[tuple[None, bytes]]:
        """Up to `limit` messages, waiting up to `timeout` for the first; raises what reading
        raised (a lost connection: `Gone`)."""
        if not self._buf and self._error is None:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                pass
        if self._error is not None and not self._buf:
            raise self._error
        out, self._buf = self._buf[:limit], self._buf[limit:]
        if not self._buf:
            self._ready.clear()
        if len(self._buf) < self.high // 2:
            self._resume_reading()
        if time.monotonic() - self._fed_back > FEEDBACK_EVERY_S:
            self._feedback(0)
        return out

    # --- the slot's position --------------------------------------------------------------------
    def confirm(self, lsn: int) -> None:
        """Everything before `lsn` is published and stored: the slot may move there."""
        self._feedback(lsn)

    def _feedback(self, lsn: int) -> None:
        if self._cur is None:
            return
        try:
            self._cur.send_feedback(flush_lsn=lsn, force=True)
        except psycopg2.Error as e:  # the next take says so, and the mode reconnects
            log.warning("slot %s: status update not sent (%s)", self.slot, type(e).__name__)
        self._fed_back = time.monotonic()

    def close(self) -> None:
        """Stop reading and close the connection (the slot stays where it was confirmed)."""
        self._stop_reading()
        self._close_conn()

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
        self._conn = self._cur = None
