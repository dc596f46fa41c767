"""Avro binary encoding by hand, the bytes fastavro writes (unit tests hold that): the primitives
(zig-zag varints, strings) and writers compiled once per parsed schema.

Why not fastavro on the hot path: for each nullable field it picks the union branch by
validating the value (the whole nested record again for a nullable record), which was the
largest single cost of normalize in a profile of the worker. A compiled writer checks each
value's exact type instead and writes it; for anything else (another type fastavro may still
accept, a missing field, a naive datetime, a value out of range) it raises, and the caller lets
fastavro write the record or raise its own error (codec.Serializer). So it is only ever
faster, never different.

Supported: records, [null, X] unions, arrays, enums, the primitives, and the logical types
date and timestamp-millis; compile_writer gives None for a schema with anything else.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from typing import Any

Writer = Callable[[Any], bytes]

_EPOCH_DAYS = dt.date(1970, 1, 1).toordinal()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DOUBLE = struct.Struct("<d")
_INT = 1 << 31
_LONG = 1 << 63


def varint(n: int) -> bytes:
    """Avro's zig-zag variable-length long, 14 bits per table lookup (a timestamp in micros is
    8 bytes: a loop of bit operations per byte cost more than the rest of the row)."""
    n = (n << 1) ^ (n >> 63)
    if n < 0x80:
        return _SMALL[n]
    parts = []
    while n >= 0x4000:
        parts.append(_MORE14[n & 0x3FFF])
        n >>= 14
    parts.append(_SMALL[n] if n < 0x80 else _LAST14[n])
    return b"".join(parts)


_SMALL = [bytes([i]) for i in range(0x80)]
# 14 bits as two varint bytes: both continued, or (for 0x80..0x3FFF) the last two of a number.
_MORE14 = [bytes([(x & 0x7F) | 0x80, (x >> 7) | 0x80]) for x in range(0x4000)]
_LAST14 = [bytes([(x & 0x7F) | 0x80, x >> 7]) for x in range(0x4000)]


def text(v: str) -> bytes:
    """An Avro string: its UTF-8 length, then the bytes (a lone surrogate raises)."""
    b = v.encode("utf-8")
    return varint(len(b)) + b


class Refused(Exception):
    """A value the compiled writer does not write itself (fastavro decides)."""


class _Unsupported(Exception):
    pass


def compile_writer(schema: Any) -> Writer | None:
    """A writer of `schema` (as fastavro.parse_schema gives it), or None when the schema holds
    a type this module does not write."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _compile(schema: Any) -> Writer:
    if isinstance(schema, list):
        return _union(schema)
    if isinstance(schema, str):
        kind, logical = schema, None
    elif isinstance(schema, dict):
        kind, logical = schema.get("type"), schema.get("logicalType")
        if isinstance(kind, dict | list):
            return _compile(kind)
    else:
        raise _Unsupported(repr(schema))
    if logical is not None:
        return _logical(kind, logical)
    if kind == "record":
        return _record(schema)
    if kind == "array":
        return _array(_compile(schema["items"]))
    if kind == "enum":
        return _enum(schema["symbols"])
    writer = _PRIMITIVES.get(kind)
    if writer is None:
        raise _Unsupported(str(kind))  # a map, a fixed, a named reference
    return writer


def _union(branches: list) -> Writer:
    if len(branches) != 2 or branches[0] != "null" or branches[1] == "null":
        raise _Unsupported("a union other than [null, X]")
    inner = _compile(branches[1])

    def write(v: Any) -> bytes:
        return b"\x00" if v is None else b"\x02" + inner(v)

    return write


def _record(schema: dict) -> Writer:
    fields = tuple((f["name"], _compile(f["type"])) for f in schema["fields"])

    def write(v: Any) -> bytes:
        if type(v) is not dict:
            raise Refused("not a dict")
        try:
            return b"".join([w(v[name]) for name, w in fields])
        except KeyError:  # fastavro writes a missing field's default
            raise Refused("a field is missing") from None

    return write


def _array(item: Writer) -> Writer:
    def write(v: Any) -> bytes:
        if type(v) is not list:
            raise Refused("not a list")
        if not v:
            return b"\x00"
        return b"".join([varint(len(v)), *map(item, v), b"\x00"])

    return write


def _enum(symbols: list[str]) -> Writer:
    index = {s: varint(i) for i, s in enumerate(symbols)}

    def write(v: Any) -> bytes:
        try:
            return index[v]
        except (KeyError, TypeError):
            raise Refused("not a symbol") from None

    return write


def _null(v: Any) -> bytes:
    if v is not None:
        raise Refused("not None")
    return b""


def _boolean(v: Any) -> bytes:
    if type(v) is not bool:
        raise Refused("not a bool")
    return b"\x01" if v else b"\x00"


def _int(v: Any) -> bytes:
    if type(v) is not int or not -_INT <= v < _INT:
        raise Refused("not an int")
    return varint(v)


def _long(v: Any) -> bytes:
    if type(v) is not int or not -_LONG <= v < _LONG:
        raise Refused("not a long")
    return varint(v)


def _double(v: Any) -> bytes:
    if type(v) is not float:
        raise Refused("not a float")
    return _DOUBLE.pack(v)


def _string(v: Any) -> bytes:
    if type(v) is not str:
        raise Refused("not a str")
    return text(v)


def _bytes(v: Any) -> bytes:
    if type(v) is not bytes:
        raise Refused("not bytes")
    return varint(len(v)) + v


_PRIMITIVES: dict[str, Writer] = {
    "null": _null,
    "boolean": _boolean,
    "int": _int,
    "long": _long,
    "double": _double,
    "string": _string,
    "bytes": _bytes,
}


def _date(v: Any) -> bytes:
    if type(v) is dt.date:
        return varint(v.toordinal() - _EPOCH_DAYS)
    return _int(v)  # days already; a datetime or a text: fastavro's rules


def _timestamp_millis(v: Any) -> bytes:
    if type(v) is dt.datetime and v.tzinfo is not None:
        d = v - _EPOCH  # as fastavro: whole milliseconds, microseconds truncated
        return varint((d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000)
    return _long(v)  # milliseconds already; a naive datetime is fastavro's (local time)


def _logical(kind: Any, logical: str) -> Writer:
    if (kind, logical) == ("int", "date"):
        return _date
    if (kind, logical) == ("long", "timestamp-millis"):
        return _timestamp_millis
    raise _Unsupported(f"{kind}/{logical}")
