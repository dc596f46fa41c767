"""The permit lifecycle state machine: pure, no I/O.

Reference dates (Indonesia 2026): July has no public holiday; Mon 17 Aug is Independence Day.
Wed 1 Jul 2026 is a Wednesday.
"""

from __future__ import annotations

import datetime as dt

import pytest

from domain.permits import (
    F_AFTER_FINAL,
    F_FILE_COMPLETE_IN_FUTURE,
    F_FINISHED_BEFORE_FILE_COMPLETE,
    F_INVALID_TRANSITION,
    F_ISSUED_WITHOUT_FILE_COMPLETE,
    F_OUTCOME_CONFLICT,
    F_RESUMED_NOT_STOPPED,
    F_STATUS_WHILE_STOPPED,
    F_STOPPED_OUTSIDE_CLOCK,
    F_STOPPED_TWICE,
    F_UNKNOWN_OUTCOME,
    F_UNKNOWN_STATUS,
    day_of,
    derive_permit,
)
from domain.workdays import SlaState

D = dt.date
UTC = dt.UTC


def entry(status: str, day: dt.date, seq: int, hour: int = 9) -> dict:
    """A STATUS timeline entry as the canonical decoder gives it (aware UTC timestamp)."""
    return {
        "status": status,
        "status_time": dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
        "status_seq": seq,
    }


def app(**fields) -> dict:
    base = {
        "received_date": None,
        "file_complete_date": None,
        "finished_date": None,
        "outcome": "IN_PROCESS",
    }
    base.update(fields)
    return base


# --- current status ---------------------------------------------------------------------------


def test_no_application_and_no_timeline():
    v = derive_permit(None, [], 9, D(2026, 7, 1))
    assert v.status is None
    assert v.outcome == "IN_PROCESS"
    assert v.working_days_used is None
    assert v.sla_state is None
    assert v.findings == ()


def test_application_only_received():
    v = derive_permit(app(received_date=D(2026, 7, 1)), [], 9, D(2026, 7, 2))
    assert v.status == "RECEIVED"
    assert v.received_date == D(2026, 7, 1)
    assert v.sla_state is None  # the clock starts at berkas lengkap


def test_status_is_latest_by_time_not_by_list_order():
    tl = [
        entry("VERIFIED", D(2026, 7, 3), 3),
        entry("RECEIVED", D(2026, 7, 1), 1),
        entry("FILE_COMPLETE", D(2026, 7, 2), 2),
    ]
    assert derive_permit(None, tl, 9, D(2026, 7, 6)).status == "VERIFIED"


def test_status_seq_breaks_ties_of_the_same_time():
    t = dt.datetime(2026, 7, 1, 9, tzinfo=UTC)
    tl = [
        {"status": "FILE_COMPLETE", "status_time": t, "status_seq": 11},
        {"status": "RECEIVED", "status_time": t, "status_seq": 10},
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 1))
    assert v.status == "FILE_COMPLETE"
    assert v.findings == ()


def test_application_final_outcome_wins_over_the_log():
    tl = [entry("RECEIVED", D(2026, 7, 1), 1), entry("FILE_COMPLETE", D(2026, 7, 1), 2)]
    a = app(
        received_date=D(2026, 7, 1),
        file_complete_date=D(2026, 7, 1),
        finished_date=D(2026, 7, 8),
        outcome="ISSUED",
    )
    v = derive_permit(a, tl, 9, D(2026, 7, 20))
    assert (v.status, v.outcome, v.finished_date) == ("ISSUED", "ISSUED", D(2026, 7, 8))
    assert v.working_days_used == 5
    assert v.final


def test_application_in_process_does_not_hide_a_logged_issue():
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("APPROVED", D(2026, 7, 2), 2),
        entry("ISSUED", D(2026, 7, 3), 3),
    ]
    v = derive_permit(app(file_complete_date=D(2026, 7, 1)), tl, 9, D(2026, 7, 20))
    assert (v.status, v.outcome, v.finished_date) == ("ISSUED", "ISSUED", D(2026, 7, 3))
    assert v.working_days_used == 2


def test_outcome_conflict_is_a_finding():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1), entry("REJECTED", D(2026, 7, 2), 2)]
    a = app(file_complete_date=D(2026, 7, 1), finished_date=D(2026, 7, 2), outcome="ISSUED")
    v = derive_permit(a, tl, 9, D(2026, 7, 20))
    assert v.outcome == "ISSUED"
    assert f"{F_OUTCOME_CONFLICT}:ISSUED/REJECTED" in v.findings


def test_unknown_outcome_is_a_finding():
    v = derive_permit(app(outcome="LOST"), [], 9, D(2026, 7, 1))
    assert v.outcome == "IN_PROCESS"
    assert f"{F_UNKNOWN_OUTCOME}:LOST" in v.findings


