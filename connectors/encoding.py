"""Per-table Avro writers, compiled once from a `TableShape`: a row's values straight to Avro
binary, the bytes fastavro would write for the same schema (a unit test holds that).

Why not fastavro on the hot path: for each nullable field it picks the union branch by
validating the value, and for the envelope's `after` it validates the whole row again; that
was most of the connector's ~50 us per row. Here each column has one writer chosen from its
type when the table is opened; a value of an unexpected Python type goes through the shape's
general conversion first. A value that cannot be written raises EncodeError naming the column.
"""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from collections.abc import Callable, Sequence
from typing import Any

from fastavro._logical_writers_py import prepare_bytes_decimal

from .shapes import EncodeError, TableShape, convert_value

_EPOCH_DAYS = dt.date(1970, 1, 1).toordinal()
_UTC = dt.UTC
_DOUBLE = struct.Struct("<d")
Writer = Callable[[Any], bytes]


def _varint(n: int) -> bytes:
    """Avro's zig-zag variable-length long."""
    n = (n << 1) ^ (n >> 63)
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes([i]) for i in range(0x80)]


def _text(v: str) -> bytes:
    b = v.encode("utf-8")  # a lone surrogate raises: that row's dead letter
    return _varint(len(b)) + b


def _long(limit: int) -> Writer:
    def write(v: Any) -> bytes:
        if type(v) is not int:
            v = convert_value(v, "long")
        if not -limit <= v < limit:
            raise ValueError(f"{v} out of range")
        return _varint(v)

    return write


def _string(v: Any) -> bytes:
    return _text(v if type(v) is str else convert_value(v, "string"))


def _bytes(v: Any) -> bytes:
    b = v if type(v) is bytes else convert_value(v, "bytes")
    return _varint(len(b)) + b


def _double(v: Any) -> bytes:
    return _DOUBLE.pack(v if type(v) is float else convert_value(v, "double"))


def _boolean(v: Any) -> bytes:
    return b"\x01" if (v if type(v) is bool else convert_value(v, "boolean")) else b"\x00"


def _date(v: Any) -> bytes:
    if type(v) is not dt.date:
        v = convert_value(v, "date")
    return _varint(v.toordinal() - _EPOCH_DAYS)


def _timestamp(v: Any) -> bytes:
    """timestamp-micros; a naive value is wall-clock time labelled UTC (as the shape says)."""
    if type(v) is not dt.datetime:
        v = convert_value(v, "timestamp")
    if v.tzinfo is not None:
        v = v.astimezone(_UTC)
    days = v.toordinal() - _EPOCH_DAYS
    secs = days * 86400 + v.hour * 3600 + v.minute * 60 + v.second
    return _varint(secs * 1_000_000 + v.microsecond)


def _time(v: Any) -> bytes:
    v = convert_value(v, "time")
    return _varint(((v.hour * 60 + v.minute) * 60 + v.second) * 1000 + v.microsecond // 1000)


def _decimal(schema: dict) -> Writer:
    def write(v: Any) -> bytes:
        if type(v) is not decimal.Decimal:
            v = convert_value(v, "decimal")
        return _bytes(prepare_bytes_decimal(v, schema))

    return write


_WRITERS: dict[str, Writer] = {
    "string": _string,
    "int": _long(2**31),
    "long": _long(2**63),
    "double": _double,
    "boolean": _boolean,
    "bytes": _bytes,
    "date": _date,
    "timestamp": _timestamp,
    "time": _time,
}


def writer_for(kind: str, avro: Any) -> Writer:
    """The writer of one column kind (connectors.shapes.ColumnType)."""
    return _decimal(avro) if kind == "decimal" else _WRITERS[kind]


class RowEncoder:
    """A table's key and row records as Avro binary, from value tuples in column order."""

    def __init__(self, shape: TableShape):
        self.shape = shape
        self.columns = shape.columns
        self._row = [writer_for(shape.types[c].kind, shape.types[c].avro) for c in shape.columns]
        self._key = [writer_for(shape.types[c].kind, shape.types[c].avro) for c in shape.key]
        self.key_index = [shape.columns.index(k) for k in shape.key]

    def values(self, row: dict[str, Any]) -> tuple:
        """A row dict (as capture modes give it) as a tuple in column order."""
        return tuple(row.get(c) for c in self.columns)

    def row(self, values: Sequence[Any]) -> bytes:
        """The row record: every column is a ["null", type] union."""
        parts = []
        append = parts.append
        i = 0
        try:
            for i, (write, v) in enumerate(zip(self._row, values, strict=True)):  # noqa: B007
                if v is None:
                    append(b"\x00")
                else:
                    append(b"\x02")
                    append(write(v))
        except (ValueError, TypeError, OverflowError, AttributeError, ArithmeticError) as e:
            raise EncodeError(f"column {self.columns[i]}: {e}") from None
        return b"".join(parts)

    def key(self, values: Sequence[Any]) -> bytes:
        """The key record (not nullable) of a row's values in column order."""
        parts = []
        for write, i in zip(self._key, self.key_index, strict=True):
            v = values[i]
            col = self.columns[i]
            if v is None:
                raise EncodeError(f"key column {col} is null")
            try:
                parts.append(write(v))
            except (ValueError, TypeError, OverflowError, AttributeError, ArithmeticError) as e:
                raise EncodeError(f"key column {col}: {e}") from None
        return b"".join(parts)


def source_record(
    agency: str, connector: str, db: str, table: str, position: str, snapshot: bool, ts_ms
) -> bytes:
    """The envelope's `source` record (connectors.shapes.SOURCE_SCHEMA)."""
    tail = b"\x00" if ts_ms is None else b"\x02" + _varint(ts_ms)
    return (
        _text(agency)
        + _text(connector)
        + _text(db)
        + _text(table)
        + _text(position)
        + (b"\x01" if snapshot else b"\x00")
        + tail
    )


def envelope(before: bytes | None, after: bytes | None, op: str, ts_ms: int, source: bytes):
    """The Debezium envelope record around row records already written."""
    return b"".join(
        (
            b"\x00" if before is None else b"\x02" + before,
            b"\x00" if after is None else b"\x02" + after,
            _text(op),
            _varint(ts_ms),
            source,
        )
    )
