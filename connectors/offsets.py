"""Connector offsets in a compacted Kafka topic (Debezium's *offset context*).

One record per connector, key = connector name, value = JSON of where to resume. It is written
only after every event it covers was acknowledged, so a connector killed at any moment and
restarted re-sends at most the last batch (at-least-once, same source positions), never skips.
"""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


class OffsetStore:
    """Reads the latest offset of one connector at start; writes new ones synchronously."""

    def __init__(self, bootstrap: str, topic: str, connector: str, producer: AIOKafkaProducer):
        self.bootstrap = bootstrap
        self.topic = topic
        self.connector = connector
        self.producer = producer
        self.current: dict[str, Any] = {}

    async def load(self) -> dict[str, Any]:
        """Read the topic to its end and keep this connector's last record."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            await consumer.topics()  # refreshes metadata for every topic
            parts = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            if not tps:
                return self.current
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            key = self.connector.encode()
            remaining = {tp for tp in tps if end[tp] > 0}
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, msgs in batch.items():
                    for m in msgs:
                        if m.key == key:
                            self.current = json.loads(m.value) if m.value else {}
                        if m.offset + 1 >= end[tp]:
                            remaining.discard(tp)
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        return self.current

    async def commit(self, offset: dict[str, Any]) -> None:
        """Store the offset durably (acks=all); returns once Kafka acknowledged it."""
        value = json.dumps(offset, sort_keys=True, default=str).encode()
        await self.producer.send_and_wait(
            self.topic, value, key=self.connector.encode(), partition=0
        )
        self.current = offset