# --- file complete and finish dates ---------------------------------------------------------


def test_file_complete_from_application_first():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 2), 1)]
    v = derive_permit(app(file_complete_date=D(2026, 7, 1)), tl, 9, D(2026, 7, 3))
    assert v.file_complete_date == D(2026, 7, 1)
    assert v.working_days_used == 2


def test_file_complete_from_first_file_complete_entry():
    tl = [
        entry("RECEIVED", D(2026, 7, 1), 1),
        entry("FILE_COMPLETE", D(2026, 7, 2), 2),
        entry("INCOMPLETE", D(2026, 7, 3), 3),
        entry("FILE_COMPLETE", D(2026, 7, 6), 4),
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 7))
    assert v.file_complete_date == D(2026, 7, 2)
    assert f"{F_INVALID_TRANSITION}:FILE_COMPLETE->INCOMPLETE" in v.findings


def test_finished_date_from_first_final_entry():
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("VERIFIED", D(2026, 7, 2), 2),
        entry("REJECTED", D(2026, 7, 7), 3),
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 20))
    assert (v.outcome, v.finished_date, v.working_days_used) == ("REJECTED", D(2026, 7, 7), 4)
    assert v.sla_state is SlaState.ON_TRACK


def test_cancelled_before_file_complete_has_no_sla():
    tl = [entry("RECEIVED", D(2026, 7, 1), 1), entry("CANCELLED", D(2026, 7, 2), 2)]
    v = derive_permit(None, tl, 9, D(2026, 7, 20))
    assert (v.status, v.outcome, v.finished_date) == ("CANCELLED", "CANCELLED", D(2026, 7, 2))
    assert v.sla_state is None and v.working_days_used is None
    assert v.findings == ()


def test_timestamp_day_is_its_utc_day():
    # Wall clock labelled UTC: 23:30 on 1 Jul stays 1 Jul; an aware +08:00 time is moved to UTC.
    assert day_of(dt.datetime(2026, 7, 1, 23, 30, tzinfo=UTC)) == D(2026, 7, 1)
    wita = dt.timezone(dt.timedelta(hours=8))
    assert day_of(dt.datetime(2026, 7, 2, 7, 0, tzinfo=wita)) == D(2026, 7, 1)
    assert day_of(dt.datetime(2026, 7, 2, 7, 0)) == D(2026, 7, 2)
    assert day_of("2026-07-03") == D(2026, 7, 3)
    assert day_of(None) is None


# --- working days and SLA -------------------------------------------------------------------


def test_open_permit_counts_until_today():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1)]
    v = derive_permit(None, tl, 9, D(2026, 7, 8))  # Thu 2 .. Wed 8: 5 working days
    assert v.working_days_used == 5
    assert v.sla_state is SlaState.ON_TRACK
    assert v.due_date == D(2026, 7, 14)


def test_open_permit_at_risk_from_80_percent():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1)]
    assert derive_permit(None, tl, 5, D(2026, 7, 6)).sla_state is SlaState.ON_TRACK  # 3 of 5
    assert derive_permit(None, tl, 5, D(2026, 7, 7)).sla_state is SlaState.AT_RISK  # 4 of 5


def test_open_permit_breached_after_sla():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1)]
    v = derive_permit(None, tl, 3, D(2026, 7, 7))
    assert v.working_days_used == 4
    assert v.sla_state is SlaState.BREACHED


def test_finished_late_is_breached_and_stays_so():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1), entry("ISSUED", D(2026, 7, 8), 2)]
    v = derive_permit(None, tl, 3, D(2026, 12, 1))
    assert v.working_days_used == 5
    assert v.sla_state is SlaState.BREACHED


def test_no_sla_days_means_no_sla_state():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1)]
    v = derive_permit(None, tl, None, D(2026, 7, 8))
    assert v.working_days_used == 5
    assert v.sla_state is None and v.due_date is None


def test_same_day_service_is_at_risk_all_day_and_on_track_when_issued():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1)]
    assert derive_permit(None, tl, 0, D(2026, 7, 1)).sla_state is SlaState.AT_RISK
    done = tl + [entry("APPROVED", D(2026, 7, 1), 2, 10), entry("ISSUED", D(2026, 7, 1), 3, 11)]
    v = derive_permit(None, done, 0, D(2026, 7, 9))
    assert (v.working_days_used, v.sla_state) == (0, SlaState.ON_TRACK)


