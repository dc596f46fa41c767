"""Canonical events as the projection consumes them (decoded Avro: dates as date, timestamps as
aware UTC datetimes, enums as str), and messages around them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from domain.tokens import Tokens
from projections.facts import DEFAULT_TOPICS, Message

UTC = dt.UTC
T0 = dt.datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
NIK_A = "7413014507900001"  # a woman born 5 Jul 1990, Sawerigadi
NIK_B = "7413021203850002"


def ts(minutes: int) -> dt.datetime:
    """A source time, `minutes` after T0."""
    return T0 + dt.timedelta(minutes=minutes)


def pid(n: int) -> str:
    """A person id ('P' + 26 characters, as the resolver's ULIDs)."""
    return f"P{n:026d}"


P_A, P_B = pid(1), pid(2)


# The tests' own secret: a record id may be a NIK, and no key of one is an unkeyed hash.
TOKENS = Tokens(b"projection-tests-secret-0123456789")


def record_key(agency: str, table: str, record_id: str) -> str:
    """The keyed token of a source record, as normalize makes it (under the tests' secret)."""
    return TOKENS.record(agency, table, record_id)


def person(
    nik: str | None = NIK_A,
    *,
    agency: str = "disdukcapil",
    table: str = "BIODATA_WNI",
    record_id: str = "1",
    position: str = "p1",
    at: int = 0,
    op: str = "UPSERT",
    **fields: Any,
) -> dict[str, Any]:
    """A PersonFact keyed by its record_key; fields not given are null ("not stated")."""
    fact: dict[str, Any] = {
        "record_key": record_key(agency, table, record_id),
        "nik": nik,
        "nik_status": "VALID" if nik is not None and len(nik) == 16 else "MISSING",
        "agency": agency,
        "source_table": table,
        "source_record_id": record_id,
        "op": op,
        "name": None,
        "sex": None,
        "birth_date": None,
        "birth_place": None,
        "address": None,
        "kecamatan_code": None,
        "kelurahan_code": None,
        "religion": None,
        "marital_status": None,
        "occupation": None,
        "kk_number": None,
        "deceased": None,
        "death_date": None,
        "source_position": position,
        "source_ts": ts(at),
    }
    fact.update(fields)
    return fact


def decision(
    kind: str,
    person_id: str,
    record_id: str | None = None,
    *,
    other_record_id: str | None = None,
    other_person_ids: Iterable[str] = (),
    moved_record_ids: Iterable[str] = (),
    evidence: dict[str, Any] | None = None,
    reason: str = "",
    at: int = 0,
) -> dict[str, Any]:
    """An IdentityDecision as decoded from Avro."""
    return {
        "kind": kind,
        "person_id": person_id,
        "record_id": record_id,
        "record": None,
        "other_record_id": other_record_id,
        "other_person_ids": list(other_person_ids),
        "moved_record_ids": list(moved_record_ids),
        "evidence": evidence,
        "reason": reason,
        "ts": ts(at),
    }


def link(fact: dict[str, Any], person_id: str, *, kind: str = "LINK", at: int = 0) -> dict:
    """The decision placing a fact's record in `person_id` (NEW or LINK)."""
    return decision(kind, person_id, fact["record_key"], reason="score", at=at)


def evidence(weight: float = 4.5, probability: float = 0.8) -> dict[str, Any]:
    """Evidence of a compared pair: a few fields' levels and weights."""
    return {
        "comparisons": [
            {"field": "name", "level": "jw_092", "weight": 3.1},
            {"field": "birth_date", "level": "exact", "weight": 6.2},
            {"field": "nik", "level": "one_edit", "weight": -4.8},
        ],
        "weight": weight,
        "probability": probability,
    }


def _permit(permit_id: str, kind: str, position: str, at: int, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "permit_id": permit_id,
        "agency": permit_id.split(":", 1)[0],
        "kind": kind,
        "service_ref": None,
        "applicant_ref": None,
        "registration_no": None,
        "received_date": None,
        "file_complete_date": None,
        "finished_date": None,
        "outcome": None,
        "permit_number": None,
        "status": None,
        "status_time": None,
        "status_seq": None,
        "status_note": None,
        "source_position": position,
        "source_ts": ts(at),
    }
    event.update(fields)
    return event


def application(
    permit_id: str = "dpmptsp:1",
    *,
    position: str = "a1",
    at: int = 0,
    service_ref: str = "dpmptsp:1",
    applicant_ref: str | None = "dpmptsp:tmpemohon:1",
    outcome: str = "IN_PROCESS",
    **fields: Any,
) -> dict[str, Any]:
    """An APPLICATION PermitEvent."""
    return _permit(
        permit_id,
        "APPLICATION",
        position,
        at,
        service_ref=service_ref,
        applicant_ref=applicant_ref,
        outcome=outcome,
        registration_no=fields.pop("registration_no", f"REG/{permit_id.split(':')[-1]}"),
        **fields,
    )


def status(
    permit_id: str,
    seq: int,
    status_: str,
    day: dt.date,
    *,
    position: str | None = None,
    at: int = 0,
    hour: int = 9,
    note: str | None = None,
) -> dict[str, Any]:
    """A STATUS PermitEvent (one row of the status log)."""
    return _permit(
        permit_id,
        "STATUS",
        position or f"s{seq}",
        at,
        status=status_,
        status_time=dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
        status_seq=seq,
        status_note=note,
    )


def deleted(permit_id: str, *, position: str, at: int = 0, seq: int | None = None) -> dict:
    """A DELETED PermitEvent (of the whole permit, or of one log entry with `seq`)."""
    return _permit(permit_id, "DELETED", position, at, status_seq=seq)


def service(
    service_ref: str = "dpmptsp:1",
    *,
    code: str = "SIP_DOKTER",
    name: str = "Surat Izin Praktik Dokter",
    sla_days: int | None = 9,
    position: str = "v1",
    at: int = 0,
    active: bool = True,
) -> dict[str, Any]:
    """A ServiceEvent."""
    return {
        "service_ref": service_ref,
        "agency": service_ref.split(":", 1)[0],
        "code": code,
        "name": name,
        "sla_days": sla_days,
        "active": active,
        "source_position": position,
        "source_ts": ts(at),
    }


class Log:
    """Builds messages with increasing offsets per (topic, partition), like a consumer sees."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, int], int] = {}

    def _msg(self, topic: str, key: str, value: dict | None, partition: int) -> Message:
        offset = self.next.get((topic, partition), 0)
        self.next[(topic, partition)] = offset + 1
        return Message(topic, partition, offset, key, value)

    def person(self, fact: dict, partition: int = 0) -> Message:
        return self._msg(DEFAULT_TOPICS.person, fact["record_key"], fact, partition)

    def identity(self, decision: dict, partition: int = 0) -> Message:
        return self._msg(DEFAULT_TOPICS.identity, decision["person_id"], decision, partition)

    def linked(self, fact: dict, person_id: str, kind: str = "LINK") -> list[Message]:
        """A fact and the decision placing its record in `person_id`."""
        return [self.person(fact), self.identity(link(fact, person_id, kind=kind))]

    def permit(self, event: dict, partition: int = 0) -> Message:
        return self._msg(DEFAULT_TOPICS.permit, event["permit_id"], event, partition)

    def service(self, event: dict, partition: int = 0) -> Message:
        return self._msg(DEFAULT_TOPICS.service, event["service_ref"], event, partition)

    def tombstone(self, topic: str, key: str, partition: int = 0) -> Message:
        return self._msg(topic, key, None, partition)
