"""Sample records generated from a schema: every field set (nullable ones too), so round trips
cover every type of the canonical schemas, whatever fields they gain later."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

_TS_MS = dt.datetime(2025, 8, 18, 1, 2, 3, 456000, tzinfo=dt.UTC)
_TS_US = dt.datetime(2025, 8, 18, 1, 2, 3, 456789, tzinfo=dt.UTC)
_LOGICAL = {
    "date": dt.date(1990, 8, 5),
    "timestamp-millis": _TS_MS,
    "timestamp-micros": _TS_US,
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
}
_PRIMITIVE = {
    "null": None,
    "boolean": True,
    "int": 7,
    "long": 1234567890123,
    "float": 0.5,
    "double": 0.25,
    "bytes": b"\x00\xffsample",
    "string": "sample",
}


def sample(schema: Any, named: dict[str, Any] | None = None, field: str = "") -> Any:
    """A valid datum for `schema` (plain JSON, as in an .avsc), non-null wherever it can be."""
    named = {} if named is None else named
    if isinstance(schema, str):
        return sample(named[schema], named, field) if schema in named else _PRIMITIVE[schema]
    if isinstance(schema, list):
        branch = next((b for b in schema if b != "null"), "null")
        return sample(branch, named, field)
    kind = schema["type"]
    if "name" in schema and kind in ("record", "enum", "fixed"):
        named[schema["name"]] = schema
        if "namespace" in schema:
            named[f"{schema['namespace']}.{schema['name']}"] = schema
    logical = schema.get("logicalType")
    if logical == "decimal":
        return decimal.Decimal("1250000.50").quantize(decimal.Decimal(1).scaleb(-schema["scale"]))
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    if kind == "record":
        return {f["name"]: sample(f["type"], named, f["name"]) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][0]
    if kind == "fixed":
        return b"\x01" * schema["size"]
    if kind == "array":
        return [sample(schema["items"], named, field)]
    if kind == "map":
        return {"k": sample(schema["values"], named, field)}
    return sample(kind, named, field)
