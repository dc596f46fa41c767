"""Query-based capture for any SQLAlchemy database (SQLite is the embedded default), like the Kafka
Connect JDBC source in timestamp+incrementing mode, with two fixes for what its users complain of:
a *safety delay* (only rows stamped at least `safety_delay_s` ago are read, so a transaction that
commits after a later one is still seen) and a periodic *key-set diff* against what was published
(rebuilt at start from the table's topic): a key gone is a delete, a passed-over version is sent
again. Polling cannot see the old row: `before` of an update is null, of a delete only the key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .changes import Batch, Change
from .mode import ModeContext
from .shapes import TableShape, source_ts_ms
from .sql import row_select
from .topic_state import published_state

log = logging.getLogger(__name__)

_MIN_TS = dt.datetime(1, 1, 1)


class PollingMode:
    """timestamp + incrementing polling with a safety delay and a key-set diff."""

    name = "polling"
    sql_snapshot = True

    def __init__(self, ctx: ModeContext):
        self.ctx = ctx
        self.cfg = ctx.config
        self.engine = ctx.engine
        # key tuple -> source time (epoch ms) of the version we published; per table.
        self.known: dict[str, dict[tuple, Any]] = {t: {} for t in ctx.tables}
        self._known_loaded = False
        # This stream's offset, and the tables whose metadata it has read once.
        self._offset: dict[str, Any] | None = None
        self._looked: set[str] = set()

    async def start(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def _now(self) -> dt.datetime:
        # Agency applications write local wall-clock time without zone: compare in the same,
        # the source's zone when configured (source.time_zone), else the hub's.
        zone = self.cfg.source.time_zone
        if zone is None:
            return dt.datetime.now()
        return dt.datetime.now(ZoneInfo(zone)).replace(tzinfo=None)

    async def snapshot_marker(self) -> dict[str, Any]:
        since = self._now() - dt.timedelta(seconds=self.cfg.source.safety_delay_s + 1)
        return {
            "position": since.isoformat(),
            "tables": {t: {"ts": since.isoformat(), "inc": None} for t in self.ctx.tables},
        }

    def _columns(self, table: str) -> tuple[sa.Column, sa.Column]:
        tc = self.cfg.table(table)
        sql = self.ctx.tables[table]
        if not tc.timestamp_column:
            raise ValueError(f"tables.{table}.timestamp_column is required for polling")
        inc = tc.incrementing_column or self.ctx.shapes[table].key[0]
        return sql.c[tc.timestamp_column], sql.c[inc]

    def _poll_table(self, table: str, cursor: dict[str, Any], limit: int) -> list[dict]:
        ts_col, inc_col = self._columns(table)
        last_ts = dt.datetime.fromisoformat(cursor["ts"]) if cursor.get("ts") else _MIN_TS
        # Only whole seconds that ended at least safety_delay_s ago: agency applications stamp
        # whole seconds, so a row of a second not yet over may change again with the same stamp
        # (and the cursor, having passed that stamp, would never see the second change).
        until = (self._now() - dt.timedelta(seconds=self.cfg.source.safety_delay_s)).replace(
            microsecond=0
        )
        cond = ts_col > last_ts
        if cursor.get("inc") is not None:
            cond = sa.or_(cond, sa.and_(ts_col == last_ts, inc_col > cursor["inc"]))
        else:
            cond = ts_col >= last_ts
        q = (
            row_select(self.ctx.tables[table], self.engine.dialect.name)
            .where(cond, ts_col < until)
            .order_by(ts_col, inc_col)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def _key_set(self, table: str) -> dict[tuple, Any]:
        ts_col, _ = self._columns(table)
        sql = self.ctx.tables[table]
        key_cols = [sql.c[k] for k in self.ctx.shapes[table].key]
        if self.engine.dialect.name == "sqlite":
            ts_col = sa.type_coerce(ts_col, sa.String)  # see connectors/sql.py
        with self.engine.connect() as conn:
            return {tuple(r[:-1]): r[-1] for r in conn.execute(sa.select(*key_cols, ts_col))}

    async def _load_known(self) -> None:
        for table in self.ctx.tables:
            tc = self.cfg.table(table)
            shape = self.ctx.shapes[table]
            self.known[table] = await published_state(
                self.cfg, self.cfg.topic(table), shape, tc.timestamp_column
            )
        self._known_loaded = True

    def _forget_since(self, table: str, cursor: dict[str, Any]) -> None:
        """Count no version stamped at or after the cursor as published (they are sent again)."""
        since = source_ts_ms(cursor.get("ts"))
        if since is None:
            return
        known = self.known[table]
        for key in [k for k, ts in known.items() if ts is not None and ts >= since]:
            del known[key]

    def _change(self, table: str, row: dict, position: str) -> Change:
        shape = self.ctx.shapes[table]
        key = shape.key_values(row)
        ts = row.get(self.cfg.table(table).timestamp_column)
        op = "u" if key in self.known[table] else "c"
        self.known[table][key] = source_ts_ms(ts)
        return Change(table, op, None, row, position, source_ts_ms(ts))

    def _column_names(self, table: str) -> set[str]:
        """The table's column names now, by a query that reads no row."""
        name = self.engine.dialect.identifier_preparer.quote(self.ctx.tables[table].name)
        with self.engine.connect() as conn:
            return set(conn.execute(sa.text(f"SELECT * FROM {name} WHERE 1=0")).keys())

    async def _refresh_shape(self, table: str) -> bool:
        """Re-read the table's metadata; a changed shape is registered (or the table pauses)."""
        refl = await asyncio.to_thread(_reflect, self.engine, self.ctx.tables[table].name)
        new_shape = TableShape.from_table(refl, self.cfg.table(table).key, name=table)
        first = table not in self._looked
        self._looked.add(table)
        if new_shape == self.ctx.shapes[table]:
            return table not in self.ctx.paused
        if first and self._offset is not None:
            # Changed before this stream's first look: while the snapshot ran, which reads the
            # columns it started with. A row it read after the change went out without the new
            # columns, under its timestamp: rows stamped since the cursor are sent again.
            self._forget_since(table, self._offset["tables"][table])
        self.ctx.tables[table] = refl
        return await self.ctx.schema_changed(table, new_shape)

    async def stream(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Poll every table, then every diff interval compare key sets; yield what changed."""
        offset = dict(resume or await self.snapshot_marker())
        offset.setdefault("tables", {})
        for t in self.ctx.tables:
            offset["tables"].setdefault(t, {"ts": None, "inc": None})
        self._offset, self._looked = offset, set()
        await self._load_known()
        last_diff = 0.0
        while True:
            changes: list[Change] = []
            diff_due = time.monotonic() - last_diff >= self.cfg.source.diff_interval_s
            if diff_due:
                # Type changes show in no row: re-read the metadata before reading rows, so a
                # table pauses before any of its rows is taken (and a paused table gets its way
                # back once the operator fixed it).
                for table in self.ctx.tables:
                    await self._refresh_shape(table)
            for table in self.ctx.tables:
                if table in self.ctx.paused:
                    continue
                cursor = offset["tables"][table]
                # The row query names the columns it knows: probe for added ones first, so no
                # row is taken without a column the source now has.
                names = await asyncio.to_thread(self._column_names, table)
                if names != set(self.ctx.shapes[table].columns):
                    if not await self._refresh_shape(table):
                        continue
                rows = await asyncio.to_thread(self._poll_table, table, cursor, self.cfg.batch_size)
                ts_col, inc_col = self._columns(table)
                shape = self.ctx.shapes[table]
                for r in rows:
                    ts = r[ts_col.name]
                    cursor = {"ts": _iso(ts), "inc": r[inc_col.name]}
                    # This exact version is out already (the snapshot, or before a restart).
                    if self.known[table].get(shape.key_values(r), -1) == source_ts_ms(ts):
                        continue
                    changes.append(self._change(table, r, f"{_iso(ts)}|{r[inc_col.name]}"))
                offset["tables"][table] = cursor
            if diff_due:
                changes.extend(await self._diff(offset))
                last_diff = time.monotonic()
            if changes:
                offset["position"] = max(c.position for c in changes)
                yield Batch(changes, offset=_copy(offset))
            else:
                await asyncio.sleep(self.cfg.source.poll_interval_s)

    async def _diff(self, offset: dict[str, Any]) -> list[Change]:
        """Deletes and missed versions, found by comparing key sets with what was published."""
        out: list[Change] = []
        for table in self.ctx.tables:
            if table in self.ctx.paused:
                continue
            current = await asyncio.to_thread(self._key_set, table)
            known = self.known[table]
            shape = self.ctx.shapes[table]
            cursor_ms = source_ts_ms(offset["tables"][table].get("ts"))
            now = _iso(self._now())
            for key in [k for k in known if k not in current]:
                before = dict(zip(shape.key, key, strict=True))
                # On the sources' clock (local wall time labelled UTC, as their timestamp columns
                # are read), not epoch time: a delete is then never older than the last update
                # of its row, wherever the hub's time zone is east of UTC (WITA is UTC+8).
                out.append(Change(table, "d", before, None, f"{now}|diff", source_ts_ms(now)))
                del known[key]
            # A row the cursor has passed whose timestamp we never published: a late commit.
            stale = [
                k
                for k, ts in current.items()
                if cursor_ms is not None
                and ts is not None
                and known.get(k) != source_ts_ms(ts)
                and source_ts_ms(ts) <= cursor_ms
            ]
            if stale:
                for r in await asyncio.to_thread(self._rows_by_key, table, stale):
                    ts = r[self.cfg.table(table).timestamp_column]
                    out.append(self._change(table, r, f"{_iso(ts)}|late"))
        return out

    def _rows_by_key(self, table: str, keys: list[tuple]) -> list[dict]:
        sql = self.ctx.tables[table]
        key_cols = [sql.c[k] for k in self.ctx.shapes[table].key]
        rows = []
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                if len(key_cols) == 1:
                    cond = key_cols[0].in_([k[0] for k in part])
                else:
                    cond = sa.tuple_(*key_cols).in_(part)
                q = row_select(sql, self.engine.dialect.name).where(cond)
                rows.extend(dict(r._mapping) for r in conn.execute(q))
        return rows

    async def stop(self) -> None:
        pass


def _iso(v: Any) -> str:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v)


def _copy(offset: dict[str, Any]) -> dict[str, Any]:
    return {**offset, "tables": {t: dict(c) for t, c in offset["tables"].items()}}


def _reflect(engine: sa.Engine, table: str) -> sa.Table:
    return sa.Table(table, sa.MetaData(), autoload_with=engine)
