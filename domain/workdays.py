"""Working days for Indonesian service standards (SLA hari kerja): Monday-Friday that is not a
national holiday nor, by default, cuti bersama (MPP counters are staffed by ASN on collective
leave; pass cuti_bersama=False to count those days). Holidays come from the `holidays` package.

A permit's turnaround is the working days d with berkas_lengkap < d <= issue (issued the same day:
0), minus the stopped days d with stopped_on < d <= resumed_on: the day a correction is asked
for still counts against the agency; the day it comes back is like a new berkas lengkap day.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache

import holidays

Interval = tuple[dt.date, dt.date]

AT_RISK_SHARE = (4, 5)  # open permits that used >= 4/5 (80%) of their SLA are at risk


@lru_cache(maxsize=512)
def _weekday_holidays(year: int, cuti_bersama: bool) -> tuple[dt.date, ...]:
    """Sorted weekday holidays of a year; cached because every turnaround calculation asks."""
    # For Indonesia, PUBLIC holds the national holidays (SKB 3 Menteri) and GOVERNMENT exactly
    # the cuti bersama days ("... Joint Holiday").
    categories = (holidays.PUBLIC, holidays.GOVERNMENT) if cuti_bersama else (holidays.PUBLIC,)
    days = holidays.country_holidays("ID", years=year, categories=categories)
    return tuple(sorted(d for d in days if d.weekday() < 5))


def holidays_in_year(year: int, *, cuti_bersama: bool = True) -> tuple[dt.date, ...]:
    """The non-working weekdays (public holidays, and cuti bersama unless disabled) of a year."""
    return _weekday_holidays(year, cuti_bersama)


def is_working_day(day: dt.date, *, cuti_bersama: bool = True) -> bool:
    """True for a Monday-Friday that is no public holiday (nor cuti bersama, by default)."""
    if day.weekday() >= 5:
        return False
    year_holidays = _weekday_holidays(day.year, cuti_bersama)
    i = bisect.bisect_left(year_holidays, day)
    return not (i < len(year_holidays) and year_holidays[i] == day)


def _weekdays_through(day: dt.date) -> int:
    # Ordinal 1 (0001-01-01) is a Monday, so every block of 7 ordinals holds 5 weekdays.
    n = day.toordinal()
    return 5 * (n // 7) + min(n % 7, 5)


def _count(after: dt.date, through: dt.date, cuti_bersama: bool) -> int:
    """Working days d with after < d <= through (0 when through <= after)."""
    if through <= after:
        return 0
    count = _weekdays_through(through) - _weekdays_through(after)
    for year in range(after.year, through.year + 1):
        year_holidays = _weekday_holidays(year, cuti_bersama)
        lo = bisect.bisect_right(year_holidays, after)
        hi = bisect.bisect_right(year_holidays, through)
        count -= hi - lo
    return count


def _merged(stopped: Iterable[Interval], start: dt.date, end: dt.date) -> list[Interval]:
    """Stop intervals clipped to (start, end] and merged, so overlaps are not removed twice."""
    clipped = []
    for stopped_on, resumed_on in stopped:
        if resumed_on < stopped_on:
            raise ValueError("clock-stop interval ends before it starts")
        lo, hi = max(stopped_on, start), min(resumed_on, end)
        if lo < hi:
            clipped.append((lo, hi))
    clipped.sort()
    merged: list[Interval] = []
    for lo, hi in clipped:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def working_days_between(
    start: dt.date,
    end: dt.date,
    stopped: Iterable[Interval] = (),
    *,
    cuti_bersama: bool = True,
) -> int:
    """Working days from `start` (berkas lengkap) to `end` (issue, or today): after start, up to
    and including end, minus those inside clock-stopped intervals (see the module docstring).

    Same-day issue is 0. Raises ValueError when end < start: a negative turnaround is a data
    error for the caller to report, not a number to put into statistics.
    """
    if end < start:
        raise ValueError("end date is before the start date")
    total = _count(start, end, cuti_bersama)
    for lo, hi in _merged(stopped, start, end):
        total -= _count(lo, hi, cuti_bersama)
    return total


def add_working_days(
    start: dt.date,
    n: int,
    stopped: Iterable[Interval] = (),
    *,
    cuti_bersama: bool = True,
) -> dt.date:
    """The n-th working day after `start` (skipping clock-stopped days); `start` itself for n=0.

    This is the last day on which an issue still meets an SLA of n days: the smallest d with
    working_days_between(start, d, stopped) == n.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    stops = list(stopped)
    for stopped_on, resumed_on in stops:
        if resumed_on < stopped_on:
            raise ValueError("clock-stop interval ends before it starts")
    day = start
    while n > 0:
        day += dt.timedelta(days=1)
        if not is_working_day(day, cuti_bersama=cuti_bersama):
            continue
        if any(lo < day <= hi for lo, hi in stops):
            continue
        n -= 1
    return day


class SlaState(StrEnum):
    """Where a permit stands against its service standard."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"


def sla_state(
    start: dt.date,
    today_or_end: dt.date,
    sla_days: int,
    finished: bool,
    stopped: Iterable[Interval] = (),
    *,
    cuti_bersama: bool = True,
) -> SlaState:
    """SLA state of a permit whose file was complete on `start`.

    Finished (issued/rejected on `today_or_end`): breached if it took more working days than
    the SLA, else on_track. Open (as of `today_or_end`): breached once the SLA is exceeded;
    at_risk when at least 80% of the SLA is used or today is the last day (remaining 0, which
    also makes a same-day service at_risk all day); on_track otherwise.
    """
    if sla_days < 0:
        raise ValueError("sla_days must be >= 0")
    used = working_days_between(start, today_or_end, stopped, cuti_bersama=cuti_bersama)
    if used > sla_days:
        return SlaState.BREACHED
    if finished:
        return SlaState.ON_TRACK
    num, den = AT_RISK_SHARE
    if used == sla_days or used * den >= sla_days * num:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK
