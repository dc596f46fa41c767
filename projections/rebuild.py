"""`mpphub rebuild`: the projection tables rebuilt from the canonical topics, read from their
beginning, so that the result is the live projection row for row. Checkpoints are left at the
end offsets the replay started with, so a worker started afterwards goes on from there.

Stop the projection worker that writes into the same database first: the replay replaces its
tables. Review notes are kept; the audit of reads is in a database of its own.

A bulk load: the log is read with a plain consumer, decoded by projections/replay_decoder.py
(the Projector's records at half the cost), folded in memory to the final rows
(projections/bulk_fold.py: the live worker's rules, each row written once), and written with one
executemany per table into a new database that is then swapped in (projections/swap.py: an
SQLite target is rebuilt in a new file, so readers see the old projection until the new one is
complete). Should the database refuse a folded row (bad data the live worker would pass over),
the rebuild starts again through the live worker's Projector/apply_batch in batches, which
passes such a message over exactly as the worker does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

from eventlog.heap import HeapSettler
from eventlog.progress import rate_progress
from eventlog.reading import LogRange, read_to_end

from .bulk_fold import WRITE_STEPS, BulkFold
from .facts import CONSUMER, ProjectionTopics
from .projector import Projector, RawMessage, bad_data, describe_error
from .replay_decoder import ReplayDecoder
from .settings import ProjectionSettings
from .store import Store, create_tables, drop_projection_tables, local_today, lock_key, open_store
from .swap import Staging, bulk_pragmas, staging_for
from .writer import set_checkpoints

log = logging.getLogger(__name__)

# Events handed to the fold at a time (one hand-over in flight while the next are fetched);
# in the fallback, events per transaction (the live worker's batches are 500).
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
    staging = staging_for(url)
    started = time.perf_counter()
    try:
        await _replay_into(staging, settings, topics, consumer, stats, progress, batch_size)
        staging.swap()
    except BaseException:
        staging.discard()
        raise
    stats.seconds = time.perf_counter() - started
    return stats


async def _replay_into(
    staging: Staging,
    settings: ProjectionSettings,
    topics: ProjectionTopics,
    consumer: str,
    stats: RebuildStats,
    progress: bool,
    batch_size: int,
) -> dict[tuple[str, int], int]:
    """Fresh projection tables in the staging database, the log folded into them, and the
    checkpoints at the end offsets replayed."""
    store = open_store(
        staging.url, create=False, lock_key=lock_key(staging.url, settings.secret_file)
    )
    if staging.fresh:
        bulk_pragmas(store.engine)
    else:
        _no_sync(store.engine)
    try:
        _fresh_tables(store)
        projector = Projector(settings, topics=topics, consumer=consumer, store=store)
        decode = ReplayDecoder(projector.decoder.registry, projector.decode)
        fold = BulkFold(topics)
        settler = HeapSettler()  # eventlog/heap.py: the fold's rows out of the collector's way
        folded = 0

        def fold_batch(raw: list[RawMessage]) -> None:
            nonlocal folded
            fold.add(map(decode, raw))
            folded += len(raw)
            settler.after_batch(folded)

        ends = await _replay(settings, topics, fold_batch, stats, progress, batch_size)
        if folded >= settler.at_least:
            settler.settle()  # the fold is done growing: the write's collections skip it
        try:
            with store.sessions() as session, rate_progress("steps", enabled=progress) as bar:
                task = bar.add_task("write rows", total=WRITE_STEPS)
                fold.write(session, local_today(), lambda _step: bar.advance(task))
                set_checkpoints(session, _checkpoints(ends), consumer)  # commits
        except Exception as e:
            if not bad_data(e):
                raise
            log.warning("bulk load refused (%s): replaying in batches", describe_error(e))
            del fold
            _fresh_tables(store)
            stats.events = 0
            ends = await _replay(settings, topics, projector.apply, stats, progress, batch_size)
            with store.sessions() as session:
                set_checkpoints(session, _checkpoints(ends), consumer)
    finally:
        store.close()
    return ends


def _fresh_tables(store: Store) -> None:
    drop_projection_tables(store.engine)
    create_tables(store.engine)


def _checkpoints(ends: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """The last offset replayed of each partition that has any."""
    return {k: v - 1 for k, v in ends.items() if v > 0}


def _no_sync(engine: Engine) -> None:
    """An SQLite target rebuilt in place is written without fsync (PRAGMA synchronous=OFF,
    this engine's connections only): a rebuild cut short is run again from the start anyway."""
    if engine.dialect.name == "sqlite":
        event.listen(
            engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=OFF")
        )


async def _replay(
    settings: ProjectionSettings,
    topics: ProjectionTopics,
    consume: Callable[[list[RawMessage]], Any],
    stats: RebuildStats,
    progress: bool,
    batch_size: int,
) -> dict[tuple[str, int], int]:
    """Hand every canonical event up to the current end to `consume` (blocking, run in a
    thread, in log order); the end offsets replayed to."""
    bounds: list[LogRange] = []
    with rate_progress("events", enabled=progress) as bar:
        task = bar.add_task("rebuild", total=None)

        def started(log_range: LogRange) -> None:
            bounds.append(log_range)
            stats.partitions = len(log_range.end)
            stats.end_offsets = {f"{tp.topic}:{tp.partition}": n for tp, n in log_range.end.items()}
            bar.update(task, total=log_range.total)

        async def apply(raw: list[RawMessage]) -> None:
            await asyncio.to_thread(consume, raw)
            stats.events += len(raw)
            bar.update(task, advance=len(raw))

        # `batch_size` events at a time, while the next ones are fetched (one in flight).
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
