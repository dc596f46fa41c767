"""`mpphub rebuild`: drop the projection tables and replay the canonical topics from their
beginning through the same Projector/apply_batch as the live worker, so the result is the live
projection row for row. Checkpoints are left at the end offsets the replay started with, so a
worker started afterwards goes on from there.

Stop the projection worker that writes into the same database first: the replay drops its
tables. Review notes are kept; the audit of reads is in a database of its own.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from eventlog.progress import rate_progress
from eventlog.reading import LogRange, read_to_end

from .facts import CONSUMER, ProjectionTopics
from .projector import Projector, RawMessage
from .settings import ProjectionSettings
from .store import create_tables, drop_projection_tables, open_store
from .writer import set_checkpoints

# Events folded and written per transaction: a bulk load (the live worker's batches are 500).
REPLAY_BATCH = 20_000
FETCH_RECORDS = 5000  # records per Kafka fetch


@dataclass
class RebuildStats:
    """What a rebuild did."""

    target: str  # database URL, password hidden
    events: int = 0
    seconds: float = 0.0
    partitions: int = 0
    end_offsets: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> end

    @property
    def events_per_s(self) -> float:
        """Replay throughput."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI and the benchmark print it)."""
        return {
            "target": self.target,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s, 1),
            "partitions": self.partitions,
            "end_offsets": self.end_offsets,
        }


def rebuild(
    settings: ProjectionSettings,
    target_url: str | None = None,
    progress: bool = True,
    *,
    topics: ProjectionTopics | None = None,
    consumer: str = CONSUMER,
    batch_size: int = REPLAY_BATCH,
) -> RebuildStats:
    """Drop and recreate the projection tables in `target_url` (default: the settings' DB) and
    replay the canonical topics (default: the hub's) into them; returns the replay's
    statistics."""
    return asyncio.run(
        rebuild_async(
            settings,
            target_url,
            progress,
            topics=topics,
            consumer=consumer,
            batch_size=batch_size,
        )
    )


async def rebuild_async(
    settings: ProjectionSettings,
    target_url: str | None = None,
    progress: bool = True,
    *,
    topics: ProjectionTopics | None = None,
    consumer: str = CONSUMER,
    batch_size: int = REPLAY_BATCH,
) -> RebuildStats:
    """rebuild() for callers already inside an event loop."""
    topics = topics or ProjectionTopics.of(settings.kafka.topics)
    url = target_url or settings.db_url
    stats = RebuildStats(target=make_url(url).render_as_string(hide_password=True))
    store = open_store(url, create=False)
    _no_sync(store.engine)
    try:
        drop_projection_tables(store.engine)
        create_tables(store.engine)
        projector = Projector(settings, topics=topics, consumer=consumer, store=store)
        started = time.perf_counter()
        ends = await _replay(settings, topics, projector, stats, progress, batch_size)
        with store.sessions() as session:
            set_checkpoints(session, {k: v - 1 for k, v in ends.items() if v > 0}, consumer)
        stats.seconds = time.perf_counter() - started
    finally:
        store.close()
    return stats


def _no_sync(engine: Engine) -> None:
    """An SQLite target is written without fsync while it is rebuilt (PRAGMA synchronous=OFF,
    this engine's connections only): a rebuild cut short is run again from the start anyway."""
    if engine.dialect.name == "sqlite":
        event.listen(
            engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=OFF")
        )


async def _replay(
    settings: ProjectionSettings,
    topics: ProjectionTopics,
    projector: Projector,
    stats: RebuildStats,
    progress: bool,
    batch_size: int,
) -> dict[tuple[str, int], int]:
    """Apply every canonical event up to the current end; the end offsets replayed to."""
    bounds: list[LogRange] = []
    with rate_progress("events", enabled=progress) as bar:
        task = bar.add_task("rebuild", total=None)

        def started(log_range: LogRange) -> None:
            bounds.append(log_range)
            stats.partitions = len(log_range.end)
            stats.end_offsets = {f"{tp.topic}:{tp.partition}": n for tp, n in log_range.end.items()}
            bar.update(task, total=log_range.total)

        async def apply(raw: list[RawMessage]) -> None:
            await asyncio.to_thread(projector.apply, raw)
            stats.events += len(raw)
            bar.update(task, advance=len(raw))

        # A bulk load: batches of `batch_size` events, each folded in memory and written with
        # one executemany per table, while the next batch is fetched (one batch in flight).
        pending: asyncio.Task | None = None
        raw: list[RawMessage] = []
        async for fetched in read_to_end(
            settings.kafka,
            topics.names,
            max_records=min(batch_size, FETCH_RECORDS),
            on_range=started,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        ):
            raw += [(m.topic, m.partition, m.offset, m.key, m.value) for m in fetched]
            if len(raw) >= batch_size:
                if pending is not None:
                    await pending
                pending, raw = asyncio.ensure_future(apply(raw)), []
        if pending is not None:
            await pending
        if raw:
            await apply(raw)
        # Compaction may leave fewer records than offsets: the bar still ends full.
        total = bounds[0].total if bounds else 0
        bar.update(task, total=total, completed=total)
    return {(tp.topic, tp.partition): n for b in bounds for tp, n in b.end.items()}
