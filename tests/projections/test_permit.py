"""Permit projection: services, applications, status logs, re-derivation (SQLite file)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from projections.models import Permit, PermitTimeline, Service
from projections.permit import open_permit_counts, refresh_open_permits
from projections.writer import apply_batch
from tests.projections import factories as f

D = dt.date
TODAY = D(2026, 7, 7)
PID = "dpmptsp:1"


def project(store, *messages, today: dt.date = TODAY):
    with store.sessions() as s:
        return apply_batch(s, list(messages), today=today)


def permit(store, pid: str = PID) -> Permit | None:
    with store.sessions() as s:
        return s.get(Permit, pid)


def timeline(store, pid: str = PID) -> list[tuple[int, str]]:
    with store.sessions() as s:
        return [
            (t.status_seq, t.status)
            for t in s.scalars(
                select(PermitTimeline)
                .where(PermitTimeline.permit_id == pid)
                .order_by(PermitTimeline.status_seq)
            )
        ]


def test_status_log_before_the_application(store):
    log = f.Log()
    project(store, log.permit(f.status(PID, 1, "RECEIVED", D(2026, 7, 1))))
    p = permit(store)
    assert (p.status, p.outcome, p.application, p.service_ref) == (
        "RECEIVED",
        "IN_PROCESS",
        None,
        None,
    )
    project(store, log.permit(f.application(file_complete_date=D(2026, 7, 1))))
    p = permit(store)
    assert p.service_ref == "dpmptsp:1" and p.registration_no == "REG/1"
    assert p.file_complete_date == D(2026, 7, 1)
    assert p.working_days_used == 4 and p.sla_state is None  # no service yet: no SLA


def test_service_arriving_later_sets_the_sla(store):
    log = f.Log()
    project(
        store,
        log.permit(f.application(file_complete_date=D(2026, 7, 1))),
        log.permit(f.status(PID, 1, "FILE_COMPLETE", D(2026, 7, 1))),
    )
    project(store, log.service(f.service(sla_days=3)))
    p = permit(store)
    assert (p.service_code, p.sla_days, p.sla_state) == ("SIP_DOKTER", 3, "breached")
    assert p.due_date == D(2026, 7, 6)  # Thu 2, Fri 3, Mon 6


def test_service_sla_change_re_derives_its_permits(store):
    log = f.Log()
    project(
        store,
        log.service(f.service(sla_days=3)),
        log.permit(f.application(file_complete_date=D(2026, 7, 1))),
    )
    assert permit(store).sla_state == "breached"
    project(store, log.service(f.service(sla_days=20, position="v2", at=5)))
    p = permit(store)
    assert (p.sla_days, p.sla_state) == (20, "on_track")
    with store.sessions() as s:
        assert s.get(Service, "dpmptsp:1").sla_days == 20


def test_older_service_event_is_ignored(store):
    log = f.Log()
    project(store, log.service(f.service(sla_days=5, position="v2", at=10)))
    project(store, log.service(f.service(sla_days=9, position="v1", at=1)))
    with store.sessions() as s:
        assert s.get(Service, "dpmptsp:1").sla_days == 5


def test_snapshot_reads_arriving_after_streamed_changes_change_nothing(store):
    """Late copies of snapshot reads (no source time) after streamed changes of the same service,
    application and log entry: the streamed versions stay."""
    log = f.Log()

    def read(event: dict) -> dict:
        return {**event, "source_position": "snapshot@1", "source_ts": None}

    old_service = read(f.service(sla_days=9))
    old_app = read(f.application())
    old_step = read(f.status(PID, 1, "RECEIVED", D(2026, 7, 1)))
    project(store, log.service(old_service), log.permit(old_app), log.permit(old_step))
    project(
        store,
        log.service(f.service(sla_days=5, position="v2", at=10)),
        log.permit(f.application(position="a2", at=10, applicant_ref="DPMPTSP:TMPEMOHON:9")),
        log.permit(f.status(PID, 1, "VERIFIED", D(2026, 7, 1), position="s2", at=10)),
    )
    project(store, log.service(old_service), log.permit(old_app), log.permit(old_step))
    with store.sessions() as s:
        assert s.get(Service, "dpmptsp:1").sla_days == 5
    p = permit(store)
    assert p.applicant_ref == "dpmptsp:tmpemohon:9"
    assert timeline(store) == [(1, "VERIFIED")]


APPLICANT = f.person(f.NIK_B, agency="dpmptsp", table="tmpemohon", record_id="7", position="e7")


def test_applicant_resolved_when_their_record_arrives_later(store):
    log = f.Log()
    project(store, log.permit(f.application(applicant_ref="DPMPTSP:TMPEMOHON:7")))
    assert permit(store).applicant_person_id is None
    project(store, log.person(APPLICANT))
    assert permit(store).applicant_person_id is None  # a record no decision placed yet
    project(store, log.identity(f.link(APPLICANT, f.P_B, kind="NEW")))
    p = permit(store)
    assert p.applicant_ref == "dpmptsp:tmpemohon:7"
    assert p.applicant_person_id == f.P_B


def test_applicant_resolved_when_the_decision_came_before_the_record(store):
    log = f.Log()
    project(
        store,
        log.identity(f.link(APPLICANT, f.P_B, kind="NEW")),
        log.permit(f.application(applicant_ref="dpmptsp:tmpemohon:7")),
    )
    assert permit(store).applicant_person_id is None
    project(store, log.person(APPLICANT))
    assert permit(store).applicant_person_id == f.P_B


def test_applicant_follows_their_record_to_another_person(store):
    log = f.Log()
    key = APPLICANT["record_key"]
    project(
        store,
        *log.linked(APPLICANT, f.P_B, kind="NEW"),
        log.permit(f.application(applicant_ref="dpmptsp:tmpemohon:7")),
    )
    assert permit(store).applicant_person_id == f.P_B
    # Updated: the resolver moves the record to another person.
    project(
        store,
        log.identity(f.decision("UNLINK", f.P_B, key, reason="update")),
        log.identity(f.decision("LINK", f.pid(3), key, reason="score")),
    )
    assert permit(store).applicant_person_id == f.pid(3)
    # Its person merged into an older one: the permit follows to the survivor.
    project(store, log.identity(f.decision("MERGE", f.P_A, other_person_ids=[f.pid(3)])))
    assert permit(store).applicant_person_id == f.P_A


def test_timeline_entries_are_unique(store):
    log = f.Log()
    entry = f.status(PID, 1, "RECEIVED", D(2026, 7, 1))
    project(store, log.permit(entry), log.permit(entry))
    project(store, log.permit(entry))
    assert timeline(store) == [(1, "RECEIVED")]


def test_corrected_log_entry_replaces_the_old_one(store):
    log = f.Log()
    project(store, log.permit(f.status(PID, 2, "VERIFIED", D(2026, 7, 2), position="x1", at=1)))
    project(
        store, log.permit(f.status(PID, 2, "FILE_COMPLETE", D(2026, 7, 2), position="x2", at=2))
    )
    project(store, log.permit(f.status(PID, 2, "REJECTED", D(2026, 7, 2), position="x0", at=0)))
    assert timeline(store) == [(2, "FILE_COMPLETE")]


def test_deleted_log_entry_and_deleted_permit(store):
    log = f.Log()
    project(
        store,
        log.permit(f.application()),
        log.permit(f.status(PID, 1, "RECEIVED", D(2026, 7, 1))),
        log.permit(f.status(PID, 2, "FILE_COMPLETE", D(2026, 7, 2))),
    )
    project(store, log.permit(f.deleted(PID, position="d2", at=5, seq=2)))
    assert timeline(store) == [(1, "RECEIVED")]
    assert permit(store).status == "RECEIVED"
    project(store, log.permit(f.deleted(PID, position="d0", at=6)))
    assert permit(store).deleted
    with store.sessions() as s:
        assert open_permit_counts(s)["none"] == 0


def test_rejected_permit(store):
    log = f.Log()
    project(
        store,
        log.service(f.service()),
        log.permit(f.application(file_complete_date=D(2026, 7, 1))),
        log.permit(f.status(PID, 1, "FILE_COMPLETE", D(2026, 7, 1))),
        log.permit(f.status(PID, 2, "REJECTED", D(2026, 7, 3), note="Berkas tidak sah")),
    )
    p = permit(store)
    assert (p.status, p.outcome, p.finished_date, p.working_days_used, p.sla_state) == (
        "REJECTED",
        "REJECTED",
        D(2026, 7, 3),
        2,
        "on_track",
    )


def test_refresh_open_permits_moves_sla_state_with_time(store):
    log = f.Log()
    project(
        store,
        log.service(f.service(sla_days=5)),
        log.permit(f.application(file_complete_date=D(2026, 7, 1))),
        log.permit(f.application("dpmptsp:2", position="a2")),  # file not complete: no clock
        today=D(2026, 7, 2),
    )
    assert permit(store).sla_state == "on_track"
    with store.sessions() as s:
        assert refresh_open_permits(s, D(2026, 7, 2)) == 0
        assert refresh_open_permits(s, D(2026, 7, 7)) == 1
    p = permit(store)
    assert (p.working_days_used, p.sla_state) == (4, "at_risk")
    with store.sessions() as s:
        assert refresh_open_permits(s, D(2026, 7, 9)) == 1
        assert open_permit_counts(s) == {"on_track": 0, "at_risk": 0, "breached": 1, "none": 1}
    assert permit(store).sla_state == "breached"


def test_findings_are_stored(store):
    log = f.Log()
    project(
        store,
        log.permit(f.status(PID, 1, "FILE_COMPLETE", D(2026, 7, 1))),
        log.permit(f.status(PID, 2, "RECEIVED", D(2026, 7, 2))),
    )
    assert permit(store).findings == ["INVALID_TRANSITION:FILE_COMPLETE->RECEIVED"]


def test_many_permits_in_one_batch(store):
    log = f.Log()
    messages = [log.service(f.service())]
    for i in range(1500):  # more than one IN (...) chunk
        pid = f"dpmptsp:{i}"
        messages.append(
            log.permit(f.application(pid, position=f"a{i}", file_complete_date=D(2026, 7, 1)))
        )
        messages.append(
            log.permit(f.status(pid, 1, "FILE_COMPLETE", D(2026, 7, 1), position=f"s{i}"))
        )
    project(store, *messages)
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Permit)) == 1500
        assert s.scalar(select(func.count()).where(Permit.sla_state == "on_track")) == 1500


def test_deleted_service_keeps_its_sla_for_its_permits(store):
    log = f.Log()
    project(
        store,
        log.service(f.service(sla_days=3)),
        log.permit(f.application(file_complete_date=D(2026, 7, 1))),
    )
    gone = {
        "service_ref": "dpmptsp:1",
        "agency": "dpmptsp",
        "code": None,
        "name": None,
        "sla_days": None,
        "active": False,
        "deleted": True,
        "source_position": "v2",
        "source_ts": f.ts(5),
    }
    project(store, log.service(gone))
    with store.sessions() as s:
        svc = s.get(Service, "dpmptsp:1")
        assert (svc.code, svc.sla_days, svc.active, svc.deleted) == ("SIP_DOKTER", 3, False, True)
    assert permit(store).sla_state == "breached"
