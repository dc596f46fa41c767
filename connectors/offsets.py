"""Connector offsets in a compacted Kafka topic (Debezium's *offset context*).

One record per connector, key = connector name, value = JSON of where to resume. It is written
only after every event it covers was acknowledged, so a connector killed at any moment and
restarted re-sends at most the last batch (at-least-once, same source positions), never skips.
"""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaProducer

from eventlog import KafkaSettings
from eventlog.reading import read_to_end


class OffsetStore:
    """Reads the latest offset of one connector at start; writes new ones synchronously."""

    def __init__(
        self, kafka: KafkaSettings, topic: str, connector: str, producer: AIOKafkaProducer
    ):
        self.kafka = kafka
        self.topic = topic
        self.connector = connector
        self.producer = producer
        self.current: dict[str, Any] = {}

    async def load(self) -> dict[str, Any]:
        """Read the topic to its end and keep this connector's last record."""
        key = self.connector.encode()
        async for batch in read_to_end(self.kafka, self.topic):
            for m in batch:
                if m.key == key:
                    self.current = json.loads(m.value) if m.value else {}
        return self.current

    async def commit(self, offset: dict[str, Any]) -> None:
        """Store the offset durably (acks=all); returns once Kafka acknowledged it."""
        value = json.dumps(offset, sort_keys=True, default=str).encode()
        await self.producer.send_and_wait(
            self.topic, value, key=self.connector.encode(), partition=0
        )
        self.current = offset
