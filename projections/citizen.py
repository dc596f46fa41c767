"""Citizen projection: person facts -> what each agency holds (citizen_source_record) -> the
golden record (citizen) of each person, with per-field provenance.

A record's person comes only from identity decisions (record_person, see identity.py): a record
no decision placed yet belongs to no citizen. Rules: a fact's null field is "not stated" and
keeps what the record said before; a repeated source position or an older source time changes
nothing; the civil registry wins for identity fields (its most recent record first), other
agencies only fill fields it leaves empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .facts import (
    CIVIL_REGISTRY,
    DATE_FIELDS,
    FACT_FIELDS,
    IDENTITY_FIELDS,
    as_date,
    is_delete,
    is_stale,
    source_ref,
    to_json,
    utc_naive,
)
from .models import Citizen, CitizenSourceRecord, RecordPerson
from .rows import changed, delete_keys, rows_where_in, write_rows

_EPOCH = dt.datetime(1970, 1, 1)
VALID = "VALID"


@dataclass
class PersonChanges:
    """What a batch touched: golden records to recompute, applicant records to resolve again."""

    person_ids: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)

    def update(self, other: PersonChanges) -> None:
        """Add what `other` touched."""
        self.person_ids |= other.person_ids
        self.refs |= other.refs


def apply_person_facts(session: Session, facts: list[Mapping[str, Any]]) -> PersonChanges:
    """Merge PersonFacts (in log order) into citizen_source_record, each record under the person
    record_person gives it (or none yet); one SELECT and at most one INSERT/UPDATE per table.
    The golden records touched are recomputed by the caller (recompute_citizens)."""
    changes = PersonChanges()
    if not facts:
        return changes
    refs = [source_ref(f["agency"], f["source_table"], str(f["source_record_id"])) for f in facts]
    existing = {
        r["ref"]: r
        for r in rows_where_in(
            session, CitizenSourceRecord, CitizenSourceRecord.ref, refs, lock=True
        )
    }
    keys = {f.get("record_key") for f in facts} | {r["record_key"] for r in existing.values()}
    links = {
        r["record_key"]: r["person_id"]
        for r in rows_where_in(session, RecordPerson, RecordPerson.record_key, keys - {None, ""})
    }
    state: dict[str, dict[str, Any]] = {k: dict(v) for k, v in existing.items()}
    for ref, fact in zip(refs, facts, strict=True):
        row = state.get(ref)
        new = merge_fact(row, fact, ref)
        if new is None:
            continue
        new["person_id"] = links.get(new["record_key"]) if new["record_key"] else None
        state[ref] = new
        changes.refs.add(ref)
        changes.person_ids.add(new["person_id"])
        if row is not None:
            changes.person_ids.add(row["person_id"])
    changes.person_ids.discard(None)  # type: ignore[arg-type]
    inserts = [state[r] for r in sorted(changes.refs) if r not in existing]
    updates = [
        state[r] for r in sorted(changes.refs) if r in existing and changed(existing[r], state[r])
    ]
    write_rows(session, CitizenSourceRecord, inserts, updates)
    return changes


def merge_fact(
    row: Mapping[str, Any] | None, fact: Mapping[str, Any], ref: str
) -> dict[str, Any] | None:
    """The source record after `fact` (its person_id left as it was), or None when the fact
    changes nothing (a repeat of the position the row reflects, or a change older than it)."""
    position = str(fact["source_position"])
    ts = utc_naive(fact.get("source_ts"))
    if row is not None and (row["source_position"] == position or is_stale(ts, row["source_ts"])):
        return None
    fresh = row is None or row["deleted"]  # a record created again starts from nothing
    base: dict[str, Any] = {} if fresh else dict(row["data"])  # type: ignore[index]
    out = {
        "agency": fact["agency"],
        "source_table": fact["source_table"],
        "source_record_id": str(fact["source_record_id"]),
        "ref": ref,
        # A fact from before identity resolution states no record_key ("").
        "record_key": fact.get("record_key") or (row or {}).get("record_key") or None,
        "person_id": (row or {}).get("person_id"),
        "source_position": position,
        "source_ts": ts,
    }
    if is_delete(fact.get("op")):
        out.update(
            nik_status=None if row is None else row["nik_status"],
            data={} if row is None else row["data"],
            deceased=False if row is None else row["deceased"],
            deleted=True,
        )
        return out
    for name in (*FACT_FIELDS, "deceased"):
        value = fact.get(name)
        if value is not None:
            base[name] = to_json(value)
    status = fact.get("nik_status")
    # A partial fact (no NIK stated) also carries a status, MISSING: it says nothing new.
    if fact.get("nik") is None and not fresh and row["nik_status"] is not None:  # type: ignore[index]
        status = row["nik_status"]  # type: ignore[index]
    out.update(
        nik_status=status,
        data=base,
        deceased=base.get("deceased") is True,
        deleted=False,
    )
    return out


def recompute_citizens(session: Session, person_ids: Iterable[str]) -> None:
    """Rebuild the golden records of `person_ids` from their source records (a person left
    without a live record has none)."""
    keys = sorted(set(person_ids))
    if not keys:
        return
    current = {
        r["person_id"]: r
        for r in rows_where_in(session, Citizen, Citizen.person_id, keys, lock=True)
    }
    records: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    for r in rows_where_in(session, CitizenSourceRecord, CitizenSourceRecord.person_id, keys):
        records[r["person_id"]].append(r)
    inserts, updates, gone = [], [], []
    for key in keys:
        record = golden_record(key, records[key])
        if record is None:
            if key in current:
                gone.append(key)
        elif key not in current:
            inserts.append(record)
        elif changed(current[key], record):
            updates.append(record)
    write_rows(session, Citizen, inserts, updates)
    if gone:
        delete_keys(session, Citizen, (Citizen.person_id,), [(k,) for k in gone])


def _recency(r: Mapping[str, Any]) -> tuple:
    ts = r["source_ts"]
    age = -(ts - _EPOCH).total_seconds() if ts is not None else 0.0
    return (ts is None, age, r["agency"], r["source_table"], r["source_record_id"])


def _order(r: Mapping[str, Any]) -> tuple:
    # The civil registry first; within a rank the fuller record (a move's partial fact fills
    # gaps, it does not outrank the biodata SIAK updates along with it), then the newer one.
    stated = sum(1 for v in r["data"].values() if v is not None)
    return (str(r["agency"]).lower() != CIVIL_REGISTRY, -stated, *_recency(r))


def golden_record(person_id: str, records: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The citizen row of a person from their source records; None when none is left.

    Each field comes from the first record that states it, in this order: civil registry
    first, then fuller records, then newer ones. Deceased follows the same rule, so a living
    resident of the registry is not made dead by another agency's record."""
    live = [r for r in records if not r["deleted"]]
    if not live:
        return None
    if len(live) == 1:  # most people: nothing to rank (a rebuild of 1M people, once each)
        by_nik = live
    else:
        # Each record's rank computed once (it was three times per record, in three sorts).
        ranked = sorted(((_order(r), r) for r in live), key=lambda o: o[0])
        live = [r for _, r in ranked]
        # A well-formed NIK beats a malformed one within the same rank of source.
        by_nik = [
            r
            for _, r in sorted(
                ranked, key=lambda o: (o[0][0], o[1]["nik_status"] != VALID, *o[0][1:])
            )
        ]
    out: dict[str, Any] = {"person_id": person_id}
    taken: dict[str, Mapping[str, Any]] = {}  # field -> the record it came from

    def take(name: str, candidates: list[Mapping[str, Any]]) -> None:
        for r in candidates:
            value = r["data"].get(name)
            if value is not None:
                out[name] = as_date(value) if name in DATE_FIELDS else value
                taken[name] = r
                return
        out[name] = None

    take("nik", by_nik)
    nik_record = taken.get("nik")
    out["nik_status"] = None if nik_record is None else nik_record["nik_status"]
    for name in IDENTITY_FIELDS[1:]:
        take(name, live)
    take("deceased", live)
    out["deceased"] = out["deceased"] is True
    if out["deceased"]:
        take("death_date", [r for r in live if r["data"].get("deceased") is not False])
    else:
        out["death_date"] = None
    newest = live[0] if len(live) == 1 else min(live, key=_recency)
    sources: dict[int, dict[str, Any]] = {}  # id(record) -> its provenance, made once
    out["provenance"] = {
        name: sources.get(id(r)) or sources.setdefault(id(r), _source(r))
        for name, r in taken.items()
    }
    out["source_count"] = len(live)
    out["source_position"] = newest["source_position"]
    out["source_ts"] = newest["source_ts"]
    return out


def _source(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "agency": r["agency"],
        "table": r["source_table"],
        "record_id": r["source_record_id"],
        "position": r["source_position"],
    }
