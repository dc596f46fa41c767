"""A digest of the projected rows: per table, the number of rows and a SHA-256 of the rows in
primary-key order, values decoded (JSON as data, dates as dates), so that two databases of one
backend (the order is the database's collation) hold the same projection exactly when their
digests are equal, whatever the JSON spacing.

What `mpphub bench e2e` compares a rebuild of a million events with, and the test of a rebuild
against the live projection: cheap (one ordered scan per table, nothing held in memory).
Checkpoints are left out: they say where each consumer stopped, not what was projected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import orjson
from sqlalchemy import Engine, select

from .models import PROJECTION_TABLES

DIGESTED = tuple(t for t in PROJECTION_TABLES if t.name != "checkpoint")
SCAN_ROWS = 10_000  # rows fetched at a time


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _row_bytes(row: Any) -> bytes:
    return orjson.dumps([_plain(v) for v in row], option=orjson.OPT_SORT_KEYS) + b"\n"


def projection_digest(engine: Engine) -> dict[str, dict[str, Any]]:
    """{table: {"rows": n, "sha256": hex}} of every projection table but the checkpoints."""
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for table in DIGESTED:
            digest, n = hashlib.sha256(), 0
            stmt = select(table).order_by(*table.primary_key.columns)
            result = conn.execution_options(yield_per=SCAN_ROWS).execute(stmt)
            for row in result:
                digest.update(_row_bytes(row))
                n += 1
            out[table.name] = {"rows": n, "sha256": digest.hexdigest()}
    return out
