"""`mpphub rebuild`: drop the projection tables and replay the canonical topics from their
beginning through the same Projector/apply_batch as the live worker, so the result is the live
projection row for row. Checkpoints are left at the end offsets the replay started with, so a
worker started afterwards goes on from there.

Stop the projection worker that writes into the same database first: the replay drops its
tables. The access log is kept.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy.engine import make_url

from streams.settings import WorkerSettings

from .agent import Projector
from .events import CONSUMER, DEFAULT_TOPICS, ProjectionTopics
from .store import create_tables, drop_projection_tables, open_store
from .writer import set_checkpoints

REPLAY_BATCH = 5000


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


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:,.0f} events/s" if speed else "- events/s", style="progress.data.speed"
        )


def rebuild(
    settings: WorkerSettings,
    target_url: str | None = None,
    progress: bool = True,
    *,
    topics: ProjectionTopics = DEFAULT_TOPICS,
    consumer: str = CONSUMER,
    batch_size: int = REPLAY_BATCH,
) -> RebuildStats:
    """Drop and recreate the projection tables in `target_url` (default: the settings' DB) and
    replay the canonical topics into them; returns the replay's statistics."""
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
    settings: WorkerSettings,
    target_url: str | None = None,
    progress: bool = True,
    *,
    topics: ProjectionTopics = DEFAULT_TOPICS,
    consumer: str = CONSUMER,
    batch_size: int = REPLAY_BATCH,
) -> RebuildStats:
    """rebuild() for callers already inside an event loop."""
    url = target_url or settings.projection_db_url
    stats = RebuildStats(target=make_url(url).render_as_string(hide_password=True))
    store = open_store(url, create=False)
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


async def _partitions(bootstrap: str, names: tuple[str, ...]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    out = []
    for d in described:
        if d["error_code"] == 0:
            out.extend(TopicPartition(d["topic"], p["partition"]) for p in d["partitions"])
    return sorted(out)


async def _replay(
    settings: WorkerSettings,
    topics: ProjectionTopics,
    projector: Projector,
    stats: RebuildStats,
    progress: bool,
    batch_size: int,
) -> dict[tuple[str, int], int]:
    tps = await _partitions(settings.kafka_bootstrap, topics.names)
    stats.partitions = len(tps)
    if not tps:
        return {}
    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await kafka.start()
    try:
        kafka.assign(tps)
        await kafka.seek_to_beginning(*tps)
        begin = await kafka.beginning_offsets(tps)
        end = await kafka.end_offsets(tps)
        stats.end_offsets = {f"{tp.topic}:{tp.partition}": end[tp] for tp in tps}
        total = sum(end[tp] - begin[tp] for tp in tps)
        remaining = {tp for tp in tps if end[tp] > begin[tp]}
        bar = _progress(progress)
        with bar:
            task = bar.add_task("rebuild", total=total)
            while remaining:
                fetched = await kafka.getmany(*remaining, timeout_ms=1000, max_records=batch_size)
                raw = [
                    (m.topic, m.partition, m.offset, m.key, m.value)
                    for tp, msgs in fetched.items()
                    for m in msgs
                    if m.offset < end[tp]
                ]
                if raw:
                    await asyncio.to_thread(projector.apply, raw)
                    stats.events += len(raw)
                    bar.update(task, advance=len(raw))
                for tp in list(remaining):
                    if await kafka.position(tp) >= end[tp]:
                        remaining.discard(tp)
            # Compaction may leave fewer records than offsets: the bar still ends full.
            bar.update(task, completed=total)
        return {(tp.topic, tp.partition): end[tp] for tp in tps}
    finally:
        await kafka.stop()


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
