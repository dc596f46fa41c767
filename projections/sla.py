"""The SLA board a supervisor watches: open permits per service and per agency unit (OPD), each
on track, at risk or breached against its service standard as of a given day, and the open
permits themselves, oldest first.

States are derived again as of `today` (domain.permits.derive_permit over the stored application
and status log), not read from the permit rows: those are refreshed on a timer, and a board that
says "on track" on the morning a permit breaches would be wrong all day. An open permit whose
file is not complete yet (berkas belum lengkap) has no SLA clock: it counts as `waiting`. The
standard is the one its service states (as the compliance report measures it; an agency without
an SLA column takes the MPP's in its mapping); a service stating none: `no_standard`.

Who may open it (can_open): a supervisor, every agency; an agency administrator, their own
agency's permits only. Officers work one citizen or one application at a time (the counter
view, permit tracking) and auditors read the audit trail: neither gets the cross-agency list of
applicants' permits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.permits import IN_PROCESS, derive_permit
from domain.services import BY_CODE
from domain.workdays import SlaState

from .access import Caller
from .models import Permit, PermitTimeline, Service
from .rows import chunks

WAITING = "waiting"  # open, the file not complete yet: the SLA clock has not started
NO_STANDARD = "no_standard"  # neither the agency's service nor the MPP states its standard
STATES = (
    SlaState.ON_TRACK.value, SlaState.AT_RISK.value, SlaState.BREACHED.value, WAITING, NO_STANDARD
)  # fmt: skip
BOARD_ROLES = frozenset({"supervisor", "agency_admin"})
LIST_LIMIT = 500


@dataclass(frozen=True)
class OpenPermit:
    """One open permit as the board shows it (no name, no NIK: the applicant's person id)."""

    permit_id: str
    registration_no: str | None
    agency: str | None
    service_code: str | None
    service_name: str | None
    unit: str | None
    received_date: dt.date | None
    file_complete_date: dt.date | None
    working_days_used: int | None
    sla_days: int | None
    due_date: dt.date | None
    state: str
    status: str | None
    clock_stopped: bool
    applicant_person_id: str | None


def can_open(caller: Caller) -> bool:
    """Whether this caller's role may open the SLA board (module docstring)."""
    return caller.role.name in BOARD_ROLES


def open_permits(session: Session, today: dt.date, agency: str | None = None) -> list[OpenPermit]:
    """Every open permit (of `agency` only, when given) with its SLA state as of `today`,
    oldest first (_age_order)."""
    query = select(Permit).where(Permit.deleted.is_(False), Permit.outcome == IN_PROCESS)
    if agency is not None:
        query = query.where(func.lower(Permit.agency) == agency.strip().lower())
    permits = list(session.scalars(query))
    timelines = _timelines(session, [p.permit_id for p in permits])
    units = _units(session, {p.service_ref for p in permits} - {None})
    out = [_open_permit(p, timelines.get(p.permit_id, []), units, today) for p in permits]
    out.sort(key=_age_order)
    return out


def board(
    session: Session, caller: Caller, today: dt.date, limit: int = LIST_LIMIT
) -> dict[str, Any]:
    """The board for this caller as of `today`: totals, per service, per unit and the oldest
    `limit` open permits (an agency administrator: their agency only)."""
    agency = caller.agency if caller.role.agency_bound else None
    permits = open_permits(session, today, agency)
    return {
        "as_of": today,
        "agency": agency,
        "totals": _counts(permits),
        "services": _per_service(permits),
        "units": _per_unit(permits),
        "permits": [asdict(p) for p in permits[:limit]],
        "shown": min(limit, len(permits)),
        "open": len(permits),
    }


def applicants(view: dict[str, Any]) -> list[str]:
    """The person ids a board view shows (for the audit of the read)."""
    return sorted({p["applicant_person_id"] for p in view["permits"]} - {None})


# --- internals -------------------------------------------------------------------------------


def _timelines(session: Session, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for part in chunks(sorted(ids), 500):
        for t in session.scalars(select(PermitTimeline).where(PermitTimeline.permit_id.in_(part))):
            out.setdefault(t.permit_id, []).append(
                {"status": t.status, "status_time": t.status_time, "status_seq": t.status_seq}
            )
    return out


def _units(session: Session, refs: Iterable[str]) -> dict[str, str | None]:
    """service_ref -> the unit (OPD) its agency states, when it states one."""
    out: dict[str, str | None] = {}
    for part in chunks(sorted(refs), 500):
        for ref, unit in session.execute(
            select(Service.service_ref, Service.unit).where(Service.service_ref.in_(part))
        ):
            out[ref] = unit
    return out


def _open_permit(
    p: Permit, timeline: list[dict[str, Any]], units: dict[str, str | None], today: dt.date
) -> OpenPermit:
    standard = BY_CODE.get(p.service_code or "")
    view = derive_permit(p.application, timeline, p.sla_days, today)
    unit = units.get(p.service_ref or "") or (standard.unit if standard else None)
    return OpenPermit(
        permit_id=p.permit_id,
        registration_no=p.registration_no,
        agency=p.agency,
        service_code=p.service_code,
        service_name=p.service_name,
        unit=unit,
        received_date=view.received_date,
        file_complete_date=view.file_complete_date,
        working_days_used=view.working_days_used,
        sla_days=view.sla_days,
        due_date=view.due_date,
        state=_state(view.sla_state, view.file_complete_date, p.sla_days),
        status=view.status,
        clock_stopped=view.clock_stopped,
        applicant_person_id=p.applicant_person_id,
    )


def _state(state: SlaState | None, file_complete: dt.date | None, sla_days: int | None) -> str:
    if state is not None:
        return state.value
    return NO_STANDARD if file_complete is not None and sla_days is None else WAITING


def _age_order(p: OpenPermit) -> tuple[dt.date, str]:
    """Oldest first: by the first day the permit is known from (received, else file complete;
    neither known: last), then by id."""
    return (p.received_date or p.file_complete_date or dt.date.max, p.permit_id)


def _counts(permits: Iterable[OpenPermit]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for p in permits:
        counts[p.state] += 1
    counts["open"] = sum(counts.values())
    return counts


def _per_service(permits: list[OpenPermit]) -> list[dict[str, Any]]:
    groups: dict[str, list[OpenPermit]] = {}
    for p in permits:
        groups.setdefault(p.service_code or "unknown", []).append(p)
    out = []
    for code in sorted(groups):
        first = groups[code][0]
        out.append(
            {
                "service_code": code,
                "service_name": first.service_name,
                "unit": first.unit,
                "sla_days": first.sla_days,
                **_counts(groups[code]),
            }
        )
    return out


def _per_unit(permits: list[OpenPermit]) -> list[dict[str, Any]]:
    groups: dict[str | None, list[OpenPermit]] = {}
    for p in permits:
        groups.setdefault(p.unit, []).append(p)
    return [
        {
            "unit": unit,
            "services": sorted({p.service_code or "unknown" for p in groups[unit]}),
            **_counts(groups[unit]),
        }
        for unit in sorted(groups, key=lambda u: (u is None, u or ""))
    ]
