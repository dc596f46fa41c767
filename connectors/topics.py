"""Reading a whole topic, from its beginning to the end it has now: how a connector recovers its
offsets and what it already published (both live in compacted topics)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition numbers; [] when it does not exist (yet)."""
    # The admin call, not consumer.partitions_for_topic(): that one answers from a metadata
    # cache which consumer.topics() does not fill, and silently says "no partitions".
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (desc,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if desc["error_code"] != 0:
        return []
    return sorted(p["partition"] for p in desc["partitions"])


async def read_to_end(
    bootstrap: str, topic: str, max_records: int = 5000
) -> AsyncIterator[list[ConsumerRecord]]:
    """Batches of records from the beginning of every partition up to its current end."""
    parts = await topic_partitions(bootstrap, topic)
    if not parts:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            for tp, msgs in batch.items():
                yield [m for m in msgs if m.offset < end[tp]]
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
