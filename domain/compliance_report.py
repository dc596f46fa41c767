"""The compliance report (laporan kepatuhan standar pelayanan) per agency unit (OPD) and service
for a period, from plain permit facts; the projection reads the facts, this module counts.

Which permits belong to a period [start, end] (both days included):
- applications: permits received (berkas diterima) within it;
- decided: permits issued or rejected with their decision day within it, whenever received (a
  withdrawal, CANCELLED, is not the agency's decision and is not counted);
- within the standard: decided permits whose turnaround (working days from berkas lengkap to the
  decision, holidays and clock stops excluded, domain/workdays.py) is at most the service's SLA.
  The share is over the decisions with a measured turnaround (a rejection before berkas lengkap
  started no clock); median and p90 (nearest rank) are over the same turnarounds;
- open at the end: received by `end` and not finished by then; "over the standard" when their
  working days as of `end` already exceed the SLA. Open permits are shown, never in the share:
  the share is the Ombudsman's timeliness of decisions, and late open work has its own column.
The trend is the same figures per calendar month of the period, for all units together.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from domain.compliance import ZoneBounds
from domain.workdays import Interval, working_days_between

DECISIONS = frozenset({"ISSUED", "REJECTED"})
FINAL = frozenset({"ISSUED", "REJECTED", "CANCELLED"})
MAX_DAYS = 3 * 366  # a longer period is refused: the report is read month by month


class PeriodError(ValueError):
    """A period that cannot be reported; the message is shown to the user (Bahasa Indonesia)."""


@dataclass(frozen=True)
class Period:
    """Calendar days start..end, both included."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise PeriodError("Tanggal awal periode harus sebelum atau sama dengan tanggal akhir.")
        if (self.end - self.start).days >= MAX_DAYS:
            raise PeriodError("Periode paling panjang tiga tahun.")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def months(self) -> list[Period]:
        """The calendar months of the period, the first and last clipped to it."""
        out, first = [], self.start.replace(day=1)
        while first <= self.end:
            following = (first + dt.timedelta(days=32)).replace(day=1)
            out.append(Period(max(first, self.start), min(following, self.end + _DAY) - _DAY))
            first = following
        return out


_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class PermitFacts:
    """What the report needs of one permit (as the projection derived it)."""

    unit: str
    service_code: str
    service_name: str | None
    sla_days: int | None
    received_date: dt.date | None
    file_complete_date: dt.date | None
    finished_date: dt.date | None
    outcome: str | None
    working_days_used: int | None  # final for a decided permit
    stopped: tuple[Interval, ...] = ()  # clock stops, for the open permits' days as of `end`


@dataclass
class Figures:
    """The report's numbers for one group of permits (a unit and service, a month, the total)."""

    applications: int = 0
    decided: int = 0
    measured: int = 0  # decisions with a turnaround (berkas lengkap known)
    within_standard: int = 0
    within_pct: float | None = None
    median_days: float | None = None
    p90_days: float | None = None
    open_at_end: int = 0
    open_over_standard: int = 0
    zone: str | None = None
    _days: list[int] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Line:
    """One row of the report: a unit's service, its standard and its figures."""

    unit: str
    service_code: str
    service_name: str | None
    sla_days: int | None
    figures: Figures


@dataclass(frozen=True)
class Report:
    """The report for a period: rows by unit and service, the total, and the monthly trend."""

    period: Period
    lines: list[Line]
    total: Figures
    trend: list[tuple[str, Figures]]  # ("YYYY-MM", figures)
    zones: ZoneBounds


def compliance_report(permits: Iterable[PermitFacts], period: Period, zones: ZoneBounds) -> Report:
    """Count the permits into the report of `period` (see the module docstring for the rules)."""
    groups: dict[tuple[str, str], list[PermitFacts]] = defaultdict(list)
    for p in permits:
        groups[(p.unit, p.service_code)].append(p)
    lines, total = [], Figures()
    months = [(m.start.strftime("%Y-%m"), m, Figures()) for m in period.months()]
    for (unit, code), items in sorted(groups.items()):
        figures = Figures()
        for p in items:
            _count(figures, p, period)
            _count(total, p, period)
            for _, month, month_figures in months:
                _count(month_figures, p, month)
        if _involved(figures):
            latest = max(items, key=lambda p: p.received_date or dt.date.min)
            lines.append(Line(unit, code, latest.service_name, latest.sla_days, figures))
    for figures in (total, *(f for _, _, f in months), *(line.figures for line in lines)):
        _finish(figures, zones)
    return Report(period, lines, total, [(label, f) for label, _, f in months], zones)


def _count(figures: Figures, p: PermitFacts, period: Period) -> None:
    received = p.received_date or p.file_complete_date
    if received in period:
        figures.applications += 1
    if p.outcome in DECISIONS and p.finished_date in period:
        figures.decided += 1
        if p.working_days_used is not None and p.sla_days is not None:
            figures.measured += 1
            figures.within_standard += p.working_days_used <= p.sla_days
            figures._days.append(p.working_days_used)
    finished = p.finished_date if p.outcome in FINAL else None
    if (
        received is not None
        and received <= period.end
        and (finished is None or finished > period.end)
    ):
        figures.open_at_end += 1
        figures.open_over_standard += _over_standard(p, period.end)


def _over_standard(p: PermitFacts, day: dt.date) -> bool:
    """True when an open permit has used more working days than its SLA by `day`."""
    start = p.file_complete_date
    if start is None or p.sla_days is None or day < start:
        return False
    return working_days_between(start, day, p.stopped) > p.sla_days


def _involved(f: Figures) -> bool:
    return bool(f.applications or f.decided or f.open_at_end)


def _finish(f: Figures, zones: ZoneBounds) -> None:
    days = f._days
    if f.measured:
        f.within_pct = round(100.0 * f.within_standard / f.measured, 1)
    f.median_days = float(statistics.median(days)) if days else None
    f.p90_days = nearest_rank(days, 0.9)
    f.zone = zones.zone(f.within_pct)


def nearest_rank(values: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])
