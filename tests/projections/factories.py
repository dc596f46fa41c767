"""Canonical events as the projection consumes them (decoded Avro: dates as date, timestamps as
aware UTC datetimes, enums as str), and messages around them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from projections.facts import DEFAULT_TOPICS, Message

UTC = dt.UTC
T0 = dt.datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
NIK_A = "7413014507900001"  # a woman born 5 Jul 1990, Sawerigadi
NIK_B = "7413021203850002"


def ts(minutes: int) -> dt.datetime:
    """A source time, `minutes` after T0."""
    return T0 + dt.timedelta(minutes=minutes)


def person(
    person_key: str = NIK_A,
    *,
    agency: str = "disdukcapil",
    table: str = "BIODATA_WNI",
    record_id: str = "1",
    position: str = "p1",
    at: int = 0,
    op: str = "UPSERT",
    **fields: Any,
) -> dict[str, Any]:
    """A PersonFact; fields not given are null ("not stated")."""
    fact: dict[str, Any] = {
        "person_key": person_key,
        "nik": person_key if len(person_key) == 16 else None,
        "nik_status": "VALID" if len(person_key) == 16 else "MISSING",
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
        return self._msg(DEFAULT_TOPICS.person, fact["person_key"], fact, partition)

    def permit(self, event: dict, partition: int = 0) -> Message:
        return self._msg(DEFAULT_TOPICS.permit, event["permit_id"], event, partition)

    def service(self, event: dict, partition: int = 0) -> Message:
        return self._msg(DEFAULT_TOPICS.service, event["service_ref"], event, partition)

    def tombstone(self, topic: str, key: str, partition: int = 0) -> Message:
        return self._msg(topic, key, None, partition)
