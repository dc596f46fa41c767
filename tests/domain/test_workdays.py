"""Working-day arithmetic, SLA states and Ombudsman zones: pure, no I/O.

Reference dates (Indonesia 2026, from the `holidays` package): Mon 17 Aug Independence Day;
Lebaran week: Wed 18 Mar cuti bersama, Thu 19 Nyepi, Fri 20 cuti bersama, Sat 21/Sun 22
Idul Fitri, Mon 23 and Tue 24 cuti bersama. July 2026 has no holiday.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from domain import workdays
from domain.workdays import (
    SlaState,
    add_working_days,
    holidays_in_year,
    is_working_day,
    sla_state,
    working_days_between,
)

D = dt.date


# --- working_days_between -----------------------------------------------------------------


def test_same_day_issue_is_zero():
    assert working_days_between(D(2026, 7, 8), D(2026, 7, 8)) == 0


def test_next_working_day_is_one():
    assert working_days_between(D(2026, 7, 8), D(2026, 7, 9)) == 1


def test_full_week_without_holidays():
    assert working_days_between(D(2026, 7, 6), D(2026, 7, 13)) == 5


def test_weekend_is_not_counted():
    friday, saturday, sunday, monday = (
        D(2026, 7, 10),
        D(2026, 7, 11),
        D(2026, 7, 12),
        D(2026, 7, 13),
    )
    assert working_days_between(friday, saturday) == 0
    assert working_days_between(friday, sunday) == 0
    assert working_days_between(friday, monday) == 1
    assert working_days_between(saturday, monday) == 1


def test_interval_with_independence_day_and_a_weekend():
    # After Mon 10 Aug up to Wed 19 Aug: Tue-Fri (4), Sat/Sun, Mon 17 holiday, Tue 18, Wed 19.
    assert working_days_between(D(2026, 8, 10), D(2026, 8, 19)) == 6
    # Fri 14 -> Tue 18: only Tuesday counts.
    assert working_days_between(D(2026, 8, 14), D(2026, 8, 18)) == 1


def test_lebaran_week_with_and_without_cuti_bersama():
    start, end = D(2026, 3, 17), D(2026, 3, 25)
    assert working_days_between(start, end) == 1  # only Wed 25 is a working day
    # Counting cuti bersama as working days leaves Wed 18, Fri 20, Mon 23, Tue 24, Wed 25.
    assert working_days_between(start, end, cuti_bersama=False) == 5


def test_cuti_bersama_comes_from_the_government_category():
    assert not is_working_day(D(2026, 3, 20))
    assert is_working_day(D(2026, 3, 20), cuti_bersama=False)
    assert not is_working_day(D(2026, 3, 19), cuti_bersama=False)  # Nyepi: public holiday


def test_end_before_start_is_an_error():
    with pytest.raises(ValueError, match="before the start"):
        working_days_between(D(2026, 7, 9), D(2026, 7, 8))


def test_across_years_matches_a_day_by_day_count():
    rng = random.Random(4)
    for _ in range(200):
        start = D(2024, 1, 1) + dt.timedelta(days=rng.randrange(1000))
        end = start + dt.timedelta(days=rng.randrange(500))
        naive = sum(
            is_working_day(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1)
        )
        assert working_days_between(start, end) == naive


# --- clock-stopped intervals --------------------------------------------------------------

MON, FRI = D(2026, 7, 6), D(2026, 7, 17)  # 9 working days after Mon 6 July up to Fri 17 July


def test_clock_stop_removes_days_after_the_stop_up_to_the_resume():
    # Stopped Wed 8, resumed Mon 13: Thu 9, Fri 10 and Mon 13 do not count.
    assert working_days_between(MON, FRI, [(D(2026, 7, 8), D(2026, 7, 13))]) == 6


def test_stop_and_resume_on_the_same_day_removes_nothing():
    assert working_days_between(MON, FRI, [(D(2026, 7, 8), D(2026, 7, 8))]) == 9


def test_overlapping_stops_are_not_removed_twice():
    stops = [(D(2026, 7, 8), D(2026, 7, 13)), (D(2026, 7, 10), D(2026, 7, 14))]
    assert working_days_between(MON, FRI, stops) == 5  # Thu 9, Fri 10, Mon 13, Tue 14


def test_adjacent_stops():
    stops = [(D(2026, 7, 8), D(2026, 7, 9)), (D(2026, 7, 9), D(2026, 7, 10))]
    assert working_days_between(MON, FRI, stops) == 7


def test_stops_are_clipped_to_the_interval():
    assert working_days_between(MON, FRI, [(D(2026, 7, 1), D(2026, 7, 7))]) == 8
    assert working_days_between(MON, FRI, [(D(2026, 7, 16), D(2026, 7, 30))]) == 8
    assert working_days_between(MON, FRI, [(D(2026, 6, 1), D(2026, 6, 30))]) == 9
    assert working_days_between(MON, FRI, [(D(2026, 7, 1), D(2026, 7, 31))]) == 0


def test_stop_over_a_weekend_removes_no_weekend_day():
    assert working_days_between(MON, FRI, [(D(2026, 7, 10), D(2026, 7, 12))]) == 9


def test_reversed_stop_is_an_error():
    with pytest.raises(ValueError, match="clock-stop"):
        working_days_between(MON, FRI, [(D(2026, 7, 10), D(2026, 7, 8))])


# --- add_working_days ---------------------------------------------------------------------


def test_add_zero_is_the_start_even_on_a_holiday():
    assert add_working_days(D(2026, 8, 17), 0) == D(2026, 8, 17)


def test_add_skips_weekends_and_holidays():
    assert add_working_days(D(2026, 7, 10), 1) == D(2026, 7, 13)  # Fri -> Mon
    assert add_working_days(D(2026, 8, 14), 1) == D(2026, 8, 18)  # over Independence Day
    assert add_working_days(D(2026, 3, 17), 1) == D(2026, 3, 25)  # over the Lebaran week


def test_add_respects_clock_stops():
    assert add_working_days(MON, 6, [(D(2026, 7, 8), D(2026, 7, 13))]) == FRI


def test_add_is_the_inverse_of_between():
    start = D(2026, 3, 10)
    for n in range(40):
        due = add_working_days(start, n)
        assert working_days_between(start, due) == n
        assert due == start or is_working_day(due)


def test_add_negative_is_an_error():
    with pytest.raises(ValueError):
        add_working_days(MON, -1)


# --- holiday cache ------------------------------------------------------------------------


def test_holidays_are_cached_per_year(monkeypatch):
    holidays_in_year(2026)  # warm
    calls = []
    real = workdays.holidays.country_holidays
    monkeypatch.setattr(
        workdays.holidays, "country_holidays", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    for _ in range(3):
        working_days_between(D(2026, 1, 1), D(2026, 12, 31))
    assert calls == []


def test_holidays_in_year_holds_weekday_holidays_only():
    days = holidays_in_year(2026)
    assert D(2026, 8, 17) in days
    assert D(2026, 3, 21) not in days  # Idul Fitri fell on a Saturday
    assert all(d.weekday() < 5 and d.year == 2026 for d in days)
    assert list(days) == sorted(days)


# --- sla_state ----------------------------------------------------------------------------

START = D(2026, 7, 6)  # Monday


def due(n: int) -> dt.date:
    return add_working_days(START, n)


def test_finished_within_sla_is_on_track():
    assert sla_state(START, due(5), 5, finished=True) == "on_track"
    assert sla_state(START, due(5), 5, finished=True) is SlaState.ON_TRACK


def test_finished_late_is_breached():
    assert sla_state(START, due(6), 5, finished=True) is SlaState.BREACHED


def test_open_states_through_the_sla():
    # SLA 5: 80% is 4 days.
    assert sla_state(START, due(3), 5, finished=False) is SlaState.ON_TRACK
    assert sla_state(START, due(4), 5, finished=False) is SlaState.AT_RISK
    assert sla_state(START, due(5), 5, finished=False) is SlaState.AT_RISK  # last day
    assert sla_state(START, due(6), 5, finished=False) is SlaState.BREACHED


def test_at_risk_threshold_rounds_up():
    # SLA 9 (SIP dokter): 80% is 7.2 days, so day 7 is on track and day 8 at risk.
    assert sla_state(START, due(7), 9, finished=False) is SlaState.ON_TRACK
    assert sla_state(START, due(8), 9, finished=False) is SlaState.AT_RISK


def test_short_sla_last_day_is_at_risk():
    # SLA 3 (SLF, KK): 80% is 2.4, so day 2 is on track, day 3 (the last) at risk.
    assert sla_state(START, due(2), 3, finished=False) is SlaState.ON_TRACK
    assert sla_state(START, due(3), 3, finished=False) is SlaState.AT_RISK


def test_same_day_service():
    # SKCK: SLA 0. Open on the day: at risk; open the next working day: breached.
    assert sla_state(START, START, 0, finished=False) is SlaState.AT_RISK
    assert sla_state(START, START, 0, finished=True) is SlaState.ON_TRACK
    assert sla_state(START, due(1), 0, finished=False) is SlaState.BREACHED
    assert sla_state(START, due(1), 0, finished=True) is SlaState.BREACHED


def test_open_over_a_weekend_uses_working_days():
    saturday = D(2026, 7, 11)  # 4 working days after Monday 6 July
    assert sla_state(START, saturday, 5, finished=False) is SlaState.AT_RISK
    assert sla_state(START, saturday, 9, finished=False) is SlaState.ON_TRACK


def test_clock_stop_keeps_a_permit_on_track():
    stops = [(D(2026, 7, 7), D(2026, 7, 16))]  # waiting for the applicant 7 days
    assert sla_state(START, FRI, 5, finished=True) is SlaState.BREACHED
    assert sla_state(START, FRI, 5, finished=True, stopped=stops) is SlaState.ON_TRACK


def test_negative_sla_is_an_error():
    with pytest.raises(ValueError):
        sla_state(START, START, -1, finished=False)
