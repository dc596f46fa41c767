"""Table shapes: a captured table's columns and key as the connector sees them, the Avro schemas
derived from its metadata (as Debezium does), and the conversion of a row's values to them.

Key: a record of the key columns; value: the Debezium envelope `{before, after, op, ts_ms,
source}`. Every column is nullable with default null, so an added column evolves the schema
BACKWARD_TRANSITIVE-compatibly. Field names follow the contract's `schemas.names.avro_name`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from schemas.names import avro_name

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Avro's logical types hold these; a legacy row outside them is a dead letter, not a crash.
_MIN_DATE = dt.date(1, 1, 1)


class EncodeError(ValueError):
    """A value the mapping cannot encode; the message says which column and why."""


@dataclass(frozen=True)
class ColumnType:
    """How one SQL column is carried: its Avro type and the converter for its values."""

    avro: Any
    kind: str  # string | int | long | double | boolean | bytes | decimal | date | timestamp | time


def column_type(col_type: sa.types.TypeEngine) -> ColumnType:
    """Map a SQL type to Avro: decimal, date and timestamp-millis as logical types."""
    t = col_type
    if isinstance(t, sa.Boolean):
        return ColumnType("boolean", "boolean")
    if isinstance(t, sa.SmallInteger | sa.Integer) and not isinstance(t, sa.BigInteger):
        return ColumnType("int", "int")
    if isinstance(t, sa.BigInteger):
        return ColumnType("long", "long")
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Float):
        if t.precision is None:
            # Unconstrained NUMERIC has no fixed scale: text is the lossless carrier.
            return ColumnType("string", "string")
        precision = t.precision
        scale = t.scale or 0
        if scale == 0 and precision <= 18 and t.precision is not None:
            return ColumnType("long", "long")
        return ColumnType(
            {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale},
            "decimal",
        )
    if isinstance(t, sa.Float):
        return ColumnType("double", "double")
    if isinstance(t, sa.DateTime):
        # Micros, not millis: agency columns keep microseconds and a round trip must lose nothing.
        return ColumnType({"type": "long", "logicalType": "timestamp-micros"}, "timestamp")
    if isinstance(t, sa.Date):
        return ColumnType({"type": "int", "logicalType": "date"}, "date")
    if isinstance(t, sa.Time):
        return ColumnType({"type": "int", "logicalType": "time-millis"}, "time")
    if isinstance(t, sa.LargeBinary | sa.types._Binary):
        return ColumnType("bytes", "bytes")
    # String, Text, Enum, JSON, UUID and anything unknown travel as text.
    return ColumnType("string", "string")


@dataclass(frozen=True)
class TableShape:
    """A captured table as the connector sees it: columns, key, and their Avro forms."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    types: dict[str, ColumnType]

    @classmethod
    def from_table(
        cls, table: sa.Table, key: list[str] | None = None, name: str | None = None
    ) -> TableShape:
        """The shape of a reflected table; `name` is the configured table name when the
        database folds case differently (changes, channels and topics go by it)."""
        cols = tuple(c.name for c in table.columns)
        pk = tuple(key) if key else tuple(c.name for c in table.primary_key.columns)
        types = {c.name: column_type(c.type) for c in table.columns}
        return cls(name or table.name, cols, pk, types)

    @classmethod
    def text_columns(cls, name: str, columns: list[str], key: list[str]) -> TableShape:
        """A table whose values are all text (CSV/XLSX exports)."""
        return cls(
            name, tuple(columns), tuple(key), {c: ColumnType("string", "string") for c in columns}
        )

    def row_schema(self, namespace: str) -> dict:
        return {
            "type": "record",
            "name": "Value",
            "namespace": namespace,
            "fields": [
                {"name": avro_name(c), "type": ["null", self.types[c].avro], "default": None}
                for c in self.columns
            ],
        }

    def key_schema(self, namespace: str) -> dict:
        return {
            "type": "record",
            "name": "Key",
            "namespace": namespace,
            "fields": [{"name": avro_name(c), "type": self.types[c].avro} for c in self.key],
        }

    def envelope_schema(self, namespace: str) -> dict:
        """Debezium's envelope around this table's row record."""
        return {
            "type": "record",
            "name": "Envelope",
            "namespace": namespace,
            "fields": [
                {"name": "before", "type": ["null", self.row_schema(namespace)], "default": None},
                {"name": "after", "type": ["null", "Value"], "default": None},
                {
                    "name": "op",
                    "type": "string",
                    "doc": "c=create u=update d=delete r=snapshot read",
                },
                {"name": "ts_ms", "type": "long", "doc": "when the connector processed it"},
                {"name": "source", "type": SOURCE_SCHEMA},
            ],
        }

    def convert_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """Row values -> Avro-ready values by Avro field name; EncodeError names the column."""
        out = {}
        for c in self.columns:
            try:
                out[avro_name(c)] = convert_value(row.get(c), self.types[c].kind)
            except (ValueError, TypeError, OverflowError, decimal.InvalidOperation) as e:
                raise EncodeError(f"column {c}: {e}") from None
        return out

    def convert_key(self, row: dict[str, Any]) -> dict[str, Any]:
        """The key record of a row; a missing key value is refused."""
        out = {}
        for c in self.key:
            v = row.get(c)
            if v is None:
                raise EncodeError(f"key column {c} is null")
            try:
                out[avro_name(c)] = convert_value(v, self.types[c].kind)
            except (ValueError, TypeError, OverflowError) as e:
                raise EncodeError(f"key column {c}: {e}") from None
        return out

    def key_values(self, row: dict[str, Any]) -> tuple:
        return tuple(row.get(c) for c in self.key)


