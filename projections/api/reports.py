"""GET /reports/compliance (JSON, .xlsx, .pdf): the compliance report per unit (OPD) and service
for a period. Figures only, no personal data (not audited). Supervisors and auditors read it;
officers and agency administrators are refused (403): it grades units against each other, a
matter for the MPP's management and its inspectorate, not for the counter or one agency."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from domain.compliance import ZoneBounds, load_zones
from domain.compliance_report import PeriodError

from .. import compliance
from ..access import AccessDenied, Caller
from ..compliance_export import to_pdf, to_xlsx
from ..store import local_today
from .dependencies import Authenticated, ReadSession
from .errors import AUTHENTICATED

router = APIRouter(responses=AUTHENTICATED)

READERS = frozenset({"supervisor", "auditor"})
# Read once at start: a wrong zones file stops the API with an error naming the key.
ZONES = load_zones()
# Checked by parse_period, not FastAPI, so that a bad date is a 400 in Bahasa Indonesia.
DATE = {"format": "date"}
FROM = "First day, YYYY-MM-DD (default 1 January of this year); after `to`: 400"
TO = "Last day, YYYY-MM-DD (default today); the period is at most three years"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def may_read(caller: Caller) -> None:
    """403 for a role that does not get the compliance report."""
    if caller.role.name not in READERS:
        raise AccessDenied("the compliance report is for supervisors and auditors")


def zones_of(request: Request) -> ZoneBounds:
    """The zone bounds: the shipped file's, or `app.state.compliance_zones` when set."""
    return getattr(request.app.state, "compliance_zones", None) or ZONES


def today_of(request: Request) -> dt.date:
    """Today at the MPP (`app.state.clock`, when set, is the clock: a test's fixed day)."""
    return (getattr(request.app.state, "clock", None) or local_today)()


def report_of(
    request: Request,
    s: ReadSession,
    who: Authenticated,
    start: Annotated[
        str | None, Query(alias="from", description=FROM, json_schema_extra=DATE)
    ] = None,
    end: Annotated[str | None, Query(alias="to", description=TO, json_schema_extra=DATE)] = None,
) -> dict[str, Any]:
    """The report as a dict; a bad period answers 400 with the reason (Bahasa Indonesia)."""
    may_read(who)
    today = today_of(request)
    try:
        period = compliance.parse_period(start, end, today)
    except PeriodError as e:
        raise HTTPException(400, str(e)) from None
    return compliance.report_json(compliance.read_report(s, period, zones_of(request), today))


Report = Annotated[dict[str, Any], Depends(report_of)]


@router.get("/reports/compliance")
def compliance_json(report: Report) -> dict[str, Any]:
    """Per unit and service: applications, decisions within the standard, median/p90, zone;
    the total and the monthly trend."""
    return report


@router.get("/reports/compliance.xlsx", response_class=Response)
def compliance_xlsx(report: Report) -> Response:
    """The same report as an Excel workbook."""
    return _download(to_xlsx(report), XLSX, report, "xlsx")


@router.get("/reports/compliance.pdf", response_class=Response)
def compliance_pdf(report: Report) -> Response:
    """The same report as a PDF, with the monthly trend chart."""
    return _download(to_pdf(report), "application/pdf", report, "pdf")


def _download(body: bytes, media: str, report: dict[str, Any], ext: str) -> Response:
    name = f"kepatuhan_{report['period']['from']}_{report['period']['to']}.{ext}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media, headers=headers)
