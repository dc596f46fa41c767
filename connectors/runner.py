"""Runs one connector: validate, snapshot (chunked, resumable), then stream, forever.

Order of every step is what makes it safe to kill at any moment:
publish a batch -> wait for all acks -> commit the offset -> tell the mode (slot advance).
The offset record (see offsets.py) looks like
    {"tables": {T: {"snapshot": {"done": bool, "after": [key...] | None, "rows": n}}},
     "stream": <mode resume dict> | None, "paused": {T: reason}}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import sqlalchemy as sa

from eventlog.progress import rate_progress
from schemas.registry import RegistryClient

from . import metrics
from .changes import Batch
from .config import ConfigError, ConnectorConfig
from .dispatcher import EventDispatcher, SchemaRefused
from .mode import CaptureMode, ModeContext, load_mode
from .offsets import OffsetStore
from .shapes import TableShape
from .snapshot import TableSnapshot
from .sql import count_rows, lenient_postgres_dates

log = logging.getLogger(__name__)


def reflect_tables(config: ConnectorConfig, engine: sa.Engine) -> dict[str, sa.Table]:
    """Reflect the configured tables; a missing table or key column is refused by name."""
    insp = sa.inspect(engine)
    existing = {n.lower(): n for n in insp.get_table_names()}
    meta = sa.MetaData()
    out = {}
    for t in config.tables:
        real = existing.get(t.name.lower())
        if real is None or (real != t.name and t.name in existing.values()):
            raise ConfigError(f"tables: table {t.name!r} not found in {config.safe_url()}")
        table = sa.Table(real, meta, autoload_with=engine)
        cols = {c.name for c in table.columns}
        for key in ("key", "timestamp_column", "incrementing_column"):
            names = getattr(t, key)
            for c in [names] if isinstance(names, str) else names or []:
                if c not in cols:
                    raise ConfigError(f"tables.{t.name}.{key}: no column {c!r} in {real}")
        if not t.key and not table.primary_key.columns:
            raise ConfigError(f"tables.{t.name}: the table has no primary key: set key: [columns]")
        out[t.name] = table
    return out


class Connector:
    """One connector process's work, driven by `run()`."""

    def __init__(self, config: ConnectorConfig, progress: bool = True):
        self.config = config
        self.name = config.connector_name
        self.registry = RegistryClient(config.registry.url, **config.registry.auth.options())
        self.dispatcher = EventDispatcher(config, self.registry)
        self.offsets = OffsetStore(
            config.kafka.client, config.offsets_topic, self.name, self.dispatcher.producer
        )
        self.state: dict[str, Any] = {}
        self.paused: dict[str, str] = {}
        self._late_snapshots: set[str] = set()
        self.show_progress = progress
        self.mode: CaptureMode | None = None
        self.engine: sa.Engine | None = None

    # --- set-up ------------------------------------------------------------------------------
    async def _open(self) -> ModeContext:
        mode_cls = load_mode(self.config.source.mode)
        tables: dict[str, sa.Table] = {}
        shapes: dict[str, TableShape] = {}
        if self.config.source.mode != "file":
            self.engine = sa.create_engine(self.config.source_url(), pool_pre_ping=True)
            if self.engine.dialect.name == "postgresql":
                lenient_postgres_dates(self.engine)
            tables = await asyncio.to_thread(reflect_tables, self.config, self.engine)
            # Named as configured (BIODATA_WNI), whatever case the database folds it to:
            # changes, channels and topics all go by the configured name.
            shapes = {
                n: TableShape.from_table(t, self.config.table(n).key, name=n)
                for n, t in tables.items()
            }
        ctx = ModeContext(self.config, self.engine, tables, shapes)
        ctx.schema_changed = self._schema_changed
        self.mode = mode_cls(ctx)
        self.ctx = ctx
        return ctx

    async def _open_channel(self, shape: TableShape) -> bool:
        try:
            await self.dispatcher.open_table(shape)
        except SchemaRefused as e:
            await self._pause(shape.name, e.reason)
            return False
        if shape.name in self.paused:  # fixed by the operator: resumes from its offset
            if not self._snapshot_done(shape.name):
                self._late_snapshots.add(shape.name)  # paused before its snapshot ran
            del self.paused[shape.name]
            self.ctx.paused.discard(shape.name)
            metrics.TABLE_PAUSED.labels(self.name, shape.name).set(0)
            metrics.PAUSED.labels(self.name).set(len(self.paused))
        return True

    async def _pause(self, table: str, reason: str) -> None:
        log.error("table %s paused: %s", table, reason)
        metrics.ERRORS.labels(self.name, "schema").inc()
        self.paused[table] = reason
        self.ctx.paused.add(table)
        metrics.TABLE_PAUSED.labels(self.name, table).set(1)
        metrics.PAUSED.labels(self.name).set(len(self.paused))
        # Durable at once, so that `mpphub connect --status` shows it even if nothing else moves.
        self.state["paused"] = dict(self.paused)
        await self.offsets.commit(self.state)

    async def _schema_changed(self, table: str, shape: TableShape) -> bool:
        # Also the way back: a paused table whose fixed shape the registry accepts resumes.
        self.ctx.shapes[table] = shape
        return await self._open_channel(shape)

    def _snapshot_done(self, table: str) -> bool:
        if not (self.mode and self.mode.sql_snapshot and self.config.snapshot.enabled):
            return True
        return bool(self.state.get("tables", {}).get(table, {}).get("snapshot", {}).get("done"))

    # --- the loop ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Snapshot what is not snapshotted yet, then stream until `stop` is set."""
        stop = stop or asyncio.Event()
        await self.dispatcher.start()
        try:
            self.state = await self.offsets.load() or {}
            ctx = await self._open()
            assert self.mode is not None
            await self.mode.start()
            # A table paused in an earlier run is tried again: the operator may have fixed it.
            for shape in list(ctx.shapes.values()):
                await self._open_channel(shape)
            self.state.setdefault("tables", {})
            if self.mode.sql_snapshot and self.config.snapshot.enabled:
                await self._snapshot(stop)
            await self._stream(stop)
        finally:
            if self.mode is not None:
                await self.mode.stop()
            await self.dispatcher.stop()
            if self.engine is not None:
                self.engine.dispose()

    async def _commit(self, batch: Batch) -> None:
        counts, dead = await self.dispatcher.publish(batch.changes)
        now = time.time()
        for label, n in counts.items():
            table, op = label.rsplit("/", 1)
            metrics.ROWS.labels(self.name, table, op).inc(n)
        for table, n in dead.items():
            metrics.DEAD_LETTERS.labels(self.name, table).inc(n)
        lag_seen: dict[str, int] = {}
        for c in batch.changes:
            if c.source_ts_ms is not None and not c.snapshot:
                lag_seen[c.table] = max(lag_seen.get(c.table, 0), c.source_ts_ms)
        for table, ts in lag_seen.items():
            metrics.SOURCE_LAG.labels(self.name, table).set(max(0.0, now - ts / 1000))
        if batch.offset is not None:
            self.state["paused"] = dict(self.paused)
            await self.offsets.commit(self.state)
        for callback in batch.on_committed:
            await callback()

    async def _snapshot(self, stop: asyncio.Event) -> None:
        todo = [
            t
            for t in self.ctx.tables
            if not self.state["tables"].get(t, {}).get("snapshot", {}).get("done")
            and t not in self.paused
        ]
        if not todo:
            return
        assert self.mode is not None and self.engine is not None
        if self.state.get("stream") is None:
            # Taken before reading: changes committed while the snapshot runs are streamed after.
            self.state["stream"] = await self.mode.snapshot_marker()
            await self.offsets.commit(self.state)
        marker = _position_of(self.state["stream"])
        with rate_progress("rows", enabled=self.show_progress) as progress:
            for table in todo:
                if stop.is_set():
                    return
                await self._snapshot_table(table, marker, progress, stop)

    async def _snapshot_table(self, table: str, marker: str, progress, stop) -> None:
        st = (
            self.state["tables"]
            .setdefault(table, {})
            .setdefault("snapshot", {"done": False, "after": None, "rows": 0})
        )
        total = await asyncio.to_thread(count_rows, self.engine, self.ctx.tables[table])
        metrics.SNAPSHOT_TOTAL.labels(self.name, table).set(total)
        task = progress.add_task(f"snapshot {table}", total=total, completed=st["rows"])

        def settled(table: str, sent) -> None:
            metrics.ROWS.labels(self.name, table, "r").inc(sent.events)
            if sent.rows > sent.events:
                metrics.DEAD_LETTERS.labels(self.name, table).inc(sent.rows - sent.events)
            metrics.SNAPSHOT_ROWS.labels(self.name, table).inc(sent.rows)
            progress.update(task, completed=st["rows"])

        assert self.engine is not None
        snapshot = TableSnapshot(
            self.dispatcher,
            self.engine,
            self.config.snapshot.chunk_size,
            self.config.snapshot.offset_flush_interval_s,
            self._store_offset,
            settled,
        )
        if await snapshot.run(table, self.ctx.tables[table], st, marker, stop):
            st["done"] = True
            await self._store_offset()
            metrics.SNAPSHOT_DONE.labels(self.name, table).set(1)

    async def _store_offset(self) -> None:
        self.state["paused"] = dict(self.paused)
        await self.offsets.commit(self.state)

    async def _stream(self, stop: asyncio.Event) -> None:
        assert self.mode is not None
        for t in self.ctx.tables:
            if self.state["tables"].get(t, {}).get("snapshot", {}).get("done"):
                metrics.SNAPSHOT_DONE.labels(self.name, t).set(1)
        stream = self.mode.stream(self.state.get("stream"))
        next_batch = asyncio.ensure_future(anext(stream))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {next_batch, stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                if stopper in done:
                    return
                try:
                    batch = next_batch.result()
                except StopAsyncIteration:
                    return
                if batch.offset is not None:
                    self.state["stream"] = batch.offset
                await self._commit(batch)
                while self._late_snapshots:
                    table = self._late_snapshots.pop()
                    with rate_progress("rows", enabled=self.show_progress) as progress:
                        marker = _position_of(self.state.get("stream"))
                        await self._snapshot_table(table, marker, progress, stop)
                next_batch = asyncio.ensure_future(anext(stream))
        finally:
            stopper.cancel()
            next_batch.cancel()
            # The generator is still running inside the cancelled task: let it unwind first.
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await next_batch
            await stream.aclose()


def _position_of(stream_offset: dict[str, Any] | None) -> str:
    return str((stream_offset or {}).get("position", "start"))
