"""The event dispatcher: encodes changes as Avro (Confluent wire format) and publishes them.

Topic per table `mpp.<agency>.<table>`, key = the primary key record, value = the Debezium
envelope; a delete is followed by a tombstone (compacted topics then forget the key). Events go
through librdkafka (connectors/producer.py: acks=all, idempotence, linger, lz4), encoded by the
table's writers compiled when it is opened (connectors/encoding.py). A row the mapping cannot
encode goes to the dead-letter topic with its reason and position; the batch goes on.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import fastavro
from aiokafka import AIOKafkaProducer

from eventlog import admin
from eventlog.topics import RAW_NAMESPACE, table_topic_config
from schemas import catalog
from schemas.codec import encode, header
from schemas.names import avro_name
from schemas.registry import IncompatibleSchemaError, RegistryClient

from .changes import Change
from .config import ConnectorConfig
from .encoding import RowEncoder, envelope, source_record
from .producer import Acks, EventProducer
from .shapes import EncodeError, TableShape

ENCODE_ERRORS = (EncodeError, ValueError, TypeError, OverflowError)

log = logging.getLogger(__name__)


@dataclass
class TableChannel:
    """One table's topic and registered schemas (ids cached: no HTTP per message)."""

    shape: TableShape
    topic: str
    key_id: int
    value_id: int
    key_schema: Any
    value_schema: Any
    encoder: RowEncoder

    def frame(self, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        """Key and value records in the Confluent wire format."""
        return self.key_header + key, self.value_header + value

    def __post_init__(self) -> None:
        self.key_header = header(self.key_id)
        self.value_header = header(self.value_id)


class SchemaRefused(Exception):
    """The registry refused a table's (new) schema; the table pauses, the others go on."""

    def __init__(self, table: str, reason: str):
        super().__init__(f"table {table}: schema change refused by the registry: {reason}")
        self.table = table
        self.reason = reason


class EventDispatcher:
    """Owns the producer and the per-table channels of one connector."""

    def __init__(self, config: ConnectorConfig, registry: RegistryClient):
        self.config = config
        self.registry = registry
        self.channels: dict[str, TableChannel] = {}
        self._dlq_id: int | None = None
        self._dlq_schema: Any = None
        self.producer = AIOKafkaProducer(
            **config.kafka.client.client_options(),
            acks="all",
            enable_idempotence=True,
            linger_ms=config.kafka.linger_ms,
            max_batch_size=256 * 1024,
            client_id=f"mpphub-connect-{config.connector_name}",
        )
        self.events = EventProducer(
            config.kafka.client, f"mpphub-connect-{config.connector_name}", config.kafka.linger_ms
        )

    async def start(self) -> None:
        await self.producer.start()  # fails at once, naming the setting, when Kafka is not there
        self.events.start()
        await self.ensure_topics([self.config.offsets_topic], compact=True, partitions=1)
        await admin.ensure_topics(
            self.config.kafka.client,
            {self.config.deadletter_topic: self.config.kafka.client.topics.kept_records},
            partitions=self.config.kafka.partitions,
            replication_factor=self.config.kafka.replication_factor,
        )

    async def stop(self) -> None:
        await self.events.stop()
        await self.producer.stop()

    async def ensure_topics(
        self, topics: list[str], compact: bool, partitions: int | None = None
    ) -> None:
        """Create missing topics (compacted where the key identifies the row)."""
        await admin.ensure_topics(
            self.config.kafka.client,
            dict.fromkeys(topics, table_topic_config(keyed=compact)),
            partitions=partitions or self.config.kafka.partitions,
            replication_factor=self.config.kafka.replication_factor,
        )

    async def open_table(self, shape: TableShape) -> TableChannel:
        """Register the table's key and value schemas (BACKWARD_TRANSITIVE) and its topic.

        Raises SchemaRefused when the registry refuses an evolved schema."""
        topic = self.config.topic(shape.name)
        ns = ".".join(avro_name(part) for part in (RAW_NAMESPACE, self.config.agency, shape.name))
        key_schema = shape.key_schema(ns)
        value_schema = shape.envelope_schema(ns)
        try:
            key_id = await asyncio.to_thread(
                self.registry.ensure_subject, f"{topic}-key", key_schema
            )
            value_id = await asyncio.to_thread(
                self.registry.ensure_subject, f"{topic}-value", value_schema
            )
        except IncompatibleSchemaError as e:
            raise SchemaRefused(shape.name, str(e)) from None
        await self.ensure_topics([topic], compact=bool(shape.key))
        channel = TableChannel(
            shape,
            topic,
            key_id,
            value_id,
            fastavro.parse_schema(key_schema),
            fastavro.parse_schema(value_schema),
            RowEncoder(shape),
        )
        self.channels[shape.name] = channel
        return channel

    def source(self, change: Change) -> bytes:
        """The envelope's `source` record of a change."""
        return source_record(
            self.config.agency,
            self.config.connector_name,
            self.config.source.mode,
            change.table,
            change.position,
            change.snapshot,
            change.source_ts_ms,
        )

    def encode_change(self, change: Change, now_ms: int) -> tuple[str, bytes, bytes]:
        """(topic, key bytes, value bytes) of one change; EncodeError names the column."""
        ch = self.channels[change.table]
        enc = ch.encoder
        before = enc.row(enc.values(change.before)) if change.before is not None else None
        after_values = enc.values(change.after) if change.after is not None else None
        after = enc.row(after_values) if after_values is not None else None
        key = enc.key(after_values if after_values is not None else enc.values(change.row))
        value = envelope(before, after, change.op, now_ms, self.source(change))
        return (ch.topic, *ch.frame(key, value))

    async def publish(self, changes: list[Change]) -> tuple[dict[str, int], dict[str, int]]:
        """Send a batch and wait for every acknowledgement.

        Returns (events per 'table/op', dead letters per table). Raises on a Kafka error: the caller
        then does not commit the offset, and the batch is sent again after a restart."""
        now_ms = int(time.time() * 1000)
        acks = Acks(asyncio.get_running_loop())
        dead_futures = []
        counts: dict[str, int] = {}
        dead: dict[str, int] = {}
        for change in changes:
            try:
                topic, key, value = self.encode_change(change, now_ms)
            except ENCODE_ERRORS as e:
                dead_futures.append(await self.dead_letter(change, e))
                dead[change.table] = dead.get(change.table, 0) + 1
                continue
            await self.events.send(topic, key, value, acks)
            if change.op == "d":
                await self.events.send(topic, key, None, acks)
            label = f"{change.table}/{change.op}"
            counts[label] = counts.get(label, 0) + 1
        await acks.wait()
        if dead_futures:
            await asyncio.gather(*dead_futures)
        return counts, dead

    async def publish_rows(
        self, table: str, rows: list[tuple], position: str, acks: Acks
    ) -> tuple[int, list]:
        """Queue a chunk of snapshot rows (value tuples in column order) as reads, all with one
        source record; returns (events queued, dead-letter futures). Await `acks.wait()` after."""
        ch = self.channels[table]
        enc, frame, topic = ch.encoder, ch.frame, ch.topic
        source = self.source(Change(table, "r", None, None, position, None, snapshot=True))
        tail = envelope(None, b"", "r", int(time.time() * 1000), source)[2:]
        offer = self.events.offer
        dead_futures = []
        for values in rows:
            try:
                value = b"\x00\x02" + enc.row(values) + tail
                key = enc.key(values)
            except ENCODE_ERRORS as e:
                row = dict(zip(enc.columns, values, strict=True))
                change = Change(table, "r", None, row, position, None, snapshot=True)
                dead_futures.append(await self.dead_letter(change, e))
                continue
            framed = frame(key, value)
            if not offer(topic, *framed, acks):  # the producer's queue is full: wait
                await self.events.send(topic, *framed, acks)
        return len(rows) - len(dead_futures), dead_futures

    async def dead_letter(self, change: Change, error: Exception):
        log.warning(
            "dead letter: table %s position %s: %s",
            change.table,
            change.position,
            type(error).__name__,
        )
        if self._dlq_id is None:
            dlq = catalog.get("dead_letter")
            self._dlq_id = await asyncio.to_thread(
                self.registry.ensure_subject,
                catalog.value_subject(self.config.deadletter_topic),
                dlq.schema,
            )
            self._dlq_schema = dlq.parsed
        record = {
            "reason": str(error),
            "error_type": type(error).__name__,
            "stage": "capture",
            "original_topic": self.config.topic(change.table),
            "partition": None,
            "offset": None,
            "key": None,
            # The raw row stays out of the log but is kept here, so nothing is lost.
            "value": json.dumps(
                {"op": change.op, "before": change.before, "after": change.after},
                default=_json_default,
            ).encode(),
            "agency": self.config.agency,
            "source_table": change.table,
            "source_position": change.position,
            "ts": datetime.datetime.now(datetime.UTC),
        }
        value = encode(self._dlq_id, self._dlq_schema, record)
        return await self.producer.send(
            self.config.deadletter_topic, value, key=change.position.encode()
        )


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="backslashreplace")
    return str(v)
