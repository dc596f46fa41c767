"""Garbage in, a comparable record out: the resolver's guard that no field value can make
scoring raise. Wrong types become text or None, control characters become spaces, and a
field is cut at MAX_FIELD characters; nothing else changes (normalising names is the model's)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import re

from .record import PersonRecord

MAX_FIELD = 200
_TEXT_FIELDS = tuple(
    f.name for f in dataclasses.fields(PersonRecord) if f.name not in ("record_id", "birth_date")
)
# C0/C1 controls, DEL and lone surrogates (which cannot even be encoded as UTF-8).
_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _text(value: object) -> str | None:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", "replace")
    else:
        return None
    text = _BAD.sub(" ", text[: MAX_FIELD * 2]).strip()[:MAX_FIELD]
    return text or None


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


_text_values = operator.attrgetter(*_TEXT_FIELDS)


def _all_clean(values: tuple[object, ...]) -> bool:
    """Whether every value is None or a stripped text of 1..MAX_FIELD characters without a
    bad one: one search over all the texts (the pattern matches single characters, so joining
    texts neither hides nor makes a match)."""
    texts = [v for v in values if v is not None]
    for v in texts:
        if type(v) is not str or not 0 < len(v) <= MAX_FIELD or v != v.strip():
            return False
    return not _BAD.search("".join(texts))  # type: ignore[arg-type]


def clean_record(record: PersonRecord) -> PersonRecord:
    """The record with every field of the right type and free of control characters (the same
    object when it already was)."""
    bd = record.birth_date
    if (
        type(record.record_id) is str
        and (bd is None or type(bd) is dt.date)
        and _all_clean(_text_values(record))
    ):
        return record
    rid = record.record_id
    changes: dict[str, object] = {name: _text(getattr(record, name)) for name in _TEXT_FIELDS}
    return dataclasses.replace(
        record,
        record_id=rid if isinstance(rid, str) else str(rid),
        birth_date=_date(bd),
        **changes,  # type: ignore[arg-type]
    )


def has_nothing_to_compare(record: PersonRecord) -> bool:
    """No name with a letter in it, no birth date and no NIK with a digit: nothing to link on."""
    name, nik = record.name, record.nik
    return (
        record.birth_date is None
        and not (name and any(c.isalpha() for c in name))
        and not (nik and any(c.isdigit() for c in nik))
    )
