"""The agency data-quality page (/kualitas-data/{agency}): the agency's open findings by rule
and table, their trend per day or week as an SVG chart, each pointing at its source record (a
NIK key masked), and the XLSX export (the API's /agencies/{agency}/findings.xlsx). Same read and
same refusal as GET /agencies/{agency}/findings: an agency administrator sees their own agency
only (403 page naming it); supervisors see every agency. No personal data: no purpose asked."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from ..access import AccessDenied, Caller
from ..api.dependencies import ReadSession
from ..api.findings import OWN_AGENCY_ONLY, findings_view, known_agency, may_read_findings
from ..findings_report import agencies_with_findings, findings_of_records, tables_of
from .charts import line_chart
from .deps import PageCaller, redirect
from .errors import error_page
from .render import render

router = APIRouter(include_in_schema=False)
PATH = "/kualitas-data"
PERIODS = {"hari": "day", "minggu": "week"}
NOT_YOURS = "Anda hanya dapat melihat temuan kualitas data instansi Anda sendiri"
FOR_WHOM = "Halaman kualitas data untuk supervisor dan admin instansi."


@router.get(PATH)
def quality_home(request: Request, caller: PageCaller, s: ReadSession) -> Response:
    """An agency administrator goes to their agency's page; a supervisor picks an agency."""
    if caller.role.agency_bound and caller.agency:
        return redirect(f"{PATH}/{caller.agency}")
    try:
        may_read_findings(caller, "")
    except AccessDenied:
        return error_page(request, 403, FOR_WHOM)
    return render(request, "quality_home.html", caller=caller, agencies=agencies_with_findings(s))


@router.get(PATH + "/{agency}")
def quality_page(
    request: Request,
    agency: str,
    caller: PageCaller,
    s: ReadSession,
    aturan: Annotated[str | None, Query(max_length=64)] = None,
    tabel: Annotated[str | None, Query(max_length=128)] = None,
    periode: Annotated[str, Query(max_length=10)] = "hari",
) -> Response:
    """One agency's findings (filtered by rule and/or table), trend per day or week."""
    try:
        code = may_read_findings(caller, agency)
    except AccessDenied as e:
        return error_page(request, 403, _refusal(caller, e))
    known_agency(s, caller, code)
    period = PERIODS.get(periode, "day")
    view = findings_view(s, code, aturan or None, tabel or None, period)
    query = urlencode({k: v for k, v in (("rule", aturan), ("table", tabel)) if v})
    return render(
        request,
        "quality.html",
        caller=caller,
        view=view,
        rule=aturan or "",
        table=tabel or "",
        periode="minggu" if period == "week" else "hari",
        chart=Markup(trend_chart(view["trend"]["points"], period)),
        xlsx=f"/agencies/{code}/findings.xlsx" + (f"?{query}" if query else ""),
    )


@router.post(PATH + "/{agency}/rekaman")
def record_lookup(
    request: Request,
    agency: str,
    caller: PageCaller,
    s: ReadSession,
    kunci: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """The open findings of one record, found by its key as the agency's system shows it (a
    NIK for SIAK): a POST, so the key never goes in a URL; the answer shows it masked only."""
    try:
        code = may_read_findings(caller, agency)
    except AccessDenied as e:
        return error_page(request, 403, _refusal(caller, e))
    key = kunci.strip()
    if not key:
        return error_page(request, 422, "Isi kunci rekaman (mis. NIK) yang dicari.")
    tokens = request.app.state.tokens
    found = findings_of_records(s, code, [tokens.record(code, t, key) for t in tables_of(s, code)])
    return render(request, "quality_record.html", caller=caller, agency=code, found=found)


def _refusal(caller: Caller, e: AccessDenied) -> str:
    if str(e) == OWN_AGENCY_ONLY:
        return f"{NOT_YOURS} ({(caller.agency or '').upper()})."
    return FOR_WHOM


def trend_chart(points: list[dict], period: str) -> str:
    """Open findings at the end of each day or week (charts.py escapes the labels)."""
    per = "hari" if period == "day" else "minggu"
    return line_chart(
        f"Temuan terbuka di akhir tiap {per}",
        [(f"{p['start'][8:10]}/{p['start'][5:7]}", p["open"]) for p in points],
    )
