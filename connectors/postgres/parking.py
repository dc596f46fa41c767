"""Parking a paused table: when the registry refuses a table's new shape, the slot goes on for the
others and the paused table's place is kept by a copy of the slot (`<slot>_<table>`, recorded in
the offset under `parked`).

When the table resumes (a later shape is accepted, while running or at a restart), its changes
since the pause are read from that copy and published first, then the copy is dropped: nothing is
lost. The copy holds WAL back while the table is paused.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg

from ..changes import Batch, Change
from .pgoutput import (
    Begin,
    Commit,
    LogicalMessage,
    Relation,
    Row,
    Truncated,
    format_lsn,
    messages,
    parse_lsn,
)
from .slot import ReplicationError, Slot
from .tables import CapturedTables, Transaction

log = logging.getLogger(__name__)


class ParkedTables:
    """The paused tables' slot copies, and where each one's unpublished changes begin."""

    def __init__(
        self,
        slot: Slot,
        captured: CapturedTables,
        stored_offset: Callable[[], dict[str, Any]],
    ):
        self.slot = slot
        self.captured = captured
        # The mode's offset as stored now: draining a copy does not move the main slot.
        self.stored_offset = stored_offset
        # table -> {"slot": copy name, "from": the commit LSN its unpublished changes start at}
        self.parked: dict[str, dict[str, Any]] = {}

    def __contains__(self, table: str) -> bool:
        return table in self.parked

    def __bool__(self) -> bool:
        return bool(self.parked)

    def offset(self) -> dict[str, dict[str, str]]:
        """What the stored offset keeps of them under `parked`."""
        return {
            t: {"slot": p["slot"], "from": format_lsn(p["from"])} for t, p in self.parked.items()
        }

    def copy_name(self, table: str) -> str:
        """The name of the table's copy of the slot."""
        return re.sub(r"[^a-z0-9_]", "_", f"{self.slot.name}_{table}".lower())[:63]

    async def restore(self, stored: dict[str, Any], start: int) -> AsyncIterator[Batch]:
        """At start: take up the copies an earlier run left, park the tables paused now, and
        publish first the backlog of those fixed while the connector was down."""
        for table in self.captured.ctx.tables:
            name = self.copy_name(table)
            at = await self.slot.position(name)
            if at is None:
                if table in stored:
                    log.info("table %s: parked slot %s already drained", table, name)
                if self.captured.paused(table):
                    await self.park(table, start)
                continue
            unpublished = parse_lsn(stored[table]["from"]) if table in stored else at
            self.parked[table] = {"slot": name, "from": unpublished}
            if not self.captured.paused(table):  # fixed while we were down: its backlog first
                async for batch in self.drain(table, until=start, inclusive=False):
                    yield batch

    async def park(self, table: str, unpublished_from: int) -> None:
        """Keep a paused table's place: a copy of the slot, which stays where it is now (at or
        before the table's first unpublished change) while the slot moves on for the others."""
        name = self.copy_name(table)
        try:
            at, created = await self.slot.copy(name)
        except psycopg.Error as e:
            raise ReplicationError(
                f"tables.{table}: paused, but its place cannot be kept in a copy of slot "
                f"{self.slot.name} on {self.slot.where}: {e.diag.message_primary or e}"
            ) from None
        # A copy left by a run that died before storing it may be older: start from there.
        self.parked[table] = {"slot": name, "from": unpublished_from if created else at}
        log.warning("table %s paused: its changes wait in slot %s", table, name)

    async def drain(self, table: str, until: int, inclusive: bool) -> AsyncIterator[Batch]:
        """Publish a resumed table's changes from its parked slot, up to where the slot has
        gone on without it (the transaction committing at `until` too when inclusive)."""
        park = self.parked[table]
        relations: dict[int, Relation] = {}
        log.info(
            "table %s resumed: publishing its changes since %s", table, format_lsn(park["from"])
        )
        while True:
            rows = await self.slot.peek(park["slot"])
            changes: list[Change] = []
            upto, tx, beyond = None, None, False
            for msg in messages(rows, relations):
                if isinstance(msg, Begin):
                    beyond = msg.final_lsn > until if inclusive else msg.final_lsn >= until
                    if beyond:
                        break
                    tx = Transaction(msg, skip=msg.final_lsn < park["from"])
                elif isinstance(msg, Row | Truncated) and tx is not None and not tx.skip:
                    if isinstance(msg, Row) and self.captured.table_of(msg.relation) == table:
                        tx.changes.extend(await self.captured.changes(msg, table))
                    elif isinstance(msg, Truncated) and any(
                        self.captured.table_of(r) == table for r in msg.relations
                    ):
                        before = changes + tx.changes  # published before the topic is read
                        changes, tx.changes = [], []
                        if before:
                            yield Batch(before, offset=None)
                        tx.changes.extend(await self.captured.truncate(msg, table))
                elif isinstance(msg, Commit) and tx is not None:
                    changes.extend(tx.changes if not tx.skip else [])
                    upto, tx = msg.end_lsn, None
                elif isinstance(msg, LogicalMessage) and tx is None:
                    upto = max(upto or 0, msg.lsn + 1)
            if upto is not None:
                park["from"] = max(park["from"], upto)
                advance = self._advancer(upto, park["slot"])
                yield Batch(changes, self.stored_offset(), on_committed=[advance])
            if beyond or len(rows) < self.slot.batch_size:
                break
        del self.parked[table]
        await self.slot.drop(park["slot"])

    def _advancer(self, lsn: int, name: str) -> Callable[[], Any]:
        async def advance() -> None:
            await self.slot.advance(lsn, name)

        return advance
