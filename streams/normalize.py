"""The normalize step without Kafka: raw messages (bytes) in, encoded canonical messages out,
so that the Faust agent (streams/app.py) only moves bytes.

A message that cannot be decoded or mapped becomes a dead letter with the reason and where it
was; the batch goes on. An unreachable registry is not bad data: it raises, the caller retries.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eventlog.topics import DEADLETTER_TOPIC
from schemas import catalog
from schemas.codec import (
    CodecError,
    Deserializer,
    Serializer,
    UnknownSchemaError,
    WireFormatError,
    decode_header,
    encode,
    parse,
)
from schemas.registry import DEFAULT_COMPATIBILITY, RegistryClient, RegistryError

from .canonical import Canonical, DataQualityFinding
from .mappings import MappingError, map_change

log = logging.getLogger(__name__)

STAGE = "normalize"
KEY_SCHEMA = '"string"'  # every canonical topic is keyed by an Avro string
# Canonical schema file -> topic, for everything normalize writes.
OUTPUT_SCHEMAS = ("person_fact", "permit_event", "service_event", "data_quality_finding")
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


@dataclass(frozen=True)
class OutMessage:
    """One message to produce: topic, key bytes and value bytes."""

    topic: str
    key: bytes | None = field(repr=False)
    value: bytes = field(repr=False)


@dataclass
class BatchResult:
    """What one batch turned into, and the counts the metrics want."""

    out: list[OutMessage] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)  # raw topic -> messages
    dead_letters: int = 0
    findings: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, rule)


class Normalizer:
    """Decodes, maps and encodes; one per worker (schemas are fetched and parsed once)."""

    def __init__(
        self,
        registry: RegistryClient,
        *,
        compatibility: str = DEFAULT_COMPATIBILITY,
        clock: Callable[[], float] = time.time,
    ):
        self.registry = registry
        self.compatibility = compatibility
        self.clock = clock
        self.deserializer = Deserializer(registry)
        self._known_ids: set[int] = set()
        self._unknown_ids: dict[int, float] = {}  # id -> when the registry said it is unknown
        self._values: dict[str, Serializer] = {}
        self._key_ids: dict[str, int] = {}
        self._key_schema = parse("string")
        self._deadletter: Serializer | None = None

    # --- subjects ------------------------------------------------------------------------------
    def ensure_subjects(self) -> None:
        """Register every output subject (values and string keys) with the compatibility level;
        blocking HTTP, once at start. IncompatibleSchemaError when the registry refuses."""
        for name in OUTPUT_SCHEMAS:
            entry = catalog.get(name)
            topic = entry.topic
            assert topic is not None and entry.subject is not None
            self.registry.ensure_subject(entry.subject, entry.schema, self.compatibility)
            self._values[topic] = Serializer(self.registry, entry.subject, entry.schema)
            self._values[topic].schema_id  # noqa: B018 - fills the header from the cache
            self._key_ids[topic] = self.registry.ensure_subject(
                catalog.key_subject(topic), KEY_SCHEMA, self.compatibility
            )
        dead = catalog.get("dead_letter")
        assert dead.subject is not None
        self.registry.ensure_subject(dead.subject, dead.schema, self.compatibility)
        self._deadletter = Serializer(self.registry, dead.subject, dead.schema)
        self._deadletter.schema_id  # noqa: B018

    # --- writer schemas ------------------------------------------------------------------------
    def unloaded_schema_ids(self, messages: Iterable[RawMessage]) -> set[int]:
        """Schema ids named by the messages that are neither loaded nor recently unknown: the
        ones to fetch (in a thread, so the event loop never waits on HTTP) before process()."""
        now = self.clock()
        wanted: set[int] = set()
        for m in messages:
            for data in (m.key, m.value):
                schema_id = _header_id(data)
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

    def _decode(self, data: bytes | None, what: str) -> Any:
        schema_id = _header_id(data)
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

    # --- the step ------------------------------------------------------------------------------
    def process(self, messages: Iterable[RawMessage]) -> BatchResult:
        """Normalize a batch: canonical messages and dead letters, in input order."""
        if self._deadletter is None:
            self.ensure_subjects()
        result = BatchResult()
        for m in messages:
            result.events[m.topic] += 1
            seen: dict[str, Any] = {}
            try:
                out, findings = self._map_message(m, seen)
            except RegistryError as e:
                if isinstance(e, LookupError):  # a 404 the codec did not turn into its own error
                    result.out.append(self.dead_letter(m, e, seen))
                    result.dead_letters += 1
                    continue
                raise
            except (CodecError, MappingError) as e:
                result.out.append(self.dead_letter(m, e, seen))
                result.dead_letters += 1
                continue
            except Exception as e:  # noqa: BLE001 - a bug in one mapping must not stop the worker
                log.error(
                    "normalize: unexpected %s at %s/%d/%d; message dead-lettered",
                    type(e).__name__,
                    m.topic,
                    m.partition,
                    m.offset,
                )
                reason = f"unexpected {type(e).__name__} in the mapping"
                result.out.append(self.dead_letter(m, e, seen, reason=reason))
                result.dead_letters += 1
                continue
            result.out.extend(out)
            result.findings.update(findings)
        return result

    def _map_message(
        self, m: RawMessage, seen: dict[str, Any]
    ) -> tuple[list[OutMessage], list[tuple[str, str]]]:
        """Decode, map and encode one message: its canonical messages and (agency, rule) of its
        findings. Fills `seen` with where the change came from, for a dead letter."""
        if m.value is None:
            return [], []  # the tombstone after a delete: the delete itself was mapped
        envelope = self._decode(m.value, "value")
        source = envelope.get("source") if isinstance(envelope, dict) else None
        if isinstance(source, dict):  # for the dead letter, should mapping fail
            seen.update(
                agency=source.get("agency"),
                table=source.get("table"),
                position=source.get("position"),
            )
        try:
            key = self._decode(m.key, "key") if m.key is not None else None
        except UnknownSchemaError as e:
            raise UnknownSchemaError(e.schema_id, "named by the key") from None
        except CodecError as e:
            raise WireFormatError(f"key: {e}") from None
        events = map_change(envelope, key)
        out = [self.encode(event) for event in events]  # all or nothing: no half-mapped change
        findings = [(f.agency, f.rule_code) for f in events if isinstance(f, DataQualityFinding)]
        return out, findings

    def encode(self, event: Canonical) -> OutMessage:
        """One canonical event as a message (Avro string key, Avro value)."""
        if event.topic not in self._values:
            self.ensure_subjects()
        value = self._values[event.topic](event.record())
        key = encode(self._key_ids[event.topic], self._key_schema, event.key)
        return OutMessage(event.topic, key, value)

    def dead_letter(
        self,
        m: RawMessage,
        error: Exception,
        seen: dict[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> OutMessage:
        """The dead letter of a message: reason, error type, where it was, the original bytes."""
        if self._deadletter is None:
            self.ensure_subjects()
        assert self._deadletter is not None
        seen = seen or {}
        agency, table = _agency_table(m.topic)
        agency, table = seen.get("agency") or agency, seen.get("table") or table
        text = reason if reason is not None else str(error)
        record = {
            "reason": (text or type(error).__name__)[:_REASON_MAX],
            "error_type": type(error).__name__,
            "stage": STAGE,
            "original_topic": m.topic,
            "partition": m.partition,
            "offset": m.offset,
            "key": m.key,
            "value": m.value,
            "agency": agency,
            "source_table": table,
            "source_position": _text_or_none(seen.get("position")),
            "ts": int(self.clock() * 1000),
        }
        key = m.key if m.key is not None else f"{m.topic}/{m.partition}/{m.offset}".encode()
        return OutMessage(DEADLETTER_TOPIC, key, self._deadletter(record))


def _header_id(data: bytes | None) -> int | None:
    if data is None:
        return None
    try:
        return decode_header(data)[0]
    except WireFormatError:
        return None


def _text_or_none(value: Any) -> str | None:
    return str(value) if value is not None else None


def _agency_table(topic: str) -> tuple[str | None, str | None]:
    """Agency and table from a raw topic name `<prefix>.<agency>.<table>`, when it is one."""
    parts = topic.split(".")
    if len(parts) == 3 and all(parts):
        return parts[1], parts[2]
    return None, None
