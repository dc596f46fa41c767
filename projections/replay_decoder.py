"""Decoding the canonical log for a rebuild: the same records as schemas.codec.Deserializer, at
about half its cost.

fastavro spends half of its time on a canonical event in its logical-type hooks (a date or a
timestamp-millis field is converted through a generic Python call per value). Here each writer
schema is read once with its logical types stripped (plain ints and longs come out of fastavro's
compiled reader) and the few fields that had one are converted after, by a plan made once per
schema with fastavro's own formulas, so every value is the one the Deserializer gives (equal and
of the same type, timestamps aware in UTC). A schema with another logical type, or any message
that does not decode, goes to the fallback (the Projector's own decode: logged and skipped
there exactly as in the live worker).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import fastavro

from schemas.codec import HEADER_SIZE, MAGIC_BYTE, SchemaSource

from .facts import Message

RawMessage = tuple[str, int, int, Any, Any]  # topic, partition, offset, key bytes, value bytes
Convert = Callable[[Any], Any]

# fastavro's formulas (fastavro/_logical_readers_py.py): the same values, the same types.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY0 = dt.date(1970, 1, 1).toordinal()


def _date(days: int) -> dt.date:
    return dt.date.fromordinal(_DAY0 + days)


def _timestamp_millis(ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=ms * 1000)


CONVERTERS: dict[str, Convert] = {"date": _date, "timestamp-millis": _timestamp_millis}


class Unsupported(Exception):
    """A schema this decoder leaves to the full Deserializer."""


def strip_logical(schema: Any) -> Any:
    """`schema` (JSON form) without its logicalType annotations."""
    if isinstance(schema, dict):
        return {k: strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical(s) for s in schema]
    return schema


def plan(schema: Any, named: dict[str, Convert | None] | None = None) -> Convert | None:
    """A function that turns a value decoded without logical types into the value decoded with
    them (None: nothing to convert); Unsupported for what it does not know."""
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in named:
            return named[schema]
        return None  # a primitive, or a named type without logical fields
    if isinstance(schema, list):
        return _union(schema, named)
    logical = schema.get("logicalType")
    if logical is not None:
        if logical not in CONVERTERS or not isinstance(schema.get("type"), str):
            raise Unsupported(f"logical type {logical!r}")
        return CONVERTERS[logical]
    kind = schema.get("type")
    if kind == "record":
        return _record(schema, named)
    if kind == "array":
        items = plan(schema["items"], named)
        return None if items is None else (lambda v: [items(x) for x in v])
    if kind == "map":
        values = plan(schema["values"], named)
        return None if values is None else (lambda v: {k: values(x) for k, x in v.items()})
    if isinstance(kind, dict | list):
        return plan(kind, named)
    return None  # enum, fixed, a primitive written as {"type": "string"}


def _union(branches: list, named: dict[str, Convert | None]) -> Convert | None:
    plans = [plan(b, named) for b in branches]
    converting = [p for p in plans if p is not None]
    if not converting:
        return None
    if len(converting) > 1 or len([b for b in branches if b != "null"]) > 1:
        raise Unsupported("a union of several branches with logical types")
    convert = converting[0]
    return lambda v: None if v is None else convert(v)


def _record(schema: dict, named: dict[str, Convert | None]) -> Convert | None:
    name = schema.get("name", "")
    full = f"{schema['namespace']}.{name}" if schema.get("namespace") else name
    fields = [(f["name"], plan(f["type"], named)) for f in schema["fields"]]
    fields = [(n, p) for n, p in fields if p is not None]
    if not fields:
        convert = None
    else:

        def convert(record: dict) -> dict:
            for field_name, field_plan in fields:
                record[field_name] = field_plan(record[field_name])
            return record

    named[name] = named[full] = convert
    return convert


class ReplayDecoder:
    """Raw canonical messages -> Messages, as Projector.decode gives them; what this decoder
    cannot read goes to `fallback` (Projector.decode)."""

    def __init__(self, registry: SchemaSource, fallback: Callable[[RawMessage], Message]):
        self.registry = registry
        self.fallback = fallback
        self._schemas: dict[int, tuple[Any, Convert | None] | None] = {}

    def _schema(self, schema_id: int) -> tuple[Any, Convert | None] | None:
        if schema_id not in self._schemas:
            try:
                raw = self.registry.get_schema(schema_id)
                self._schemas[schema_id] = (
                    fastavro.parse_schema(strip_logical(raw)),
                    plan(raw),
                )
            except Exception:  # noqa: BLE001 - unknown id, other logical types: the fallback
                self._schemas[schema_id] = None
        return self._schemas[schema_id]

    def __call__(self, raw: RawMessage) -> Message:
        topic, partition, offset, key, value = raw
        if value is None or len(value) < HEADER_SIZE or value[0] != MAGIC_BYTE:
            return self.fallback(raw)
        entry = self._schema(int.from_bytes(value[1:HEADER_SIZE], "big"))
        if entry is None:
            return self.fallback(raw)
        body = io.BytesIO(value)
        body.seek(HEADER_SIZE)
        try:
            record = fastavro.schemaless_reader(body, entry[0], None)
            if body.tell() != len(value) or not isinstance(record, dict):
                return self.fallback(raw)
            if entry[1] is not None:
                record = entry[1](record)
        except Exception:  # noqa: BLE001 - whatever fastavro raises: the fallback says what
            return self.fallback(raw)
        if isinstance(key, bytes | bytearray):
            key = bytes(key).decode("utf-8", "replace")
        return Message(topic, partition, offset, key, record)
