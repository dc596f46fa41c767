"""GET /agencies/{agency}/findings (+ .xlsx): an agency's open data-quality findings by rule and
table, and their trend per day or week (projections/findings_report.py).

Who: a supervisor, any agency; an agency administrator, their own agency only: another agency's
findings answer 403 (agency codes are no secret, so a refusal that says so is clearer than a 404;
an unknown agency is a 404 only for those who may see every agency). Officers and auditors are
refused: fixing an agency's data is not their work. Findings hold no personal data (a NIK key
is masked, details never quote a value), so no purpose is asked and nothing is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access import AccessDenied, Caller
from ..findings_report import (
    Period,
    agencies_with_findings,
    as_json,
    counts,
    findings_xlsx,
    open_findings,
    trend,
)
from ..models import CitizenSourceRecord
from ..store import local_today
from .dependencies import Authenticated, ReadSession
from .errors import ITEM

router = APIRouter(responses=ITEM)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OWN_AGENCY_ONLY = "an agency administrator sees only their own agency's findings"


def may_read_findings(caller: Caller, agency: str) -> str:
    """The agency code (lower-cased) when `caller` may read its findings; AccessDenied (403)
    otherwise."""
    code = agency.strip().lower()
    if caller.role.agency_bound:
        if not caller.may_see_agency(code):
            raise AccessDenied(OWN_AGENCY_ONLY)
        return code
    if caller.role.name != "supervisor":
        raise AccessDenied("data-quality findings are for supervisors and agency administrators")
    return code


def known_agency(session: Session, caller: Caller, agency: str) -> None:
    """404 for an agency the hub has neither findings nor records of (an agency administrator's
    own agency is always known: its page may simply be empty)."""
    if caller.role.agency_bound or agency in agencies_with_findings(session):
        return
    held = session.scalar(
        select(CitizenSourceRecord.agency).where(CitizenSourceRecord.agency == agency).limit(1)
    )
    if held is None:
        raise HTTPException(404, f"no agency {agency}")


def findings_view(
    session: Session, agency: str, rule: str | None, table: str | None, period: Period
) -> dict[str, Any]:
    """What the API and the page show of one agency."""
    rows = open_findings(session, agency, rule=rule, table=table)
    return {
        "agency": agency,
        "open": len(rows),
        "counts": counts(session, agency),
        "findings": [as_json(r) for r in rows],
        "trend": {"period": period, "points": [as_json(p) for p in trend(session, agency, period,
                                                                             local_today())]},
    }  # fmt: skip


Rule = Annotated[str | None, Query(max_length=64, description="Only this rule code")]
Table = Annotated[str | None, Query(max_length=128, description="Only this source table")]
PeriodQuery = Annotated[Period, Query(description="Trend per day or per week")]


@router.get("/agencies/{agency}/findings")
def agency_findings(
    agency: str,
    s: ReadSession,
    who: Authenticated,
    rule: Rule = None,
    table: Table = None,
    period: PeriodQuery = "day",
) -> dict[str, Any]:
    """An agency's open findings (oldest first), counts by rule and table, and the trend."""
    code = may_read_findings(who, agency)
    known_agency(s, who, code)
    return findings_view(s, code, rule, table, period)


@router.get(
    "/agencies/{agency}/findings.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The findings sheet"}},
)
def agency_findings_xlsx(
    agency: str, s: ReadSession, who: Authenticated, rule: Rule = None, table: Table = None
) -> Response:
    """The open findings as an XLSX sheet for the agency's IT team."""
    code = may_read_findings(who, agency)
    known_agency(s, who, code)
    body = findings_xlsx(code, open_findings(s, code, rule=rule, table=table))
    name = f"temuan-{code}-{local_today().isoformat()}.xlsx"
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
