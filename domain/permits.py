"""The permit lifecycle (alur permohonan izin): from an application and its status log to where the
permit stands, in working days against its service standard. Pure: plain data in, a PermitView out.

Inputs are canonical PermitEvent fields as plain dicts: `application` is the latest APPLICATION
event of the permit (or None before it arrived), `timeline` its STATUS entries in any order.
Timestamps follow the hub's convention for source clocks: a naive agency wall-clock time is
labelled UTC (connectors/avro.py), so the date of a status is its UTC date.

Expected oddities of agency data (a log that jumps back, a clock resumed that never stopped, an
issue before berkas lengkap) become finding codes on the view, never exceptions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.workdays import Interval, SlaState, add_working_days, sla_state, working_days_between

# Lifecycle statuses of the status log (canonical PermitEvent.status).
RECEIVED = "RECEIVED"
INCOMPLETE = "INCOMPLETE"
FILE_COMPLETE = "FILE_COMPLETE"
VERIFIED = "VERIFIED"
CLOCK_STOPPED = "CLOCK_STOPPED"
CLOCK_RESUMED = "CLOCK_RESUMED"
APPROVED = "APPROVED"
ISSUED = "ISSUED"
REJECTED = "REJECTED"
CANCELLED = "CANCELLED"

IN_PROCESS = "IN_PROCESS"
FINAL_STATUSES = frozenset({ISSUED, REJECTED, CANCELLED})
OUTCOMES = frozenset({IN_PROCESS, ISSUED, REJECTED, CANCELLED})

# Steps of the main path (clock stops are tracked beside it, see derive_permit); a status not
# listed after another is an invalid transition. A repeat of the same non-final step is allowed
# (an agency may log "verified" twice).
_START = frozenset({RECEIVED, INCOMPLETE, FILE_COMPLETE})
ALLOWED: Mapping[str | None, frozenset[str]] = {
    None: _START,
    RECEIVED: frozenset({INCOMPLETE, FILE_COMPLETE, REJECTED, CANCELLED}),
    INCOMPLETE: frozenset({FILE_COMPLETE, REJECTED, CANCELLED}),
    FILE_COMPLETE: frozenset({VERIFIED, APPROVED, REJECTED, CANCELLED}),
    VERIFIED: frozenset({APPROVED, REJECTED, CANCELLED}),
    APPROVED: frozenset({ISSUED, CANCELLED}),
}
# Where the SLA clock may be stopped: it runs from berkas lengkap until the decision.
_STOPPABLE = frozenset({FILE_COMPLETE, VERIFIED, APPROVED})

# Finding codes (a permit's data-quality report). Transition codes carry the statuses:
# "INVALID_TRANSITION:VERIFIED->RECEIVED", "AFTER_FINAL:ISSUED->VERIFIED".
F_INVALID_TRANSITION = "INVALID_TRANSITION"
F_AFTER_FINAL = "AFTER_FINAL"
F_UNKNOWN_STATUS = "UNKNOWN_STATUS"
F_STOPPED_TWICE = "CLOCK_STOPPED_TWICE"
F_RESUMED_NOT_STOPPED = "CLOCK_RESUMED_NOT_STOPPED"
F_STOPPED_OUTSIDE_CLOCK = "CLOCK_STOPPED_OUTSIDE_SLA_CLOCK"
F_STATUS_WHILE_STOPPED = "STATUS_WHILE_CLOCK_STOPPED"
F_FINISHED_BEFORE_FILE_COMPLETE = "FINISHED_BEFORE_FILE_COMPLETE"
F_FILE_COMPLETE_IN_FUTURE = "FILE_COMPLETE_AFTER_TODAY"
F_ISSUED_WITHOUT_FILE_COMPLETE = "ISSUED_WITHOUT_FILE_COMPLETE"
F_OUTCOME_CONFLICT = "OUTCOME_CONFLICT"
F_UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"


@dataclass(frozen=True)
class PermitView:
    """Where one permit stands: lifecycle, dates, working days used and SLA state."""

    status: str | None
    outcome: str
    received_date: dt.date | None
    file_complete_date: dt.date | None
    finished_date: dt.date | None
    stopped: tuple[Interval, ...]
    clock_stopped: bool  # the SLA clock is stopped right now (open permit)
    working_days_used: int | None
    sla_days: int | None
    sla_state: SlaState | None
    due_date: dt.date | None  # last working day that still meets the SLA
    findings: tuple[str, ...]

    @property
    def final(self) -> bool:
        """True once issued, rejected or cancelled."""
        return self.outcome in FINAL_STATUSES


def day_of(value: Any) -> dt.date | None:
    """The calendar day of a date or timestamp (aware timestamps: their UTC day, see above)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {type(value).__name__}")


def _instant(value: Any) -> dt.datetime:
    """A sortable naive-UTC instant (None sorts first)."""
    if value is None:
        return dt.datetime.min
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    raise TypeError(f"not a timestamp: {type(value).__name__}")


def timeline_order(entry: Mapping[str, Any]) -> tuple[dt.datetime, int]:
    """Sort key of a status entry: (status_time, status_seq)."""
    seq = entry.get("status_seq")
    return _instant(entry.get("status_time")), int(seq) if seq is not None else -1


