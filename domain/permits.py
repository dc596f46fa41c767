"""The permit lifecycle (alur permohonan izin): derive_permit turns an application and its status
log (canonical PermitEvent fields as plain dicts) into a PermitView: status, working days, SLA.

Odd agency data (a log that jumps back, a resume without a stop) becomes finding codes on the
view, never an exception. A status's day is its UTC date: agency wall-clock times come labelled
UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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

# The canonical states every agency's own status codes map onto (its mapping file's code table),
# so that the permits of all agencies share one lifecycle, one turnaround and one SLA rule.
LIFECYCLE = (
    RECEIVED, INCOMPLETE, FILE_COMPLETE, VERIFIED, CLOCK_STOPPED, CLOCK_RESUMED, APPROVED, ISSUED,
    REJECTED, CANCELLED,
)  # fmt: skip

IN_PROCESS = "IN_PROCESS"
FINAL_STATUSES = frozenset({ISSUED, REJECTED, CANCELLED})
OUTCOMES = frozenset({IN_PROCESS, ISSUED, REJECTED, CANCELLED})

# Steps of the main path (clock stops are tracked beside it, see _Clock); a status not
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
    walk = _walk_log(entries)
    findings = list(walk.findings)
    status, outcome = _decide(app, entries, walk, findings)
    if status is None:
        status = _status_without_log(application)
    received, file_complete = _received_date(app, entries), _file_complete_date(app, walk)
    finished = _finished_date(app, walk) if outcome in FINAL_STATUSES else None
    end = finished if finished is not None else today
    if outcome == ISSUED and file_complete is None:
        findings.append(F_ISSUED_WITHOUT_FILE_COMPLETE)
    stops = walk.clock.stops_until(end)
    used, state, due = _measure(file_complete, finished, end, stops, sla_days, findings)
    return PermitView(
        status=status,
        outcome=outcome,
        received_date=received,
        file_complete_date=file_complete,
        finished_date=finished,
        stopped=stops,
        clock_stopped=walk.clock.stopped and finished is None,
        working_days_used=used,
        sla_days=sla_days,
        sla_state=state,
        due_date=due,
        findings=tuple(findings),
    )


# --- step 1: walk the status log in order ---------------------------------------------------


@dataclass
class _Clock:
    """The SLA clock's stops as the log tells them: closed intervals and an open stop."""

    stopped_on: dt.date | None = None  # an undated stop leaves the clock running
    stops: list[Interval] = field(default_factory=list)

    @property
    def stopped(self) -> bool:
        """True while a stop has not been resumed."""
        return self.stopped_on is not None

    def stop(self, day: dt.date | None, phase: str | None) -> str | None:
        """Stop the clock on `day`; the finding code when the stop does not count."""
        if self.stopped_on is not None:
            return F_STOPPED_TWICE
        if phase not in _STOPPABLE:
            return F_STOPPED_OUTSIDE_CLOCK
        self.stopped_on = day
        return None

    def resume(self, day: dt.date | None) -> str | None:
        """Resume the clock on `day`; the finding code when it was not stopped."""
        if self.stopped_on is None:
            return F_RESUMED_NOT_STOPPED
        self.stops.append(_interval(self.stopped_on, day))
        self.stopped_on = None
        return None

    def stops_until(self, end: dt.date) -> tuple[Interval, ...]:
        """Every stop, one not resumed running until `end` (the finish, or today while open)."""
        if self.stopped_on is None:
            return tuple(self.stops)
        return (*self.stops, _interval(self.stopped_on, max(self.stopped_on, end)))


@dataclass
class _Walk:
    """What the status log says, read in order: the main path, the clock and the findings."""

    phase: str | None = None  # last main-path step
    first_complete: dt.date | None = None  # day of the first berkas lengkap entry
    first_final: tuple[str, dt.date | None] | None = None  # the first decision and its day
    clock: _Clock = field(default_factory=_Clock)
    findings: list[str] = field(default_factory=list)


def _walk_log(entries: Iterable[Mapping[str, Any]]) -> _Walk:
    """Check each entry against the lifecycle and track the clock stops."""
    walk = _Walk()
    for e in entries:
        status = e.get("status")
        day = day_of(e.get("status_time"))
        if status == FILE_COMPLETE and walk.first_complete is None:
            walk.first_complete = day
        if walk.phase in FINAL_STATUSES:
            walk.findings.append(f"{F_AFTER_FINAL}:{walk.phase}->{status}")
        elif status == CLOCK_STOPPED:
            _note(walk.findings, walk.clock.stop(day, walk.phase))
        elif status == CLOCK_RESUMED:
            _note(walk.findings, walk.clock.resume(day))
        else:
            _advance(walk, status, day)
    return walk


