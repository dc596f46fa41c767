"""RawChange: one raw change event (Debezium envelope + key record) as the mappings see it.

Times come from the envelope, never the wall clock, so a replay maps to the same events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import MappingError
from .values import column

OPS = ("c", "u", "d", "r")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class RawChange:
    """One decoded raw change event (Debezium envelope + key record), ready to map."""

    agency: str
    table: str
    op: str  # c create, u update, d delete, r snapshot read
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    key: Mapping[str, Any] | None = field(repr=False)
    position: str
    source_ts: dt.datetime | None  # when the change happened in the source, when it says
    ts: dt.datetime  # when the connector processed it

    @classmethod
    def from_envelope(cls, envelope: Mapping[str, Any], key: Mapping[str, Any] | None) -> RawChange:
        """Check the envelope's shape and take it apart; MappingError says what is missing."""
        if not isinstance(envelope, Mapping):
            raise MappingError(f"change event is a {type(envelope).__name__}, not an envelope")
        source = envelope.get("source")
        if not isinstance(source, Mapping):
            raise MappingError("change event has no source block")
        for name in ("agency", "table", "position"):
            if not source.get(name):
                raise MappingError(f"change event has no source.{name}")
        op = envelope.get("op")
        if op not in OPS:
            raise MappingError(f"change event op is {op!r}, not one of c, u, d, r")
        before, after = envelope.get("before"), envelope.get("after")
        row = after if op != "d" else before
        if op != "d" and after is None:
            raise MappingError(f"change event op {op} has no after row")
        if row is not None and not isinstance(row, Mapping):
            raise MappingError("change event row is not a record")
        if key is not None and not isinstance(key, Mapping):
            key = None  # a key that is no record: the record id then comes from the row
        ts_ms = envelope.get("ts_ms")
        return cls(
            agency=str(source["agency"]),
            table=str(source["table"]),
            op=op,
            before=before,
            after=after,
            key=key,
            position=str(source["position"]),
            source_ts=_millis(source.get("ts_ms")),
            ts=_millis(ts_ms) or _EPOCH,
        )

    @property
    def is_delete(self) -> bool:
        """True for a delete (op d)."""
        return self.op == "d"

    @property
    def row(self) -> Mapping[str, Any]:
        """The row the change is about: after, or before for a delete (possibly only its key)."""
        row = self.before if self.is_delete else self.after
        return row or {}

    @property
    def finding_ts(self) -> dt.datetime:
        """The time a finding about this change carries: the source's, else the connector's.
        (Not the wall clock: a replay must give the same findings.)"""
        return self.source_ts or self.ts

    def record_id(self, key_columns: Sequence[str] = ()) -> str:
        """The source record's primary key as text, composite parts joined with '|': from the
        key record, else from `key_columns` of the row; MappingError when neither has it."""
        parts: list[Any] = []
        if self.key:
            parts = list(self.key.values())
        elif key_columns:
            parts = [column(self.row, c) for c in key_columns]
        if not parts or any(p is None for p in parts):
            raise MappingError(f"table {self.table}: change event has no primary key")
        return "|".join(_id_text(p) for p in parts)


def _id_text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _millis(ms: Any) -> dt.datetime | None:
    if ms is None or isinstance(ms, bool):
        return None
    try:
        return _EPOCH + dt.timedelta(milliseconds=int(ms))
    except (TypeError, ValueError, OverflowError):
        return None
