"""The captured tables as pgoutput names them: which table a relation is, when its shape changed,
and the changes of a row or TRUNCATE message.

A table captured with the default replica identity sends no unchanged TOASTed value: it is read
from the table as it is now. A TRUNCATE is published as a delete of every key the table's topic
holds (read back from Kafka, only then).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import psycopg
import sqlalchemy as sa
from psycopg import sql

from ..changes import Change
from ..mode import ModeContext
from ..shapes import TableShape
from .pgoutput import (
    UNCHANGED,
    Begin,
    Relation,
    Row,
    Truncated,
    row_changes,
    row_images,
    truncate_changes,
)

log = logging.getLogger(__name__)


@dataclass
class Transaction:
    """A transaction being decoded: its changes until its commit."""

    begin: Begin
    skip: bool  # committed before what is already published
    changes: list[Change] = field(default_factory=list)


class CapturedTables:
    """Maps relations to the configured tables and decodes their row messages into changes."""

    def __init__(self, ctx: ModeContext, conn: psycopg.Connection, schema: str):
        self.ctx = ctx
        self.cfg = ctx.config
        self.conn = conn
        self.schema = schema
        self.names = {t.name: name for name, t in ctx.tables.items()}  # real name -> config name
        self._signatures: dict[str, tuple] = {}

    def table_of(self, rel: Relation | None) -> str | None:
        """The configured table a relation is, None when it is not captured."""
        if rel is None or rel.namespace != self.schema:
            return None
        return self.names.get(rel.name)

    def shape_changed(self, table: str, rel: Relation) -> bool:
        """True when the relation's columns differ from the last ones seen for the table."""
        before = self._signatures.get(table)
        self._signatures[table] = rel.signature()
        # First sight in this process: the types are not comparable with the shape, read the
        # table's metadata once (cheap: nothing happens when it is unchanged).
        return before != self._signatures[table]

    async def refresh_shape(self, table: str) -> bool:
        """Re-read the table's metadata; a changed shape is registered (or the table pauses)."""
        refl = await asyncio.to_thread(_reflect, self.ctx.engine, self.ctx.tables[table].name)
        shape = TableShape.from_table(refl, self.cfg.table(table).key)
        if shape == self.ctx.shapes[table]:
            return table not in self.ctx.paused
        self.ctx.tables[table] = refl
        return await self.ctx.schema_changed(table, shape)

    def paused(self, table: str) -> bool:
        """True while the registry refuses the table's shape."""
        return table in self.ctx.paused or self.ctx.shapes[table].name in self.ctx.paused

    async def changes(self, row: Row, table: str) -> list[Change]:
        """The changes of one row message, unchanged TOASTed values filled in."""
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
            sql.Identifier(self.ctx.tables[table].name),
            sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in shape.key),
        )
        row = await asyncio.to_thread(self._fetch_row, query, shape.key_values(new))
        for i, c in enumerate(missing):
            new[c] = row[i] if row is not None else None

    def _fetch_row(self, query: sql.Composable, params: tuple) -> tuple | None:
        return self.conn.execute(query, params).fetchone()

    async def truncate(self, truncated: Truncated, table: str) -> list[Change]:
        """Deletes of every key the table's topic holds."""
        from ..topic_state import published_state  # the Kafka read-back, only ever for TRUNCATE

        shape = self.ctx.shapes[table]
        keys = await published_state(self.cfg, self.cfg.topic(table), shape, None)
        log.info("table %s truncated: publishing deletes of %d keys", table, len(keys))
        return truncate_changes(table, truncated, shape.key, keys)


def _reflect(engine: sa.Engine, table: str) -> sa.Table:
    return sa.Table(table, sa.MetaData(), autoload_with=engine)
