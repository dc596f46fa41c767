"""Messages as bytes on the wire, for the worker's steps: decoding with writer schemas fetched
once (an unknown id is remembered for a while), encoding with registered subjects (every key an
Avro string), and the dead letter of a message that cannot be processed.

The registry is asked only through load_schema and ensure_subjects, which the agents run in a
thread, so the event loop never waits on HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventlog.topics import Topics
from schemas import catalog
from schemas.avro_binary import text
from schemas.codec import (
    HEADER_SIZE,
    MAGIC_BYTE,
    Deserializer,
    Serializer,
    UnknownSchemaError,
    header,
)
from schemas.registry import DEFAULT_COMPATIBILITY, RegistryClient

KEY_SCHEMA = '"string"'  # every canonical topic is keyed by an Avro string
UNKNOWN_ID_TTL_S = 60.0  # an unknown schema id is asked for again after this
_REASON_MAX = 1000


@dataclass(frozen=True)
class RawMessage:
    """One consumed message as it was on the wire."""

    topic: str
    partition: int
    offset: int
    key: bytes | None = field(repr=False)
    value: bytes | None = field(repr=False)
    # The Kafka record timestamp (epoch ms; None when unknown): stored with the record, so a
    # re-read of the same offset gives the same value, unlike the wall clock at processing.
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class OutMessage:
    """One message to produce: topic, key bytes, value bytes (and headers, rarely)."""

    topic: str
    key: bytes | None = field(repr=False)
    value: bytes = field(repr=False)
    headers: tuple[tuple[str, bytes], ...] = ()


class Wire:
    """Decoder and encoder of one step's messages (one per worker step)."""

    def __init__(
        self,
        registry: RegistryClient,
        *,
        stage: str,
        topics: Topics,
        compatibility: str = DEFAULT_COMPATIBILITY,
        clock: Callable[[], float] = time.time,
    ):
        self.registry = registry
        self.stage = stage
        self.topics = topics
        self.compatibility = compatibility
        self.clock = clock
        self.deserializer = Deserializer(registry)
        self._known_ids: set[int] = set()
        self._unknown_ids: dict[int, float] = {}  # id -> when the registry said it is unknown
        self._values: dict[str, Serializer] = {}
        self._key_ids: dict[str, int] = {}
        self._key_headers: dict[str, bytes] = {}  # topic -> framing of its key schema id
        self._deadletter: Serializer | None = None

    # --- subjects ------------------------------------------------------------------------------
    def ensure_subjects(self, outputs: Mapping[str, str]) -> None:
        """Register the subjects of `outputs` (topic -> canonical schema name: its values and
        string keys) and of the dead letters, with the compatibility level; blocking HTTP, once
        at start. IncompatibleSchemaError when the registry refuses."""
        for topic, name in outputs.items():
            schema = catalog.get(name).schema
            subject = catalog.value_subject(topic)
            self.registry.ensure_subject(subject, schema, self.compatibility)
            self._values[topic] = Serializer(self.registry, subject, schema)
            self._values[topic].schema_id  # noqa: B018 - fills the header from the cache
            self._key_ids[topic] = self.registry.ensure_subject(
                catalog.key_subject(topic), KEY_SCHEMA, self.compatibility
            )
            self._key_headers[topic] = header(self._key_ids[topic])
        dead = catalog.get("dead_letter")
        subject = catalog.value_subject(self.topics.deadletter)
        self.registry.ensure_subject(subject, dead.schema, self.compatibility)
        self._deadletter = Serializer(self.registry, subject, dead.schema)
        self._deadletter.schema_id  # noqa: B018

    @property
    def ready(self) -> bool:
        """True once ensure_subjects has run."""
        return self._deadletter is not None

    # --- writer schemas ------------------------------------------------------------------------
    def unloaded_schema_ids(self, datas: Iterable[bytes | None]) -> set[int]:
        """Schema ids named by the data that are neither loaded nor recently unknown: the ones
        to fetch (in a thread) before decoding."""
        now = self.clock()
        wanted: set[int] = set()
        for data in datas:
            schema_id = header_id(data)
            if schema_id is None or schema_id in self._known_ids:
                continue
            asked = self._unknown_ids.get(schema_id)
            if asked is not None and now - asked < UNKNOWN_ID_TTL_S:
                continue
            wanted.add(schema_id)
        return wanted

    def load_schema(self, schema_id: int) -> bool:
        """Fetch and parse one writer schema (blocking); False when the registry does not know
        it. RegistryError (unreachable, 5xx) propagates: that is no reason to dead-letter."""
        try:
            self.deserializer.writer_schema(schema_id)
        except UnknownSchemaError:
            self._unknown_ids[schema_id] = self.clock()
            return False
        self._known_ids.add(schema_id)
        self._unknown_ids.pop(schema_id, None)
        return True

    def decode(self, data: bytes | None, what: str) -> Any:
        """One Confluent-framed Avro datum as its writer wrote it; CodecError when it is not."""
        schema_id = header_id(data)
        if schema_id is not None and schema_id in self._unknown_ids:
            if self.clock() - self._unknown_ids[schema_id] < UNKNOWN_ID_TTL_S:
                raise UnknownSchemaError(schema_id, f"{what} names it")
        try:
            record = self.deserializer(data)
        except UnknownSchemaError:
            if schema_id is not None:
                self._unknown_ids[schema_id] = self.clock()
            raise
        if schema_id is not None:
            self._known_ids.add(schema_id)
        return record

    # --- encoding ------------------------------------------------------------------------------
    def encode(
        self,
        topic: str,
        key: str,
        record: Mapping[str, Any],
        headers: tuple[tuple[str, bytes], ...] = (),
    ) -> OutMessage:
        """One message of a registered output topic (Avro string key, Avro value)."""
        value = self._values[topic](record)
        return OutMessage(topic, self._key_headers[topic] + text(key), value, headers)

    def dead_letter(
        self,
        m: RawMessage,
        error: Exception,
        seen: Mapping[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> OutMessage:
        """The dead letter of a message: reason, error type, where it was, the original bytes.
        `seen` may say the agency, table and source position the message came from."""
        assert self._deadletter is not None, "ensure_subjects first"
        seen = seen or {}
        agency, table = self.topics.agency_table(m.topic)
        agency, table = seen.get("agency") or agency, seen.get("table") or table
        said = reason if reason is not None else str(error)
        position = seen.get("position")
        record = {
            "reason": (said or type(error).__name__)[:_REASON_MAX],
            "error_type": type(error).__name__,
            "stage": self.stage,
            "original_topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "key": m.key,
            "value": m.value,
            "agency": agency,
            "source_table": table,
            "source_position": str(position) if position is not None else None,
            "ts": int(self.clock() * 1000),
        }
        key = m.key if m.key is not None else f"{m.topic}/{m.partition}/{m.offset}".encode()
        return OutMessage(self.topics.deadletter, key, self._deadletter(record))


def header_id(data: bytes | None) -> int | None:
    """The schema id in a Confluent header, None when the data has none."""
    # Read in place: decode_header would copy the whole body for the 4 bytes of the id.
    if not isinstance(data, bytes | bytearray) or len(data) < HEADER_SIZE or data[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(data[1:HEADER_SIZE], "big")