def _advance(walk: _Walk, status: str | None, day: dt.date | None) -> None:
    """One main-path entry: an unknown status or a transition not allowed is a finding."""
    if status not in ALLOWED and status not in FINAL_STATUSES:
        walk.findings.append(f"{F_UNKNOWN_STATUS}:{status}")
        return
    if walk.clock.stopped and status not in FINAL_STATUSES:
        # Work went on while the clock was stopped: count it as resumed from here.
        walk.findings.append(F_STATUS_WHILE_STOPPED)
        walk.clock.resume(day)
    if status != walk.phase and status not in ALLOWED.get(walk.phase, frozenset()):
        walk.findings.append(f"{F_INVALID_TRANSITION}:{walk.phase}->{status}")
    walk.phase = status
    if status in FINAL_STATUSES and walk.first_final is None:
        walk.first_final = (status, day)


def _note(findings: list[str], code: str | None) -> None:
    if code is not None:
        findings.append(code)


# --- step 2: status and outcome -------------------------------------------------------------


def _decide(
    app: Mapping[str, Any], entries: list[Mapping[str, Any]], walk: _Walk, findings: list[str]
) -> tuple[str | None, str]:
    """(status, outcome): the application's final outcome wins, then a decision in the log,
    else the latest entry, in process. Appends the outcome's findings."""
    app_outcome = app.get("outcome")
    if app_outcome is not None and app_outcome not in OUTCOMES:
        findings.append(f"{F_UNKNOWN_OUTCOME}:{app_outcome}")
        app_outcome = None
    if app_outcome in FINAL_STATUSES:
        if walk.first_final is not None and walk.first_final[0] != app_outcome:
            findings.append(f"{F_OUTCOME_CONFLICT}:{app_outcome}/{walk.first_final[0]}")
        return app_outcome, app_outcome
    if walk.phase in FINAL_STATUSES:
        return walk.phase, walk.phase  # entries logged after the decision do not reopen it
    return _latest_status(entries), IN_PROCESS


def _status_without_log(application: Mapping[str, Any] | None) -> str | None:
    """The status an application implies when the log says nothing."""
    if application is None:
        return None
    return FILE_COMPLETE if application.get("file_complete_date") is not None else RECEIVED


def _latest_status(entries: list[Mapping[str, Any]]) -> str | None:
    return entries[-1].get("status") if entries else None


# --- step 3: dates --------------------------------------------------------------------------


def _received_date(app: Mapping[str, Any], entries: list[Mapping[str, Any]]) -> dt.date | None:
    """The application's received date, else the day of the first RECEIVED entry."""
    received = day_of(app.get("received_date"))
    if received is None:
        received = next(
            (day_of(e.get("status_time")) for e in entries if e.get("status") == RECEIVED), None
        )
    return received


def _file_complete_date(app: Mapping[str, Any], walk: _Walk) -> dt.date | None:
    """Berkas lengkap: the application's date first, else the first FILE_COMPLETE entry."""
    return day_of(app.get("file_complete_date")) or walk.first_complete


def _finished_date(app: Mapping[str, Any], walk: _Walk) -> dt.date | None:
    """The day a finished permit was decided: stated, logged, or (neither) its received date."""
    finished = day_of(app.get("finished_date"))
    if finished is None and walk.first_final is not None:
        finished = walk.first_final[1]
    if finished is None:
        finished = day_of(app.get("received_date"))  # final, but no date stated anywhere
    return finished


# --- step 4: working days and SLA -----------------------------------------------------------


def _measure(
    file_complete: dt.date | None,
    finished: dt.date | None,
    end: dt.date,
    stops: tuple[Interval, ...],
    sla_days: int | None,
    findings: list[str],
) -> tuple[int | None, SlaState | None, dt.date | None]:
    """(working days used, SLA state, due date) from berkas lengkap to `end`; all None without
    a complete file. An `end` before berkas lengkap is a finding, and nothing is counted."""
    if file_complete is None:
        return None, None, None
    sla = sla_days if sla_days is not None and sla_days >= 0 else None
    used: int | None = None
    state: SlaState | None = None
    if end < file_complete:
        findings.append(
            F_FINISHED_BEFORE_FILE_COMPLETE if finished is not None else F_FILE_COMPLETE_IN_FUTURE
        )
    else:
        used = working_days_between(file_complete, end, stops)
        if sla is not None:
            state = sla_state(file_complete, end, sla, finished is not None, stops)
    due = add_working_days(file_complete, sla, stops) if sla is not None else None
    return used, state, due


def _interval(stopped_on: dt.date | None, resumed_on: dt.date | None) -> Interval:
    # A stop without dates removes nothing; a resume dated before its stop is clamped.
    lo = stopped_on or resumed_on or dt.date.min
    hi = resumed_on or lo
    return (lo, max(lo, hi))
