"""The compliance report over the permit projection: the permits' facts read from SQL, counted by
domain.compliance_report, shaped as one JSON-able dict that the API, the page and both exports
(projections/compliance_export.py) show, so all four carry the same numbers. No personal data.

A permit's unit (OPD) is its service's as the agency states it, else the MPP's service standard
(domain/services.py), else the agency code.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from domain.compliance import ZoneBounds
from domain.compliance_report import (
    Figures,
    Period,
    PeriodError,
    PermitFacts,
    Report,
    compliance_report,
)
from domain.permits import FINAL_STATUSES, derive_permit
from domain.services import BY_CODE

from .models import Permit, PermitTimeline, Service

FIGURES = (
    "applications", "decided", "measured", "within_standard", "within_pct", "median_days",
    "p90_days", "open_at_end", "open_over_standard", "zone",
)  # fmt: skip


def read_report(session: Session, period: Period, zones: ZoneBounds, today: dt.date) -> Report:
    """The report of `period` over the permits projected so far (open permits as of `today`)."""
    rows = session.execute(
        select(Permit, Service.unit)
        .outerjoin(Service, Service.service_ref == Permit.service_ref)
        .where(
            Permit.deleted.is_(False),
            or_(
                Permit.received_date <= period.end,
                Permit.file_complete_date <= period.end,
                Permit.finished_date <= period.end,
            ),
            or_(Permit.finished_date.is_(None), Permit.finished_date >= period.start),
        )
    ).all()
    # Clock stops matter for the permits still open at the end of one of the period's months
    # (the last ends with the period; the trend counts those over their standard as of each
    # month's end): a permit open at the end of February and issued in March needs its
    # February stop too.
    ends = [month.end for month in period.months()]
    stops = _stops(session, [p for p, _ in rows if any(_open_at(p, d) for d in ends)], today)
    facts = [_facts(p, unit, stops.get(p.permit_id, ())) for p, unit in rows]
    return compliance_report(facts, period, zones)


def _open_at(p: Permit, day: dt.date) -> bool:
    finished = p.finished_date if p.outcome in FINAL_STATUSES else None
    return p.file_complete_date is not None and (finished is None or finished > day)


def _stops(session: Session, permits: list[Permit], today: dt.date) -> dict[str, tuple]:
    """Clock-stop intervals per permit, as derive_permit reads them from the status log."""
    if not permits:
        return {}
    logs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids = [p.permit_id for p in permits]
    for i in range(0, len(ids), 500):
        for t in session.scalars(
            select(PermitTimeline).where(PermitTimeline.permit_id.in_(ids[i : i + 500]))
        ):
            logs[t.permit_id].append(
                {"status": t.status, "status_time": t.status_time, "status_seq": t.status_seq}
            )
    return {
        p.permit_id: derive_permit(p.application, logs[p.permit_id], p.sla_days, today).stopped
        for p in permits
    }


def _facts(p: Permit, unit: str | None, stopped: tuple) -> PermitFacts:
    code = p.service_code or "unknown"
    standard = BY_CODE.get(code)
    return PermitFacts(
        unit=unit or (standard.unit if standard and standard.unit else None) or p.agency or "-",
        service_code=code,
        service_name=p.service_name or (standard.name if standard else None),
        sla_days=p.sla_days,
        received_date=p.received_date,
        file_complete_date=p.file_complete_date,
        finished_date=p.finished_date,
        outcome=p.outcome,
        working_days_used=p.working_days_used,
        stopped=stopped,
    )


def figures_json(f: Figures) -> dict[str, Any]:
    """One group's figures as a dict (the FIGURES keys)."""
    return {k: getattr(f, k) for k in FIGURES}


def report_json(report: Report) -> dict[str, Any]:
    """The report as the API answers it (and the page and exports show it)."""
    return {
        "period": {"from": report.period.start.isoformat(), "to": report.period.end.isoformat()},
        "zones": {
            "green_min_pct": report.zones.green_min_pct,
            "yellow_min_pct": report.zones.yellow_min_pct,
            "source": report.zones.source,
        },
        "lines": [
            {
                "unit": line.unit,
                "service_code": line.service_code,
                "service_name": line.service_name,
                "sla_days": line.sla_days,
                **figures_json(line.figures),
            }
            for line in report.lines
        ],
        "total": figures_json(report.total),
        "trend": [{"month": month, **figures_json(f)} for month, f in report.trend],
    }


def parse_period(start: str | None, end: str | None, today: dt.date) -> Period:
    """The period asked for as YYYY-MM-DD texts (default: 1 January of this year to today);
    PeriodError with a message in Bahasa Indonesia when a date is malformed or out of order."""
    first = _date(start, "awal") if start else today.replace(month=1, day=1)
    last = _date(end, "akhir") if end else today
    return Period(first, last)


def _date(text: str, which: str) -> dt.date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(
            f"Tanggal {which} periode tidak valid: tulis sebagai TTTT-BB-HH, misalnya 2026-08-31."
        ) from None