def test_public_holiday_inside_the_interval_is_not_counted():
    # Berkas lengkap Fri 14 Aug 2026, issued Wed 19 Aug: Mon 17 is Independence Day, so only
    # Tue 18 and Wed 19 count.
    tl = [
        entry("FILE_COMPLETE", D(2026, 8, 14), 1),
        entry("VERIFIED", D(2026, 8, 18), 2),
        entry("APPROVED", D(2026, 8, 19), 3),
        entry("ISSUED", D(2026, 8, 19), 4, 15),
    ]
    v = derive_permit(None, tl, 2, D(2026, 9, 1))
    assert v.working_days_used == 2
    assert v.sla_state is SlaState.ON_TRACK
    assert v.due_date == D(2026, 8, 19)


def test_holiday_moves_the_due_date_of_an_open_permit():
    tl = [entry("FILE_COMPLETE", D(2026, 8, 13), 1)]
    v = derive_permit(None, tl, 3, D(2026, 8, 17))
    assert v.working_days_used == 1  # Fri 14 only; Mon 17 is a holiday
    assert v.due_date == D(2026, 8, 19)
    assert v.sla_state is SlaState.ON_TRACK


def test_file_complete_after_today_is_a_finding_not_a_crash():
    v = derive_permit(app(file_complete_date=D(2026, 7, 10)), [], 9, D(2026, 7, 1))
    assert v.working_days_used is None and v.sla_state is None
    assert F_FILE_COMPLETE_IN_FUTURE in v.findings


def test_finished_before_file_complete_is_a_finding():
    a = app(file_complete_date=D(2026, 7, 10), finished_date=D(2026, 7, 1), outcome="ISSUED")
    v = derive_permit(a, [], 9, D(2026, 7, 20))
    assert v.working_days_used is None and v.sla_state is None
    assert F_FINISHED_BEFORE_FILE_COMPLETE in v.findings


def test_issued_without_file_complete_is_a_finding():
    a = app(finished_date=D(2026, 7, 1), outcome="ISSUED")
    v = derive_permit(a, [], 9, D(2026, 7, 20))
    assert v.status == "ISSUED"
    assert F_ISSUED_WITHOUT_FILE_COMPLETE in v.findings


# --- clock stops ------------------------------------------------------------------------------


def test_clock_stop_removes_its_days():
    # Complete Wed 1 Jul; stopped Fri 3 (counts), resumed Wed 8: Mon 6, Tue 7, Wed 8 removed.
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("CLOCK_STOPPED", D(2026, 7, 3), 2),
        entry("CLOCK_RESUMED", D(2026, 7, 8), 3),
        entry("APPROVED", D(2026, 7, 9), 4),
        entry("ISSUED", D(2026, 7, 10), 5),
    ]
    v = derive_permit(None, tl, 3, D(2026, 7, 20))
    assert v.stopped == ((D(2026, 7, 3), D(2026, 7, 8)),)
    assert v.working_days_used == 4  # Thu 2, Fri 3, Thu 9, Fri 10
    assert v.sla_state is SlaState.BREACHED
    assert v.findings == ()


def test_open_clock_stop_runs_until_today():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1), entry("CLOCK_STOPPED", D(2026, 7, 2), 2)]
    v = derive_permit(None, tl, 3, D(2026, 7, 20))
    assert v.clock_stopped
    assert v.status == "CLOCK_STOPPED"
    assert v.working_days_used == 1  # only Thu 2
    assert v.sla_state is SlaState.ON_TRACK


def test_stop_not_resumed_before_the_decision_runs_until_it():
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("CLOCK_STOPPED", D(2026, 7, 2), 2),
        entry("REJECTED", D(2026, 7, 10), 3),
    ]
    v = derive_permit(None, tl, 3, D(2026, 7, 20))
    assert not v.clock_stopped
    assert v.stopped == ((D(2026, 7, 2), D(2026, 7, 10)),)
    assert v.working_days_used == 1
    assert v.findings == ()


def test_two_stops_and_a_holiday():
    # Complete Mon 10 Aug; stop Tue 11 -> Thu 13 (12, 13 removed); stop Fri 14 -> Tue 18
    # (Mon 17 holiday anyway, 18 removed); issued Thu 20: 11, 14, 19, 20 count.
    tl = [
        entry("FILE_COMPLETE", D(2026, 8, 10), 1),
        entry("CLOCK_STOPPED", D(2026, 8, 11), 2),
        entry("CLOCK_RESUMED", D(2026, 8, 13), 3),
        entry("CLOCK_STOPPED", D(2026, 8, 14), 4),
        entry("CLOCK_RESUMED", D(2026, 8, 18), 5),
        entry("APPROVED", D(2026, 8, 19), 6),
        entry("ISSUED", D(2026, 8, 20), 7),
    ]
    v = derive_permit(None, tl, 5, D(2026, 9, 1))
    assert v.working_days_used == 4
    assert v.sla_state is SlaState.ON_TRACK


