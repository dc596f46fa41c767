"""Reading topics from their beginning to the end they have now: how a connector recovers its
offsets and what it published, and how a rebuild replays the canonical log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from .admin import topic_partitions
from .settings import KafkaSettings


@dataclass(frozen=True)
class LogRange:
    """Where each partition begins and ends at the moment reading starts."""

    begin: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        """Offsets to read (compaction may leave fewer records)."""
        return sum(self.end[tp] - self.begin[tp] for tp in self.end)


async def read_to_end(
    kafka: KafkaSettings,
    topics: str | Iterable[str],
    *,
    max_records: int = 5000,
    on_range: Callable[[LogRange], None] | None = None,
    **consumer_options,
) -> AsyncIterator[list[ConsumerRecord]]:
    """Batches of records of every partition of `topics`, from the beginning up to the end each
    had when reading started. `on_range` learns those bounds before the first batch.

    Committed records only unless told otherwise: the identity log is written in transactions
    (streams/fencing.py), and a fenced writer's aborted batch is no part of it (a rebuild or a
    replay must not apply it)."""
    consumer_options.setdefault("isolation_level", "read_committed")
    names = [topics] if isinstance(topics, str) else list(topics)
    tps = await topic_partitions(kafka, names)
    if not tps:
        if on_range:
            on_range(LogRange({}, {}))
        return
    consumer = AIOKafkaConsumer(
        **kafka.client_options(),
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        **consumer_options,
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        if on_range:
            on_range(LogRange(begin, end))
        remaining = {tp for tp in tps if end[tp] > begin[tp]}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            batch = [m for tp, msgs in fetched.items() for m in msgs if m.offset < end[tp]]
            if batch:
                yield batch
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
