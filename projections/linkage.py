"""What the counter sees of how a person's agency records hang together: how confidently each
record matches the person's other records (the resolver's own match model), and the identity
fields on which the agencies' records disagree, each value with the records that state it.

Computed from the raw source records (a NIK differing in its last digits is a disagreement even
when both are shown masked); the values come out masked for the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from domain.matching.model import MatchModel
from domain.matching.record import PersonRecord

from .access import Caller, mask_id
from .facts import IDENTITY_FIELDS
from .models import CitizenSourceRecord

# Identity fields compared across agencies: the golden record's (facts.IDENTITY_FIELDS), the
# two identity numbers first, as the page lists them.
_NUMBERS = ("nik", "kk_number")
COMPARED = (*_NUMBERS, *(f for f in IDENTITY_FIELDS if f not in _NUMBERS))
# PersonRecord field -> the source record's data field, where the names differ.
_RECORD_FIELDS = {"kelurahan": "kelurahan_code", "kecamatan": "kecamatan_code"}


@lru_cache(maxsize=1)
def _model() -> MatchModel:
    return MatchModel.load()


def _record(r: CitizenSourceRecord) -> PersonRecord:
    data = r.data or {}
    values = {
        name: data.get(_RECORD_FIELDS.get(name, name))
        for name in ("name", "birth_date", "sex", "birth_place", "address", "kelurahan")
        + ("kecamatan", "nik", "kk_number")
    }
    return PersonRecord(record_id=r.ref, source=r.agency, **values)


def confidences(records: Sequence[CitizenSourceRecord]) -> dict[str, float | None]:
    """record ref -> the best probability (0..1) of one person against the person's other live
    records, as the resolver scores a pair; None for a person's only record."""
    live = [r for r in records if not r.deleted]
    prepared = {r.ref: _model().prepare(_record(r)) for r in live}
    out: dict[str, float | None] = {}
    for r in live:
        others = [p for ref, p in prepared.items() if ref != r.ref]
        out[r.ref] = (
            max(_model().compare(prepared[r.ref], o).probability for o in others)
            if others
            else None
        )
    return out


def _same(value: Any) -> str:
    return " ".join(str(value).split()).upper()


def disagreements(records: Sequence[CitizenSourceRecord], caller: Caller) -> list[dict[str, Any]]:
    """[{field, values: [{value, sources: [{agency, table}]}]}] for each compared field on which
    the live records state more than one value (blanks and case do not count); masked values."""
    live = [r for r in records if not r.deleted]
    out = []
    for name in COMPARED:
        seen: dict[str, dict[str, Any]] = {}
        for r in live:
            value = (r.data or {}).get(name)
            if value is None or str(value).strip() == "":
                continue
            entry = seen.setdefault(_same(value), {"value": _shown(name, value, caller)})
            entry.setdefault("sources", []).append({"agency": r.agency, "table": r.source_table})
        if len(seen) > 1:
            out.append({"field": name, "values": list(seen.values())})
    return out


def _shown(name: str, value: Any, caller: Caller) -> Any:
    return mask_id(str(value), caller) if name in ("nik", "kk_number") else value