def test_resume_without_stop_is_a_finding():
    tl = [entry("FILE_COMPLETE", D(2026, 7, 1), 1), entry("CLOCK_RESUMED", D(2026, 7, 2), 2)]
    v = derive_permit(None, tl, 9, D(2026, 7, 3))
    assert F_RESUMED_NOT_STOPPED in v.findings
    assert v.working_days_used == 2


def test_stopped_twice_is_a_finding_and_keeps_the_first_stop():
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("CLOCK_STOPPED", D(2026, 7, 2), 2),
        entry("CLOCK_STOPPED", D(2026, 7, 3), 3),
        entry("CLOCK_RESUMED", D(2026, 7, 6), 4),
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 6))
    assert F_STOPPED_TWICE in v.findings
    assert v.stopped == ((D(2026, 7, 2), D(2026, 7, 6)),)


def test_stop_before_file_complete_is_a_finding_and_ignored():
    tl = [entry("RECEIVED", D(2026, 7, 1), 1), entry("CLOCK_STOPPED", D(2026, 7, 1), 2, 10)]
    v = derive_permit(None, tl, 9, D(2026, 7, 3))
    assert F_STOPPED_OUTSIDE_CLOCK in v.findings
    assert v.stopped == ()
    assert v.status == "CLOCK_STOPPED"


def test_work_while_stopped_resumes_the_clock():
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("CLOCK_STOPPED", D(2026, 7, 2), 2),
        entry("VERIFIED", D(2026, 7, 6), 3),
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 7))
    assert F_STATUS_WHILE_STOPPED in v.findings
    assert not v.clock_stopped
    assert v.stopped == ((D(2026, 7, 2), D(2026, 7, 6)),)
    assert v.working_days_used == 2  # Thu 2, Tue 7


# --- invalid transitions ---------------------------------------------------------------------


def test_full_happy_path_has_no_findings():
    tl = [
        entry("RECEIVED", D(2026, 7, 1), 1),
        entry("INCOMPLETE", D(2026, 7, 1), 2, 10),
        entry("INCOMPLETE", D(2026, 7, 2), 3),
        entry("FILE_COMPLETE", D(2026, 7, 3), 4),
        entry("VERIFIED", D(2026, 7, 6), 5),
        entry("VERIFIED", D(2026, 7, 6), 6, 10),
        entry("APPROVED", D(2026, 7, 7), 7),
        entry("ISSUED", D(2026, 7, 8), 8),
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 20))
    assert v.findings == ()
    assert (v.status, v.working_days_used) == ("ISSUED", 3)


@pytest.mark.parametrize(
    ("steps", "finding"),
    [
        (["VERIFIED"], f"{F_INVALID_TRANSITION}:None->VERIFIED"),
        (["RECEIVED", "APPROVED"], f"{F_INVALID_TRANSITION}:RECEIVED->APPROVED"),
        (["RECEIVED", "ISSUED"], f"{F_INVALID_TRANSITION}:RECEIVED->ISSUED"),
        (["FILE_COMPLETE", "VERIFIED", "RECEIVED"], f"{F_INVALID_TRANSITION}:VERIFIED->RECEIVED"),
        (["FILE_COMPLETE", "ISSUED"], f"{F_INVALID_TRANSITION}:FILE_COMPLETE->ISSUED"),
        (["FILE_COMPLETE", "REJECTED", "VERIFIED"], f"{F_AFTER_FINAL}:REJECTED->VERIFIED"),
        (["FILE_COMPLETE", "APPROVED", "ISSUED", "ISSUED"], f"{F_AFTER_FINAL}:ISSUED->ISSUED"),
        (["FILE_COMPLETE", "TELEPORTED"], f"{F_UNKNOWN_STATUS}:TELEPORTED"),
    ],
)
def test_invalid_transitions_are_findings(steps, finding):
    tl = [entry(s, D(2026, 7, 1) + dt.timedelta(days=i), i) for i, s in enumerate(steps)]
    v = derive_permit(None, tl, 9, D(2026, 7, 31))
    assert finding in v.findings


def test_entry_after_decision_does_not_reopen():
    tl = [
        entry("FILE_COMPLETE", D(2026, 7, 1), 1),
        entry("REJECTED", D(2026, 7, 2), 2),
        entry("VERIFIED", D(2026, 7, 3), 3),
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 31))
    assert (v.status, v.outcome, v.finished_date) == ("REJECTED", "REJECTED", D(2026, 7, 2))
    assert f"{F_AFTER_FINAL}:REJECTED->VERIFIED" in v.findings


def test_timeline_with_missing_times_does_not_crash():
    tl = [
        {"status": "RECEIVED", "status_time": None, "status_seq": 1},
        {"status": "FILE_COMPLETE", "status_time": None, "status_seq": None},
    ]
    v = derive_permit(None, tl, 9, D(2026, 7, 1))
    assert v.status == "RECEIVED"  # seq None sorts first
    assert v.file_complete_date is None
