"""Permit projection: services, permit applications and their status logs -> permit rows whose
status, working days and SLA state come from domain.permits.derive_permit.

A permit is re-derived whenever anything it depends on changes: its own events, its service's
SLA, its applicant's source record arriving or changing person (applicant_person_id), and time
(refresh_open_permits, on a timer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.permits import FINAL_STATUSES, IN_PROCESS, derive_permit

from .facts import is_stale, normalize_ref, to_json, utc_naive
from .models import CitizenSourceRecord, Permit, PermitTimeline, Service
from .rows import changed, chunks, delete_keys, lock_names, rows_where_in, write_rows

APPLICATION = "APPLICATION"
STATUS = "STATUS"
DELETED = "DELETED"

# What an APPLICATION event states about the permit (a full snapshot of the application row).
APPLICATION_FIELDS = (
    "service_ref",
    "applicant_ref",
    "registration_no",
    "received_date",
    "file_complete_date",
    "finished_date",
    "outcome",
    "permit_number",
)
UNKNOWN_SERVICE = "unknown"  # metric label of a permit whose service has not arrived

Observation = tuple[str, int]  # (service code, working days) of a permit that just finished


def apply_service_events(session: Session, events: list[Mapping[str, Any]]) -> set[str]:
    """Merge ServiceEvents (in log order) into service rows; the service_refs that changed."""
    if not events:
        return set()
    existing = {
        r["service_ref"]: r
        for r in rows_where_in(
            session, Service, Service.service_ref, [e["service_ref"] for e in events], lock=True
        )
    }
    state = dict(existing)
    touched: set[str] = set()
    for e in events:
        ref = e["service_ref"]
        row = state.get(ref)
        position, ts = str(e["source_position"]), utc_naive(e.get("source_ts"))
        if row is not None and (
            row["source_position"] == position or is_stale(ts, row["source_ts"])
        ):
            continue
        new = dict(row) if row is not None else {"service_ref": ref, "deleted": False}
        # Null is "not stated" (a deleted type's event states nothing but its key).
        for name in ("agency", "code", "name", "sla_days", "unit", "active"):
            value = e.get(name)
            if value is not None or name not in new:
                new[name] = value
        new.update(deleted=bool(e.get("deleted")), source_position=position, source_ts=ts)
        state[ref] = new
        touched.add(ref)
    inserts = [state[r] for r in sorted(touched) if r not in existing]
    updates = [
        state[r] for r in sorted(touched) if r in existing and changed(existing[r], state[r])
    ]
    write_rows(session, Service, inserts, updates)
    return touched


def project_permits(
    session: Session,
    events: list[Mapping[str, Any]],
    today: dt.date,
    *,
    services: Iterable[str] = (),
    applicant_refs: Iterable[str] = (),
) -> list[Observation]:
    """Apply PermitEvents (in log order) and re-derive every permit they, the changed
    `services` or the newly seen applicant records touch; the permits that just finished."""
    _lock_joins(session, events, services, applicant_refs)
    ids = {e["permit_id"] for e in events}
    ids |= _ids_where(session, Permit.service_ref, services)
    ids |= _ids_where(session, Permit.applicant_ref, applicant_refs)
    if not ids:
        return []
    original = {
        r["permit_id"]: r
        for r in rows_where_in(
            session, Permit, Permit.permit_id, ids, lock=True, order_by=Permit.permit_id
        )
    }
    state = {pid: dict(row) for pid, row in original.items()}
    timeline_before = _timelines(session, ids)
    timeline = dict(timeline_before)
    for e in events:
        apply_permit_event(state, timeline, e)
    write_timeline(session, timeline_before, timeline)
    return derive_and_write_permits(session, original, state, timeline, today)


def _lock_joins(
    session: Session,
    events: list[Mapping[str, Any]],
    services: Iterable[str],
    applicant_refs: Iterable[str],
) -> None:
    """Lock the services and applicant records this transaction joins permits with, before it
    reads either side of the join.

    A permit and its service (or its applicant's record) live on different partitions, so two
    workers may write them at once. Without a lock each transaction misses the other's
    uncommitted row: the one adding the service finds no permit of it yet, the one adding the
    permit finds no service yet, and the permit keeps no SLA for good (seen with two workers).
    With it, the later of the two waits for the earlier's commit and then reads its rows. The
    existing permits a changed service or record reaches need no name lock: their row locks
    already order the two transactions."""
    names = {f"service:{s}" for s in services}
    names |= {f"record:{r}" for r in applicant_refs}
    for e in events:
        if e.get("service_ref") is not None:
            names.add(f"service:{e['service_ref']}")
        if e.get("applicant_ref") is not None:
            names.add(f"record:{normalize_ref(e['applicant_ref'])}")
    lock_names(session, names)


def refresh_open_permits(session: Session, today: dt.date) -> int:
    """Re-derive the open permits whose SLA clock runs (time passes); the number of rows that
    changed. Commits (one transaction per call)."""
    try:
        ids = [
            pid
            for (pid,) in session.execute(
                select(Permit.permit_id)
                .where(
                    Permit.deleted.is_(False),
                    Permit.outcome == IN_PROCESS,
                    Permit.file_complete_date.is_not(None),
                )
                .order_by(Permit.permit_id)
            )
        ]
        count = 0
        for part in chunks(ids, 500):
            original = {
                r["permit_id"]: r
                for r in rows_where_in(
                    session, Permit, Permit.permit_id, part, lock=True, order_by=Permit.permit_id
                )
            }
            state = {pid: dict(row) for pid, row in original.items()}
            timeline = _timelines(session, part)
            derive_and_write_permits(session, original, state, timeline, today)
            count += sum(1 for pid in state if changed(original[pid], state[pid]))
        session.commit()
        return count
    except BaseException:
        session.rollback()
        raise


def open_permit_counts(session: Session) -> dict[str, int]:
    """Open permits per SLA state ('none' for those without an SLA clock yet)."""
    counts = {"on_track": 0, "at_risk": 0, "breached": 0, "none": 0}
    rows = session.execute(
        select(Permit.sla_state, func.count())
        .where(Permit.deleted.is_(False), Permit.outcome == IN_PROCESS)
        .group_by(Permit.sla_state)
    )
    for state, n in rows:
        counts[state or "none"] = counts.get(state or "none", 0) + int(n)
    return counts


# --- internals -------------------------------------------------------------------------------


def _ids_where(session: Session, column: Any, keys: Iterable[Any]) -> set[str]:
    wanted = sorted({k for k in keys if k is not None})
    out: set[str] = set()
    for part in chunks(wanted):
        out.update(
            pid for (pid,) in session.execute(select(Permit.permit_id).where(column.in_(part)))
        )
    return out


TimelineKey = tuple[str, int]


def _timelines(session: Session, ids: Iterable[str]) -> dict[TimelineKey, dict[str, Any] | None]:
    return {
        (r["permit_id"], r["status_seq"]): r
        for r in rows_where_in(session, PermitTimeline, PermitTimeline.permit_id, ids)
    }


def _new_permit(permit_id: str, agency: str | None) -> dict[str, Any]:
    row = {c.name: None for c in Permit.__table__.columns}
    row.update(permit_id=permit_id, agency=agency, deleted=False, clock_stopped=False, findings=[])
    return row


def apply_permit_event(
    state: dict[str, dict[str, Any]],
    timeline: dict[TimelineKey, dict[str, Any] | None],
    e: Mapping[str, Any],
) -> None:
    pid = e["permit_id"]
    kind = str(e.get("kind") or "").upper()
    position, ts = str(e["source_position"]), utc_naive(e.get("source_ts"))
    row = state.get(pid)
    if row is None:
        row = state[pid] = _new_permit(pid, e.get("agency"))
    applied = False
    seq = e.get("status_seq")
    if kind == STATUS and seq is not None:
        key = (pid, int(seq))
        old = timeline.get(key)
        if old is None or not (
            old["source_position"] == position or is_stale(ts, old["source_ts"])
        ):
            timeline[key] = {
                "permit_id": pid,
                "status_seq": int(seq),
                "status": e.get("status"),
                "status_time": utc_naive(e.get("status_time")),
                "note": e.get("status_note"),
                "source_position": position,
                "source_ts": ts,
            }
            applied = True
        # A status event may name service and applicant before the application arrives.
        for name in ("service_ref", "applicant_ref"):
            if row[name] is None and e.get(name) is not None:
                row[name] = _ref(name, e[name])
    elif kind == DELETED and seq is not None:
        key = (pid, int(seq))
        old = timeline.get(key)
        if old is not None and not is_stale(ts, old["source_ts"]):
            timeline[key] = None  # the log entry was deleted in the source
            applied = True
    elif kind in (APPLICATION, DELETED):
        app = row["application"] or {}
        if app.get("source_position") == position or is_stale(ts, utc_naive(app.get("source_ts"))):
            return
        if kind == APPLICATION:
            new_app = {name: to_json(e.get(name)) for name in APPLICATION_FIELDS}
            for name in ("service_ref", "applicant_ref"):
                new_app[name] = _ref(name, e.get(name)) or app.get(name)  # never un-stated
            row["deleted"] = False
        else:
            new_app = dict(app)
            row["deleted"] = True
        new_app["source_position"] = position
        new_app["source_ts"] = to_json(ts)
        row["application"] = new_app
        if e.get("agency"):
            row["agency"] = e["agency"]
        applied = True
    if applied:
        row["source_position"] = position
        if ts is not None and (row["updated_at"] is None or ts > row["updated_at"]):
            row["updated_at"] = ts


def _ref(name: str, value: Any) -> Any:
    return normalize_ref(value) if name == "applicant_ref" else value


def write_timeline(
    session: Session,
    before: Mapping[TimelineKey, dict[str, Any] | None],
    after: Mapping[TimelineKey, dict[str, Any] | None],
) -> None:
    inserts, updates, gone = [], [], []
    for key in sorted(after):
        new = after[key]
        old = before.get(key)
        if new is None:
            if old is not None:
                gone.append(key)
        elif old is None:
            inserts.append(new)
        elif changed(old, new):
            updates.append(new)
    write_rows(session, PermitTimeline, inserts, updates)
    if gone:
        delete_keys(
            session, PermitTimeline, (PermitTimeline.permit_id, PermitTimeline.status_seq), gone
        )


def derive_and_write_permits(
    session: Session,
    original: Mapping[str, Mapping[str, Any]],
    state: dict[str, dict[str, Any]],
    timeline: Mapping[TimelineKey, dict[str, Any] | None],
    today: dt.date,
) -> list[Observation]:
    for row in state.values():
        app = row["application"] or {}
        for name in ("service_ref", "applicant_ref"):
            if app.get(name) is not None:
                row[name] = app[name]
    services = {
        r["service_ref"]: r
        for r in rows_where_in(
            session,
            Service,
            Service.service_ref,
            {r["service_ref"] for r in state.values()} - {None},
        )
    }
    refs = {r["applicant_ref"] for r in state.values()} - {None}
    persons = {
        r["ref"]: r["person_id"]
        for r in rows_where_in(session, CitizenSourceRecord, CitizenSourceRecord.ref, refs)
        if not r["deleted"]
    }
    entries: dict[str, list[dict[str, Any]]] = {pid: [] for pid in state}
    for (pid, _seq), entry in timeline.items():
        if entry is not None and pid in entries:
            entries[pid].append(entry)

    finished: list[Observation] = []
    inserts, updates = [], []
    for pid in sorted(state):
        row = state[pid]
        app = row["application"] or {}
        service = services.get(row["service_ref"]) or {}
        view = derive_permit(row["application"], entries[pid], service.get("sla_days"), today)
        row.update(
            service_code=service.get("code"),
            service_name=service.get("name"),
            sla_days=service.get("sla_days"),
            applicant_person_id=persons.get(row["applicant_ref"]),
            registration_no=app.get("registration_no"),
            permit_number=app.get("permit_number"),
            received_date=view.received_date,
            file_complete_date=view.file_complete_date,
            finished_date=view.finished_date,
            status=view.status,
            outcome=view.outcome,
            working_days_used=view.working_days_used,
            sla_state=view.sla_state.value if view.sla_state else None,
            due_date=view.due_date,
            clock_stopped=view.clock_stopped,
            findings=list(view.findings),
        )
        old = original.get(pid)
        was_final = old is not None and old["outcome"] in FINAL_STATUSES
        if (
            view.final
            and not was_final
            and not row["deleted"]
            and view.working_days_used is not None
        ):
            finished.append((row["service_code"] or UNKNOWN_SERVICE, view.working_days_used))
        if old is None:
            inserts.append(row)
        elif changed(old, row):
            updates.append(row)
    write_rows(session, Permit, inserts, updates)
    return finished