SOURCE_SCHEMA = {
    "type": "record",
    "name": "Source",
    "namespace": "id.mpphub.connect",
    "fields": [
        {"name": "agency", "type": "string"},
        {"name": "connector", "type": "string"},
        {"name": "db", "type": "string"},
        {"name": "table", "type": "string"},
        {"name": "position", "type": "string", "doc": "mode-specific, ordered within a connector"},
        {"name": "snapshot", "type": "boolean"},
        {
            "name": "ts_ms",
            "type": ["null", "long"],
            "default": None,
            "doc": "when the change happened in the source, when the source says",
        },
    ],
}


def convert_value(v: Any, kind: str) -> Any:
    """One value as its Avro-ready Python form for a column kind (ColumnType.kind)."""
    if v is None:
        return None
    if kind == "string":
        if isinstance(v, bytes):
            return v.decode("utf-8")  # bad encoding raises: a dead letter, with the column
        if isinstance(v, str):
            v.encode("utf-8")  # lone surrogates from a misdecoded legacy column
            return v
        # The same text whether the value came from a snapshot (driver objects) or a log.
        if isinstance(v, set | frozenset):
            return ",".join(sorted(v))  # MySQL SET, as the binlog gives it
        if isinstance(v, dict | list):
            return json.dumps(v, ensure_ascii=False, sort_keys=True)  # JSON columns
        return str(v)
    if kind in ("int", "long"):
        if isinstance(v, bool):
            return int(v)
        iv = int(v)
        limit = 2**31 if kind == "int" else 2**63
        if not -limit <= iv < limit:
            raise ValueError(f"{iv} out of range for {kind}")
        return iv
    if kind == "double":
        return float(v)
    if kind == "boolean":
        return bool(v)
    if kind == "decimal":
        return v if isinstance(v, decimal.Decimal) else decimal.Decimal(str(v))
    if kind == "date":
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, dt.date):
            return v
        return dt.date.fromisoformat(str(v))  # '0000-00-00' from legacy MySQL raises here
    if kind == "timestamp":
        if isinstance(v, str):
            v = dt.datetime.fromisoformat(v)
        if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            v = dt.datetime(v.year, v.month, v.day)
        if v.tzinfo is None:
            # Agency databases keep local wall-clock time without zone; we carry it as is
            # (labelled UTC), so a value read back equals the value in the source.
            v = v.replace(tzinfo=dt.UTC)
        return v
    if kind == "time":
        return v
    if kind == "bytes":
        return bytes(v)
    raise ValueError(f"unknown kind {kind}")


def source_ts_ms(value: Any) -> int | None:
    """A source timestamp column value as epoch millis (naive = wall clock labelled UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int((value - _EPOCH).total_seconds() * 1000)
