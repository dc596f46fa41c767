"""The identity resolver's records as they travel: a person fact (as decoded from
mpp.canonical.person) turned into the resolver's PersonRecord, and a Decision to and from its
IdentityDecision Avro record (schemas/avro/identity_decision.avsc). Pure: no Kafka, no registry."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from domain.matching.decisions import Decision, DecisionKind, Evidence, FieldComparison
from domain.matching.record import PersonRecord
from domain.tokens import Tokens

# PersonRecord fields an IdentityDecision's ResolvedRecord carries (all but record_id).
RESOLVED_FIELDS = tuple(f.name for f in dataclasses.fields(PersonRecord) if f.name != "record_id")
# PersonFact field -> PersonRecord field, where the names differ.
_FACT_FIELDS = {"kelurahan": "kelurahan_code", "kecamatan": "kecamatan_code", "source": "agency"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class UnusableFact(ValueError):
    """A person fact the resolver cannot take (no way to name its record, an unknown op)."""


def record_key(fact: Mapping[str, Any], tokens: Tokens) -> str:
    """The fact's record_key; for a fact written before it existed (''), the same token made
    from its agency, source_table and source_record_id."""
    key = fact.get("record_key")
    if isinstance(key, str) and key:
        return key
    parts = [fact.get(n) for n in ("agency", "source_table", "source_record_id")]
    if not all(isinstance(p, str) and p for p in parts):
        raise UnusableFact("person fact has neither a record_key nor its source record's names")
    return tokens.record(*parts)  # type: ignore[arg-type]


def person_record(fact: Mapping[str, Any], tokens: Tokens) -> PersonRecord:
    """The PersonRecord of a decoded PersonFact (record_id = its record_key). Values are taken
    as they are: the resolver cleans wrong types and control characters itself."""
    values = {
        name: fact.get(_FACT_FIELDS.get(name, name))
        for name in RESOLVED_FIELDS
        if _FACT_FIELDS.get(name, name) in fact
    }
    return PersonRecord(record_id=record_key(fact, tokens), **values)


def source_ms(fact: Mapping[str, Any]) -> int | None:
    """The fact's source time in epoch milliseconds (it dates a new person's id), or None."""
    ts = fact.get("source_ts")
    if isinstance(ts, dt.datetime):
        aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)
        return (aware - _EPOCH) // dt.timedelta(milliseconds=1)
    if isinstance(ts, int) and not isinstance(ts, bool):
        return ts
    return None


def kafka_ms(timestamp_s: float | None) -> int | None:
    """A consumed record's Kafka timestamp (Faust gives seconds, a float made from the stored
    milliseconds) back in epoch milliseconds; None when the record has none (-1 or absent)."""
    if not isinstance(timestamp_s, int | float) or timestamp_s < 0:
        return None
    return round(timestamp_s * 1000)


def founding_ms(fact: Mapping[str, Any], kafka_ts_ms: int | None) -> int | None:
    """What dates a person a fact founds: its source time, else (a snapshot row carries none)
    the Kafka timestamp of the fact's own record. Both are stored with the fact, so a worker
    that decides it again after a crash mints the same id; the wall clock at decision time
    would not."""
    ms = source_ms(fact)
    if ms is not None:
        return ms
    return kafka_ts_ms if kafka_ts_ms is not None and kafka_ts_ms >= 0 else None


def decision_record(decision: Decision, ts_ms: int) -> dict[str, Any]:
    """The IdentityDecision record of a decision made at `ts_ms`."""
    d = decision
    return {
        "kind": d.kind.value,
        "person_id": d.person_id,
        "record_id": d.record_id,
        "record": (
            {name: getattr(d.record, name) for name in RESOLVED_FIELDS}
            if d.record is not None
            else None
        ),
        "other_record_id": d.other_record_id,
        "other_person_ids": list(d.other_person_ids),
        "moved_record_ids": list(d.moved_record_ids),
        "evidence": (
            {
                "comparisons": [
                    {"field": c.field, "level": c.level, "weight": c.weight}
                    for c in d.evidence.comparisons
                ],
                "weight": d.evidence.weight,
                "probability": d.evidence.probability,
            }
            if d.evidence is not None
            else None
        ),
        "reason": d.reason,
        "ts": _EPOCH + dt.timedelta(milliseconds=ts_ms),
    }


def decision_of(record: Mapping[str, Any]) -> Decision:
    """The Decision of a decoded IdentityDecision; ValueError for a kind this code does not
    know (a reader default UNKNOWN) or a record without its record id."""
    kind = DecisionKind(record["kind"])  # ValueError for UNKNOWN
    fields = record.get("record")
    resolved = None
    if fields is not None:
        if not record.get("record_id"):
            raise ValueError(f"{kind} decision carries a record but no record_id")
        resolved = PersonRecord(
            record_id=record["record_id"], **{n: fields.get(n) for n in RESOLVED_FIELDS}
        )
    ev = record.get("evidence")
    evidence = None
    if ev is not None:
        evidence = Evidence(
            comparisons=tuple(
                FieldComparison(c["field"], c["level"], c["weight"]) for c in ev["comparisons"]
            ),
            weight=ev["weight"],
            probability=ev["probability"],
        )
    return Decision(
        kind=kind,
        person_id=record["person_id"],
        record_id=record.get("record_id"),
        record=resolved,
        other_record_id=record.get("other_record_id"),
        other_person_ids=tuple(record.get("other_person_ids") or ()),
        moved_record_ids=tuple(record.get("moved_record_ids") or ()),
        evidence=evidence,
        reason=record.get("reason") or "",
    )
