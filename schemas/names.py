"""How a source column or table name becomes an Avro name: part of the contract, since the
connectors name fields by it and the streams find columns by it."""

from __future__ import annotations

import functools
import re


@functools.cache  # called per column of every row: the set of names is small
def avro_name(name: str) -> str:
    """A valid Avro name for a SQL identifier (letters, digits, underscore; no leading digit)."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return out if re.match(r"[A-Za-z_]", out) else f"_{out}"
