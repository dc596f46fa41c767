"""Read queries over the projections, shaped for the front office and masked per caller; the
HTTP layer (projections/api/) only maps them to routes."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.compliance import ombudsman_zone
from domain.nik import mask_nik
from domain.permits import FINAL_STATUSES

from . import linkage
from .access import Caller, mask_data, mask_id, mask_provenance, mask_text
from .facts import IDENTITY_FIELDS
from .models import Citizen, CitizenSourceRecord, Permit, PermitTimeline, PersonAlias

DECISIONS = frozenset({"ISSUED", "REJECTED"})
SEARCH_LIMIT = 50
MIN_SEARCH = 3

# The identity fields shown as they are; nik and kk_number are shown masked for most roles.
_IDENTITY = tuple(f for f in IDENTITY_FIELDS if f not in ("nik", "kk_number"))


@dataclass(frozen=True)
class Found:
    """A citizen found by a key, and the alias the key was (None: the key was not one)."""

    citizen: Citizen
    alias: str | None = None


def find_citizen(session: Session, person_id: str) -> Found | None:
    """The citizen with this person id, or alias of a merged person id (answered with the
    person it was merged into). Never by NIK: that is find_by_nik, asked by POST."""
    found = session.get(Citizen, person_id)
    if found is not None:
        return Found(found)
    alias = session.get(PersonAlias, person_id)
    if alias is not None:
        survivor = session.get(Citizen, alias.person_id)
        return Found(survivor, alias=person_id) if survivor is not None else None
    return None


def find_by_nik(session: Session, nik: str) -> Found | None:
    """The citizen holding this NIK (a well-formed one first, when persons share it)."""
    by_nik = session.scalars(
        select(Citizen)
        .where(Citizen.nik == nik)
        .order_by((Citizen.nik_status == "VALID").desc(), Citizen.person_id)
    ).first()
    return Found(by_nik) if by_nik is not None else None


def find_by_kk(session: Session, kk_number: str) -> list[Citizen]:
    """The citizens of one family card (KK number), at most SEARCH_LIMIT, by name."""
    return list(
        session.scalars(
            select(Citizen)
            .where(Citizen.kk_number == kk_number)
            .order_by(Citizen.name, Citizen.person_id)
            .limit(SEARCH_LIMIT)
        )
    )


def citizen_view(session: Session, found: Found, caller: Caller) -> dict[str, Any]:
    """The golden record with its source records (each with its match confidence) and permits,
    the fields on which the records disagree, masked for the caller; `alias` names the merged id
    the caller asked for."""
    citizen = found.citizen
    out: dict[str, Any] = {
        "person_id": citizen.person_id,
        "alias": found.alias,
        "nik": mask_id(citizen.nik, caller),
        "nik_status": citizen.nik_status,
        "kk_number": mask_id(citizen.kk_number, caller),
        "masked": not caller.full,
    }
    for name in _IDENTITY:
        out[name] = getattr(citizen, name)
    out["deceased"] = citizen.deceased
    out["death_date"] = citizen.death_date
    out["provenance"] = mask_provenance(citizen.provenance, caller)
    records = list(
        session.scalars(
            select(CitizenSourceRecord)
            .where(CitizenSourceRecord.person_id == citizen.person_id)
            .order_by(
                CitizenSourceRecord.agency,
                CitizenSourceRecord.source_table,
                CitizenSourceRecord.source_record_id,
            )
        )
    )
    confidence = linkage.confidences(records)
    out["sources"] = [
        {
            "record_id": r.record_key,
            "agency": r.agency,
            "source_table": r.source_table,
            "source_record_id": mask_text(r.source_record_id, caller),
            "nik_status": r.nik_status,
            "data": mask_data(r.data or {}, caller),
            "deceased": r.deceased,
            "deleted": r.deleted,
            "source_position": mask_text(r.source_position, caller),
            "source_ts": r.source_ts,
            "match_confidence": confidence.get(r.ref),
        }
        for r in records
    ]
    out["disagreements"] = linkage.disagreements(records, caller)
    permits = session.scalars(
        select(Permit)
        .where(Permit.applicant_person_id == citizen.person_id, Permit.deleted.is_(False))
        .order_by(Permit.received_date.desc(), Permit.permit_id)
    )
    out["permits"] = [permit_summary(p) for p in permits]
    return out


def permit_summary(p: Permit) -> dict[str, Any]:
    """What the front office shows of a permit in a list."""
    return {
        "permit_id": p.permit_id,
        "agency": p.agency,
        "service_code": p.service_code,
        "service_name": p.service_name,
        "registration_no": p.registration_no,
        "status": p.status,
        "outcome": p.outcome,
        "received_date": p.received_date,
        "file_complete_date": p.file_complete_date,
        "finished_date": p.finished_date,
        "working_days_used": p.working_days_used,
        "sla_days": p.sla_days,
        "sla_state": p.sla_state,
        "due_date": p.due_date,
        "clock_stopped": p.clock_stopped,
        "permit_number": p.permit_number,
    }


def search_citizens(session: Session, name: str) -> list[Citizen]:
    """Citizens whose name contains `name` (case-insensitive), at most SEARCH_LIMIT; ValueError
    for a name too short to search by."""
    needle = name.strip().lower()
    if len(needle) < MIN_SEARCH:
        raise ValueError(f"search needs at least {MIN_SEARCH} characters of a name")
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(
        session.scalars(
            select(Citizen)
            .where(func.lower(Citizen.name).like(pattern, escape="\\"))
            .order_by(Citizen.name, Citizen.person_id)
            .limit(SEARCH_LIMIT)
        )
    )


def search_view(found: list[Citizen]) -> list[dict[str, Any]]:
    """What a search result shows of each citizen: masked for every role (open one by id)."""
    return [
        {
            "person_id": c.person_id,
            "nik": mask_nik(c.nik) if c.nik else None,
            "name": c.name,
            "birth_date": c.birth_date,
            "birth_place": c.birth_place,
            "kecamatan_code": c.kecamatan_code,
            "deceased": c.deceased,
        }
        for c in found
    ]


def find_permits(session: Session, number: str) -> list[Permit]:
    """The permits an application number names (the agency's registration number, or the hub's
    permit id), newest first; deleted ones left out."""
    number = number.strip()
    return list(
        session.scalars(
            select(Permit)
            .where(
                (Permit.registration_no == number) | (Permit.permit_id == number),
                Permit.deleted.is_(False),
            )
            .order_by(Permit.received_date.desc(), Permit.permit_id)
            .limit(SEARCH_LIMIT)
        )
    )


def permit_view(session: Session, permit: Permit, caller: Caller) -> dict[str, Any]:
    """A permit with its timeline and applicant link, masked for the caller."""
    out = permit_summary(permit)
    applicant = (
        session.get(Citizen, permit.applicant_person_id) if permit.applicant_person_id else None
    )
    out.update(
        service_ref=permit.service_ref,
        applicant_ref=mask_text(permit.applicant_ref, caller),
        applicant_person_id=permit.applicant_person_id,
        applicant=(
            {
                "person_id": applicant.person_id,
                "name": applicant.name,
                "nik": mask_id(applicant.nik, caller),
            }
            if applicant
            else None
        ),
        findings=permit.findings,
        deleted=permit.deleted,
        source_position=permit.source_position,
        updated_at=permit.updated_at,
    )
    out["timeline"] = [
        {
            "status_seq": t.status_seq,
            "status": t.status,
            "status_time": t.status_time,
            "note": t.note,
        }
        for t in session.scalars(
            select(PermitTimeline)
            .where(PermitTimeline.permit_id == permit.permit_id)
            .order_by(PermitTimeline.status_time, PermitTimeline.status_seq)
        )
    ]
    return out


def percentile(values: list[int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def turnaround(session: Session) -> list[dict[str, Any]]:
    """Per service: counts, median/p90 working days of decided (issued or rejected) permits,
    the share decided within the SLA and its Ombudsman zone."""
    rows = session.execute(
        select(
            Permit.service_code,
            Permit.service_name,
            Permit.sla_days,
            Permit.outcome,
            Permit.working_days_used,
            Permit.sla_state,
        ).where(Permit.deleted.is_(False))
    )
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    names: dict[str, tuple[Any, Any]] = {}
    for r in rows:
        code = r.service_code or "unknown"
        groups[code].append(r._mapping)
        if r.service_name is not None:
            names[code] = (r.service_name, r.sla_days)
    out = []
    for code in sorted(groups):
        items = groups[code]
        closed = [i for i in items if i["outcome"] in FINAL_STATUSES]
        # Decisions of the agency count against its standard; a withdrawal does not.
        decided = [i for i in closed if i["outcome"] in DECISIONS]
        days = [i["working_days_used"] for i in decided if i["working_days_used"] is not None]
        judged = [i for i in decided if i["sla_state"] is not None]
        within = sum(1 for i in judged if i["sla_state"] != "breached")
        share = 100.0 * within / len(judged) if judged else None
        zone = ombudsman_zone(share) if share is not None else None
        open_items = [i for i in items if i["outcome"] not in FINAL_STATUSES]
        name, sla = names.get(code, (None, None))
        out.append(
            {
                "service_code": code,
                "service_name": name,
                "sla_days": sla,
                "count": len(items),
                "open": len(open_items),
                "issued": sum(1 for i in decided if i["outcome"] == "ISSUED"),
                "rejected": sum(1 for i in decided if i["outcome"] == "REJECTED"),
                "cancelled": sum(1 for i in closed if i["outcome"] == "CANCELLED"),
                "median_working_days": statistics.median(days) if days else None,
                "p90_working_days": percentile(days, 0.9),
                "within_sla_pct": round(share, 2) if share is not None else None,
                "ombudsman_grade": zone.grade if zone else None,
                "ombudsman_zone": zone.color if zone else None,
                "open_by_sla_state": {
                    s: sum(1 for i in open_items if i["sla_state"] == s)
                    for s in ("on_track", "at_risk", "breached")
                },
            }
        )
    return out
