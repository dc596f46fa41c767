"""Reads of the data-quality findings (projections/findings.py) for an agency's page, its API and
its XLSX export: the open findings, their counts by rule and by table, and the trend (findings
open at the end of each day or week, opened and resolved in it).

A finding's times are source times of the record versions (when the change happened in the
agency's system), so a rebuild gives the same report. Nothing here shows a NIK: the record
reference was masked by normalize when the key is a NIK (see README, data-quality page).
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Finding

Period = Literal["day", "week"]
TREND_POINTS = 14  # days or weeks shown


@dataclass(frozen=True)
class FindingRow:
    """One open finding as the agency sees it."""

    rule_code: str
    table: str
    record_ref: str  # the key as the source shows it; a NIK key masked
    record_token: str  # the hub's stable reference of the record
    field: str | None
    severity: str | None
    detail: str
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclass(frozen=True)
class TrendPoint:
    """One day or week: findings opened and resolved in it, open at its end."""

    start: dt.date
    opened: int
    resolved: int
    open: int


def agencies_with_findings(session: Session) -> list[str]:
    """Every agency with a finding ever projected (open or resolved), sorted."""
    return list(session.scalars(select(Finding.agency).distinct().order_by(Finding.agency)))


def open_findings(
    session: Session, agency: str, *, rule: str | None = None, table: str | None = None
) -> list[FindingRow]:
    """The agency's open findings, oldest first, optionally of one rule and/or table."""
    q = select(Finding).where(Finding.agency == agency.lower(), Finding.resolved_at.is_(None))
    if rule:
        q = q.where(Finding.rule_code == rule)
    if table:
        q = q.where(Finding.source_table == table)
    q = q.order_by(
        Finding.first_seen, Finding.source_table, Finding.record_token, Finding.rule_code
    )
    return [
        FindingRow(
            f.rule_code,
            f.source_table,
            f.record_ref,
            f.record_token,
            f.field,
            f.severity,
            f.detail,
            f.first_seen,
            f.last_seen,
        )
        for f in session.scalars(q)
    ]


def tables_of(session: Session, agency: str) -> list[str]:
    """The source tables of the agency that ever had a finding."""
    q = select(Finding.source_table).where(Finding.agency == agency.lower()).distinct()
    return sorted(session.scalars(q))


def findings_of_records(session: Session, agency: str, tokens: list[str]) -> list[FindingRow]:
    """The agency's open findings of the records with these tokens (a lookup by record key)."""
    if not tokens:
        return []
    rows = open_findings(session, agency)
    wanted = set(tokens)
    return [r for r in rows if r.record_token in wanted]


def counts(session: Session, agency: str) -> dict[str, dict[str, int]]:
    """Open findings of the agency by rule and by table: {'by_rule': {...}, 'by_table': {...}}."""
    out: dict[str, dict[str, int]] = {}
    for name, col in (("by_rule", Finding.rule_code), ("by_table", Finding.source_table)):
        rows = session.execute(
            select(col, func.count())
            .where(Finding.agency == agency.lower(), Finding.resolved_at.is_(None))
            .group_by(col)
            .order_by(func.count().desc(), col)
        )
        out[name] = {k: n for k, n in rows}
    return out


def trend(
    session: Session, agency: str, period: Period, until: dt.date, points: int = TREND_POINTS
) -> list[TrendPoint]:
    """The last `points` days or weeks (weeks from Monday) up to and including `until`."""
    step = dt.timedelta(days=1 if period == "day" else 7)
    last = until if period == "day" else until - dt.timedelta(days=until.weekday())
    starts = [last - step * i for i in range(points - 1, -1, -1)]
    rows = session.execute(
        select(Finding.first_seen, Finding.resolved_at).where(Finding.agency == agency.lower())
    ).all()
    opened: Counter[dt.date] = Counter()
    resolved: Counter[dt.date] = Counter()
    for first, end in rows:
        opened[_bucket(first.date(), starts[0], step)] += 1
        if end is not None:
            resolved[_bucket(end.date(), starts[0], step)] += 1
    out = []
    for start in starts:
        end_of = start + step
        still = sum(
            1
            for first, end in rows
            if first.date() < end_of and (end is None or end.date() >= end_of)
        )
        out.append(TrendPoint(start, opened[start], resolved[start], still))
    return out


def _bucket(day: dt.date, first: dt.date, step: dt.timedelta) -> dt.date:
    """The start of the day or week `day` falls in (before the window: a date no point has)."""
    if day < first:
        return dt.date.min
    return first + step * ((day - first) // step)


def as_json(row: FindingRow | TrendPoint) -> dict[str, Any]:
    """A row as the JSON API gives it (ISO dates)."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in asdict(row).items()}


# Bahasa Indonesia headings: the sheet goes to the agency's IT team.
XLSX_COLUMNS = (
    ("Aturan", "rule_code"),
    ("Tabel", "table"),
    ("Rujukan rekaman sumber", "record_ref"),
    ("Rujukan hub", "record_token"),
    ("Kolom", "field"),
    ("Tingkat", "severity"),
    ("Pertama terlihat (UTC)", "first_seen"),
    ("Keterangan", "detail"),
)


def findings_xlsx(agency: str, rows: list[FindingRow]) -> bytes:
    """The open findings as an XLSX workbook (one sheet, a header row, one row per finding)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Temuan"
    ws.append([head for head, _ in XLSX_COLUMNS])
    for r in rows:
        ws.append([getattr(r, name) for _, name in XLSX_COLUMNS])
    for i, (head, _) in enumerate(XLSX_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(14, len(head) + 2)
    ws.column_dimensions[get_column_letter(len(XLSX_COLUMNS))].width = 60
    ws.freeze_panes = "A2"
    wb.properties.title = f"Temuan kualitas data {agency}"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
