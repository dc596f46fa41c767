"""Helpers for the streams tests: raw change events shaped exactly as the connectors publish them
(connectors.shapes.TableShape of the sample tables), and an in-memory schema registry."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import fastavro
import sqlalchemy as sa

from connectors.shapes import TableShape
from ops.samples import siak, sicantik
from schemas.codec import encode, parse
from schemas.registry import canonical

TS = dt.datetime(2025, 8, 18, 9, 30, tzinfo=dt.UTC)
TS_MS = int(TS.timestamp() * 1000)

TABLES: dict[str, tuple[str, sa.Table]] = {t.name: (siak.AGENCY, t) for t in siak.TABLES} | {
    t.name: (sicantik.AGENCY, t) for t in sicantik.TABLES
}


def shape(table: str) -> TableShape:
    """The connector's shape of a sample table."""
    return TableShape.from_table(TABLES[table][1])


def namespace(table: str) -> str:
    """The raw schemas' namespace, as the dispatcher names it."""
    return f"mpp.{TABLES[table][0]}.{table}"


def envelope(
    table: str,
    op: str,
    row: dict[str, Any] | None,
    *,
    before: dict[str, Any] | None = None,
    position: str = "pos-1",
    source_ts_ms: int | None = TS_MS,
    agency: str | None = None,
) -> dict[str, Any]:
    """A Debezium envelope of a sample table's row, values converted as the connector does
    (so that they are exactly what the Avro round trip gives)."""
    s = shape(table)
    after = s.convert_row(row) if row is not None else None
    if op == "d":
        before, after = (s.convert_row(before if before is not None else row or {})), None
    elif before is not None:
        before = s.convert_row(before)
    return {
        "before": before,
        "after": after,
        "op": op,
        "ts_ms": TS_MS + 500,
        "source": {
            "agency": agency or TABLES[table][0],
            "connector": "test",
            "db": "polling",
            "table": table,
            "position": position,
            "snapshot": op == "r",
            "ts_ms": source_ts_ms,
        },
    }


def key_of(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The key record of a row."""
    return shape(table).convert_key(row)


def round_trip(schema: Any, record: Any) -> Any:
    """A record written and read back with fastavro: the types a consumer sees."""
    parsed = fastavro.parse_schema(schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, parsed, None)


def decoded_envelope(table: str, env: dict[str, Any]) -> dict[str, Any]:
    """An envelope after the Avro round trip (timestamps as aware datetimes, and so on)."""
    return round_trip(shape(table).envelope_schema(namespace(table)), env)


class FakeRegistry:
    """An in-memory Confluent-style registry: ids per distinct schema text, subjects, levels."""

    def __init__(self) -> None:
        self.by_id: dict[int, Any] = {}
        self.ids: dict[str, int] = {}
        self.subjects: dict[str, list[int]] = {}
        self.compatibility: dict[str, str] = {}
        self.get_calls: list[int] = []
        self.unavailable = False

    def register(self, subject: str, schema: Any) -> int:
        text = canonical(schema)
        schema_id = self.ids.setdefault(text, len(self.ids) + 1)
        self.by_id[schema_id] = json.loads(text)  # what a registry gives back
        versions = self.subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    def lookup(self, subject: str, schema: Any) -> int | None:
        schema_id = self.ids.get(canonical(schema))
        return schema_id if schema_id in self.subjects.get(subject, []) else None

    def ensure_subject(self, subject: str, schema: Any, compatibility: str = "") -> int:
        self.compatibility[subject] = compatibility
        return self.register(subject, schema)

    def get_schema(self, schema_id: int) -> Any:
        from schemas.registry import RegistryUnavailableError, SchemaNotFoundError

        self.get_calls.append(schema_id)
        if self.unavailable:
            raise RegistryUnavailableError("registry down (test)")
        if schema_id not in self.by_id:
            raise SchemaNotFoundError(f"schema {schema_id} not found", status=404)
        return self.by_id[schema_id]


class RawSender:
    """Produces change events of the sample tables to raw topics (table -> topic), framed as
    the connectors' dispatcher frames them: registered schemas, a delete then its tombstone."""

    def __init__(self, registry: Any, producer: Any, topics: dict[str, str]):
        self.registry = registry  # schemas.registry.RegistryClient
        self.producer = producer  # kafka.KafkaProducer
        self.topics = topics
        self._ids: dict[str, tuple[int, int]] = {}

    def change(self, table: str, op: str, row: dict | None, *, wait: bool = True, **kw: Any) -> Any:
        """Produce one change of a sample table (envelope() options in kw); its record metadata
        (or, with wait=False, the send's future)."""
        topic = self.topics[table]
        s = shape(table)
        if table not in self._ids:
            self._ids[table] = (
                self.registry.ensure_subject(f"{topic}-key", s.key_schema(namespace(table))),
                self.registry.ensure_subject(f"{topic}-value", s.envelope_schema(namespace(table))),
            )
        key_id, value_id = self._ids[table]
        key_row = row if row is not None else kw.get("before", {})
        key = encode(key_id, parse(s.key_schema(namespace(table))), key_of(table, key_row))
        value_schema = parse(s.envelope_schema(namespace(table)))
        value = encode(value_id, value_schema, envelope(table, op, row, **kw))
        sent = self.raw(table, key, value, wait=wait)
        if op == "d":
            self.raw(table, key, None, wait=wait)
        return sent

    def raw(self, table: str, key: bytes | None, value: bytes | None, *, wait: bool = True) -> Any:
        """Produce bytes as they are to a table's raw topic, partition 0."""
        future = self.producer.send(self.topics[table], value, key=key, partition=0)
        return future.get(30) if wait else future
