"""The chain head published to Kafka: {"seq", "hash", "at"} as JSON (readable with any console
consumer, no registry needed to check it), one partition, a topic kept forever and never
compacted (eventlog.topics: KEEP_FOREVER). What was published cannot be taken back by whoever
holds the audit database and the hub's secret: `mpphub audit verify` checks every published
head against the chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from eventlog import KafkaSettings
from eventlog.admin import ensure_topics
from eventlog.reading import read_to_end
from eventlog.topics import KEEP_FOREVER

from .log import AuditLog

log = logging.getLogger(__name__)
SEND_TIMEOUT_S = 30.0
KEY = b"audit-head"


@dataclass(frozen=True)
class Head:
    """A published chain head: the last entry's seq and hash when it was published."""

    seq: int
    hash: str
    at: str

    def encode(self) -> bytes:
        """The JSON value published."""
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at}).encode()

    @classmethod
    def decode(cls, value: bytes) -> Head:
        """A head from its published value; ValueError when it is none."""
        d = json.loads(value)
        return cls(int(d["seq"]), str(d["hash"]), str(d.get("at", "")))


class HeadPublisher:
    """Publishes the audit's head when it moved since the last time (acks=all, idempotent)."""

    def __init__(self, kafka: KafkaSettings, topic: str, replication_factor: int = 1):
        self.kafka = kafka
        self.topic = topic
        self.replication_factor = replication_factor
        self._producer: AIOKafkaProducer | None = None
        self.published: tuple[int, str] | None = None

    async def _start(self) -> AIOKafkaProducer:
        if self._producer is None:
            await ensure_topics(
                self.kafka,
                {self.topic: KEEP_FOREVER},
                partitions=1,
                replication_factor=self.replication_factor,
            )
            producer = AIOKafkaProducer(
                **self.kafka.client_options(), acks="all", enable_idempotence=True
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def publish(self, audit: AuditLog) -> Head | None:
        """Publish the head if it moved; the head published, or None."""
        seq, hash_ = await asyncio.to_thread(audit.head)
        if seq == 0 or self.published == (seq, hash_):
            return None
        head = Head(seq, hash_, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        producer = await self._start()
        await asyncio.wait_for(
            producer.send_and_wait(self.topic, head.encode(), key=KEY), timeout=SEND_TIMEOUT_S
        )
        self.published = (seq, hash_)
        return head

    async def run(self, audit: AuditLog, interval_s: float) -> None:
        """Publish every `interval_s` until cancelled; a failure is logged and retried."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.publish(audit)
            except Exception as e:  # noqa: BLE001 - Kafka down must not stop the API
                log.warning("audit head not published: %s: %s", type(e).__name__, e)

    async def close(self) -> None:
        """Stop the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def published_heads(kafka: KafkaSettings, topic: str) -> list[Head]:
    """Every head published to `topic`, oldest first (an unreadable record is skipped)."""
    out: list[Head] = []
    async for batch in read_to_end(kafka, topic):
        for record in batch:
            try:
                out.append(Head.decode(record.value))
            except (ValueError, KeyError, TypeError):
                log.warning("audit head at offset %d is not one: skipped", record.offset)
    return out
