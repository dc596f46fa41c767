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
import functools
import struct
from collections.abc import Callable, Sequence
from typing import Any

from fastavro._logical_writers_py import prepare_bytes_decimal

from schemas.avro_binary import text as _text
from schemas.avro_binary import varint as _varint

from .shapes import EncodeError, TableShape, convert_value

_EPOCH_DAYS = dt.date(1970, 1, 1).toordinal()
_UTC = dt.UTC
_DOUBLE = struct.Struct("<d")
Writer = Callable[[Any], bytes]


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
    if type(v) is dt.date:
        return _days(v)
    if type(v) is str:  # as a PostgreSQL snapshot reads it (connectors/sql.py)
        return _days_text(v)
    return _days(convert_value(v, "date"))


@functools.lru_cache(maxsize=1 << 15)
def _days_text(v: str) -> bytes:
    return _days(dt.date.fromisoformat(v))  # '0000-00-00', 'infinity': that row's dead letter


@functools.lru_cache(maxsize=1 << 15)  # birth dates repeat: a dict lookup instead
def _days(v: dt.date) -> bytes:
    return _varint(v.toordinal() - _EPOCH_DAYS)


def _timestamp(v: Any) -> bytes:
    """timestamp-micros; a naive value is wall-clock time labelled UTC (as the shape says)."""
    if type(v) is str:
        v = dt.datetime.fromisoformat(v)
    elif type(v) is not dt.datetime:
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


_UNION_LEN = [b"\x02" + bytes([2 * n]) for n in range(64)]  # branch 1, then a short length
_UNION_INT = [b"\x02" + bytes([2 * n]) for n in range(64)]  # branch 1, then a small int


def _compile_row(kinds: list[str], writers: list[Writer]) -> Callable[[Sequence[Any]], bytes]:
    """Straight-line code for one table's row (no loop; text and small ints inline). Generated
    once per table shape, as dataclasses and attrs generate their methods."""
    lines = ["def row(v):"]
    for i, kind in enumerate(kinds):
        lines += [f"    c = v[{i}]", "    if c is None:", f"        p{i} = N"]
        if kind == "string":
            lines += [
                "    elif type(c) is str:",
                "        b = c.encode('utf-8')",
                f"        p{i} = (L[len(b)] if len(b) < 64 else S + V(len(b))) + b",
            ]
        elif kind in ("int", "long"):
            lines += ["    elif type(c) is int and 0 <= c < 64:", f"        p{i} = I[c]"]
        lines += ["    else:", f"        p{i} = S + w{i}(c)"]
    lines.append(f"    return b''.join(({''.join(f'p{i}, ' for i in range(len(kinds)))}))")
    scope: dict[str, Any] = {f"w{i}": w for i, w in enumerate(writers)}
    scope |= {"N": b"\x00", "S": b"\x02", "L": _UNION_LEN, "I": _UNION_INT, "V": _varint}
    exec("\n".join(lines), scope)  # noqa: S102 - our own code, from column kinds only
    return scope["row"]


class RowEncoder:
    """A table's key and row records as Avro binary, from value tuples in column order."""

    def __init__(self, shape: TableShape):
        self.shape = shape
        self.columns = shape.columns
        self._row = [writer_for(shape.types[c].kind, shape.types[c].avro) for c in shape.columns]
        kinds = [shape.types[c].kind for c in shape.columns]
        self._compiled = _compile_row(kinds, self._row)
        self._key = [writer_for(shape.types[c].kind, shape.types[c].avro) for c in shape.key]
        self.key_index = [shape.columns.index(k) for k in shape.key]

    def values(self, row: dict[str, Any]) -> tuple:
        """A row dict (as capture modes give it) as a tuple in column order."""
        return tuple(map(row.get, self.columns))

    def row(self, values: Sequence[Any]) -> bytes:
        """The row record: every column is a ["null", type] union."""
        if len(values) == len(self.columns):
            try:
                return self._compiled(values)
            except (ValueError, TypeError, OverflowError, AttributeError, ArithmeticError):
                pass  # the general loop below names the column
        return self._row_by_column(values)

    def _row_by_column(self, values: Sequence[Any]) -> bytes:
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
    return source_prefix(agency, connector, db, table) + source_rest(position, snapshot, ts_ms)


@functools.lru_cache(maxsize=1024)
def source_prefix(agency: str, connector: str, db: str, table: str) -> bytes:
    """The fields of `source` that are the same for every change of a table."""
    return _text(agency) + _text(connector) + _text(db) + _text(table)


def source_rest(position: str, snapshot: bool, ts_ms: int | None) -> bytes:
    """The fields of `source` that differ per change."""
    tail = b"\x00" if ts_ms is None else b"\x02" + _varint(ts_ms)
    return _text(position) + (b"\x01" if snapshot else b"\x00") + tail


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
