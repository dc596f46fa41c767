"""The normalize step without Kafka: raw messages (bytes) in, encoded canonical messages out,
so that the Faust agent (streams/app.py) only moves bytes.

A message that cannot be decoded or mapped becomes a dead letter with the reason and where it
was; the batch goes on. An unreachable registry is not bad data: it raises, the caller retries.
Person facts are keyed here, by a keyed token of their source record (no NIK in any key).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.tokens import Tokens
from eventlog.topics import Topics
from schemas import catalog
from schemas.codec import CodecError, UnknownSchemaError, WireFormatError
from schemas.registry import DEFAULT_COMPATIBILITY, RegistryClient, RegistryError

from .canonical import Canonical, DataQualityFinding, PersonFact
from .mappings import MappingError, map_change
from .wire import UNKNOWN_ID_TTL_S, OutMessage, RawMessage, Wire

log = logging.getLogger(__name__)

STAGE = "normalize"
# Canonical schema file -> topic, for everything normalize writes.
OUTPUT_SCHEMAS = ("person_fact", "permit_event", "service_event", "data_quality_finding")

__all__ = ["UNKNOWN_ID_TTL_S", "BatchResult", "Normalizer", "OutMessage", "RawMessage"]


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
        tokens: Tokens,
        *,
        topics: Topics,
        compatibility: str = DEFAULT_COMPATIBILITY,
        clock: Callable[[], float] = time.time,
    ):
        self.tokens = tokens
        self.topics = topics
        self._topic_names: dict[str, str] = {}  # canonical topic -> its name on the cluster
        self.wire = Wire(
            registry, stage=STAGE, topics=topics, compatibility=compatibility, clock=clock
        )

    def ensure_subjects(self) -> None:
        """Register every output subject (values and string keys) with the compatibility level;
        blocking HTTP, once at start. IncompatibleSchemaError when the registry refuses."""
        outputs = {catalog.get(name).topic: name for name in OUTPUT_SCHEMAS}
        self.wire.ensure_subjects(
            {self.topics.name(t): n for t, n in outputs.items() if t is not None}
        )

    def unloaded_schema_ids(self, messages: Iterable[RawMessage]) -> set[int]:
        """Schema ids named by the messages that are neither loaded nor recently unknown: the
        ones to fetch (in a thread, so the event loop never waits on HTTP) before process()."""
        return self.wire.unloaded_schema_ids(d for m in messages for d in (m.key, m.value))

    def load_schema(self, schema_id: int) -> bool:
        """Fetch and parse one writer schema (blocking); False when the registry does not know
        it. RegistryError (unreachable, 5xx) propagates: that is no reason to dead-letter."""
        return self.wire.load_schema(schema_id)

    # --- the step ------------------------------------------------------------------------------
    def process(self, messages: Iterable[RawMessage]) -> BatchResult:
        """Normalize a batch: canonical messages and dead letters, in input order."""
        if not self.wire.ready:
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
        envelope = self.wire.decode(m.value, "value")
        source = envelope.get("source") if isinstance(envelope, dict) else None
        if isinstance(source, dict):  # for the dead letter, should mapping fail
            seen.update(
                agency=source.get("agency"),
                table=source.get("table"),
                position=source.get("position"),
            )
        try:
            key = self.wire.decode(m.key, "key") if m.key is not None else None
        except UnknownSchemaError as e:
            raise UnknownSchemaError(e.schema_id, "named by the key") from None
        except CodecError as e:
            raise WireFormatError(f"key: {e}") from None
        events = map_change(envelope, key)
        out = [self._encode_keyed(e) for e in events]  # all or nothing: no half-mapped change
        findings = [(f.agency, f.rule_code) for f in events if isinstance(f, DataQualityFinding)]
        return out, findings

    def _encode_keyed(self, event: Canonical) -> OutMessage:
        """encode(event.keyed(tokens)) for a person fact, without copying the dataclass."""
        if not isinstance(event, PersonFact):
            return self.encode(event)
        record = event.record()
        record["record_key"] = key = event.record_key_under(self.tokens)
        return self.wire.encode(self._topic_name(event.topic), key, record)

    def _topic_name(self, topic: str) -> str:
        name = self._topic_names.get(topic)
        if name is None:
            name = self._topic_names[topic] = self.topics.name(topic)
        return name

    def encode(self, event: Canonical) -> OutMessage:
        """One canonical event as a message (Avro string key, Avro value)."""
        if not self.wire.ready:
            self.ensure_subjects()
        return self.wire.encode(self._topic_name(event.topic), event.key, event.record())

    def dead_letter(
        self,
        m: RawMessage,
        error: Exception,
        seen: dict[str, Any] | None = None,
        *,
        reason: str | None = None,
    ) -> OutMessage:
        """The dead letter of a message: reason, error type, where it was, the original bytes."""
        if not self.wire.ready:
            self.ensure_subjects()
        return self.wire.dead_letter(m, error, seen, reason=reason)