def derive_permit(
    application: Mapping[str, Any] | None,
    timeline: Iterable[Mapping[str, Any]],
    sla_days: int | None,
    today: dt.date,
) -> PermitView:
    """The permit's lifecycle state from its application and status log, as of `today`.

    Status is the latest log entry by (status_time, status_seq), unless the application's
    outcome says the permit is finished. Working days run from berkas lengkap to the finish (or
    today) minus clock-stopped days; the SLA state is None without an SLA or a complete file.
    """
    app = application or {}
    entries = sorted(timeline, key=timeline_order)
    findings: list[str] = []

    # --- walk the status log: transitions, clock stops, first berkas lengkap and finish ------
    phase: str | None = None  # last main-path step
    stopped_on: dt.date | None = None
    stops: list[Interval] = []
    first_complete: dt.date | None = None
    first_final: tuple[str, dt.date | None] | None = None
    status: str | None
    for e in entries:
        status = e.get("status")
        day = day_of(e.get("status_time"))
        if status == FILE_COMPLETE and first_complete is None:
            first_complete = day
        if phase in FINAL_STATUSES:
            findings.append(f"{F_AFTER_FINAL}:{phase}->{status}")
            continue
        if status == CLOCK_STOPPED:
            if stopped_on is not None:
                findings.append(F_STOPPED_TWICE)
            elif phase not in _STOPPABLE:
                findings.append(F_STOPPED_OUTSIDE_CLOCK)
            else:
                stopped_on = day
            continue
        if status == CLOCK_RESUMED:
            if stopped_on is None:
                findings.append(F_RESUMED_NOT_STOPPED)
            else:
                stops.append(_interval(stopped_on, day))
                stopped_on = None
            continue
        if status not in ALLOWED and status not in FINAL_STATUSES:
            findings.append(f"{F_UNKNOWN_STATUS}:{status}")
            continue
        if stopped_on is not None and status not in FINAL_STATUSES:
            # Work went on while the clock was stopped: count it as resumed from here.
            findings.append(F_STATUS_WHILE_STOPPED)
            stops.append(_interval(stopped_on, day))
            stopped_on = None
        if status != phase and status not in ALLOWED.get(phase, frozenset()):
            findings.append(f"{F_INVALID_TRANSITION}:{phase}->{status}")
        phase = status
        if status in FINAL_STATUSES and first_final is None:
            first_final = (status, day)

    # --- status and outcome: the application's final outcome wins --------------------------
    app_outcome = app.get("outcome")
    if app_outcome is not None and app_outcome not in OUTCOMES:
        findings.append(f"{F_UNKNOWN_OUTCOME}:{app_outcome}")
        app_outcome = None
    latest = _latest_status(entries)
    if app_outcome in FINAL_STATUSES:
        status = app_outcome
        outcome = app_outcome
        if first_final is not None and first_final[0] != app_outcome:
            findings.append(f"{F_OUTCOME_CONFLICT}:{app_outcome}/{first_final[0]}")
    elif phase in FINAL_STATUSES:
        status = phase  # entries logged after the decision do not reopen it
        outcome = phase
    else:
        status = latest
        outcome = IN_PROCESS
    if status is None:
        if app.get("file_complete_date") is not None:
            status = FILE_COMPLETE
        elif app.get("received_date") is not None or application is not None:
            status = RECEIVED

    # --- dates ------------------------------------------------------------------------------
    received = day_of(app.get("received_date"))
    if received is None and entries:
        received = next(
            (day_of(e.get("status_time")) for e in entries if e.get("status") == RECEIVED), None
        )
    file_complete = day_of(app.get("file_complete_date")) or first_complete
    finished: dt.date | None = None
    if outcome in FINAL_STATUSES:
        finished = day_of(app.get("finished_date"))
        if finished is None and first_final is not None:
            finished = first_final[1]
        if finished is None:
            finished = day_of(app.get("received_date"))  # final, but no date stated anywhere
    end = finished if finished is not None else today
    clock_stopped = stopped_on is not None and finished is None
    if stopped_on is not None:
        # Not resumed: stopped until the finish, or until today while open.
        stops.append(_interval(stopped_on, max(stopped_on, end)))
    if outcome == ISSUED and file_complete is None:
        findings.append(F_ISSUED_WITHOUT_FILE_COMPLETE)

    # --- working days and SLA -------------------------------------------------------------
    used: int | None = None
    state: SlaState | None = None
    due: dt.date | None = None
    if file_complete is not None:
        if end < file_complete:
            findings.append(
                F_FINISHED_BEFORE_FILE_COMPLETE
                if finished is not None
                else F_FILE_COMPLETE_IN_FUTURE
            )
        else:
            used = working_days_between(file_complete, end, stops)
            if sla_days is not None and sla_days >= 0:
                state = sla_state(file_complete, end, sla_days, finished is not None, stops)
        if sla_days is not None and sla_days >= 0:
            due = add_working_days(file_complete, sla_days, stops)

    return PermitView(
        status=status,
        outcome=outcome,
        received_date=received,
        file_complete_date=file_complete,
        finished_date=finished,
        stopped=tuple(stops),
        clock_stopped=clock_stopped,
        working_days_used=used,
        sla_days=sla_days,
        sla_state=state,
        due_date=due,
        findings=tuple(findings),
    )


def _latest_status(entries: list[Mapping[str, Any]]) -> str | None:
    return entries[-1].get("status") if entries else None


def _interval(stopped_on: dt.date | None, resumed_on: dt.date | None) -> Interval:
    # A stop without dates removes nothing; a resume dated before its stop is clamped.
    lo = stopped_on or resumed_on or dt.date.min
    hi = resumed_on or lo
    return (lo, max(lo, hi))
