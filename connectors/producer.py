"""The producer of change events: librdkafka (confluent-kafka) batching with linger and lz4,
acks=all and idempotence, and a count of acknowledgements per batch of events.

Why not aiokafka here: its `send` is a coroutine, a future and a pure-Python murmur2 per message,
about as much CPU as encoding the row. librdkafka batches, compresses and sends in its own
threads; `murmur2_random` is the Java client's partitioner (what aiokafka's default computes),
so a key lands on the same partition whichever client published it. Offsets, dead letters and
topic admin stay on aiokafka (a few messages per batch).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from eventlog import KafkaSettings

log = logging.getLogger(__name__)

# Bounded, whatever the table size: send() waits when this much is unacknowledged.
QUEUE_KBYTES = 32 * 1024


def librdkafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    """The cluster and its security settings as librdkafka configuration."""
    conf: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap}
    if kafka.security_protocol != "PLAINTEXT":
        conf["security.protocol"] = kafka.security_protocol
    if kafka.ssl_cafile:
        conf["ssl.ca.location"] = str(kafka.ssl_cafile)
    if kafka.security_protocol.startswith("SASL_"):
        assert kafka.sasl_password_file is not None
        conf["sasl.mechanisms"] = kafka.sasl_mechanism
        conf["sasl.username"] = kafka.sasl_username
        conf["sasl.password"] = kafka.sasl_password_file.read_text().strip()
    return conf


class Acks:
    """The acknowledgements of one batch of events: `sent` counts in the event loop's thread,
    `acked` in the producer's poll thread (one writer each, so no lock)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.sent = 0
        self.acked = 0
        self.error: KafkaError | None = None
        self.sealed = False
        self._done = loop.create_future()

    def delivered(self, err: KafkaError | None, _msg: Any) -> None:
        """librdkafka's delivery report (poll thread)."""
        if err is not None and self.error is None:
            self.error = err
        self.acked += 1
        if self.sealed and self.acked == self.sent:
            self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self._done.done():
            self._done.set_result(None)

    async def wait(self) -> None:
        """Return once every event sent with these acks is acknowledged; raise if one failed."""
        self.sealed = True
        if self.acked == self.sent:
            self._resolve()
        await self._done
        if self.error is not None:
            raise KafkaException(self.error)


class EventProducer:
    """A librdkafka producer and the thread that serves its delivery reports."""

    def __init__(self, kafka: KafkaSettings, client_id: str, linger_ms: int):
        self.conf = {
            **librdkafka_options(kafka),
            "client.id": client_id,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": max(linger_ms, 5),
            "batch.size": 1_000_000,
            "partitioner": "murmur2_random",
            "queue.buffering.max.kbytes": QUEUE_KBYTES,
        }
        self._producer: Producer | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._producer = Producer(self.conf, error_cb=_log_error)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="event-acks", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._producer is not None
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def stop(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (up to `timeout`), then stop the poll thread."""
        if self._producer is None:
            return
        left = await asyncio.to_thread(self._producer.flush, timeout)
        if left:
            log.warning("%d events were not acknowledged before stopping", left)
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._producer = None

    def offer(self, topic: str, key: bytes, value: bytes | None, acks: Acks) -> bool:
        """Queue one event unless the queue is full (then False: await `send`)."""
        assert self._producer is not None
        try:
            self._producer.produce(topic, value, key, on_delivery=acks.delivered)
        except BufferError:
            return False
        acks.sent += 1
        return True

    async def send(self, topic: str, key: bytes, value: bytes | None, acks: Acks) -> None:
        """Queue one event, waiting while the queue is full; `acks` counts its delivery."""
        while not self.offer(topic, key, value, acks):
            await asyncio.sleep(0.005)


def _log_error(err: KafkaError) -> None:
    log.warning("kafka: %s", err.str())
