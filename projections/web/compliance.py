"""The compliance report page (supervisor, auditor): a period chooser, the table per unit (OPD)
and service with its zones, the monthly trend chart and the XLSX/PDF links. Same read and numbers
as GET /reports/compliance; a bad period or one without permits is a message, never an error."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from domain.compliance_report import PeriodError

from .. import compliance
from ..api.dependencies import ReadSession
from ..api.reports import may_read, today_of, zones_of
from ..compliance_export import COLUMNS, trend_chart
from .deps import PageCaller
from .render import render

router = APIRouter(include_in_schema=False)
PATH = "/laporan/kepatuhan"
# The zone's colour, by the stylesheet's state classes (the zone is written out too).
ZONE_CLASS = {"hijau": "on_track", "kuning": "at_risk", "merah": "breached"}


@router.get(PATH)
def compliance_page(request: Request, caller: PageCaller, s: ReadSession) -> Response:
    """The report for ?from=YYYY-MM-DD&to=YYYY-MM-DD (default: this year to date)."""
    may_read(caller)
    start, end = request.query_params.get("from"), request.query_params.get("to")
    today = today_of(request)
    context = {"start": start or "", "end": end or "", "columns": COLUMNS, "zone_class": ZONE_CLASS}
    try:
        period = compliance.parse_period(start, end, today)
    except PeriodError as e:
        return render(
            request, "compliance.html", caller=caller, status=400, error=str(e), **context
        )
    report = compliance.report_json(compliance.read_report(s, period, zones_of(request), today))
    query = urlencode({"from": report["period"]["from"], "to": report["period"]["to"]})
    context.update(start=report["period"]["from"], end=report["period"]["to"])
    return render(
        request,
        "compliance.html",
        caller=caller,
        report=report,
        chart=Markup(trend_chart(report)),  # built by charts.py: labels escaped there
        query=query,
        **context,
    )
