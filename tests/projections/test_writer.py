"""apply_batch: one transaction, checkpoints, idempotence (SQLite file)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from projections.facts import DEFAULT_TOPICS, Message
from projections.models import Checkpoint, Citizen, PermitTimeline
from projections.writer import apply_batch, read_checkpoints, set_checkpoints
from tests.projections import factories as f
from tests.projections.harness import snapshot

TODAY = dt.date(2026, 7, 20)
D = dt.date


def scenario(log: f.Log) -> list[Message]:
    """A little of everything: a citizen from two agencies (and the decisions linking them), a
    service, a permit and its log."""
    resident = f.person(name="WA ODE SITI", address="Jl. Poros Laworo", birth_place="Muna")
    applicant = f.person(
        agency="dpmptsp",
        table="tmpemohon",
        record_id="1",
        position="e1",
        name="Wa Ode Siti",
        occupation="Dokter",
    )
    return [
        log.person(resident),
        log.person(applicant, partition=1),
        log.identity(f.link(resident, f.P_A, kind="NEW")),
        log.identity(f.link(applicant, f.P_A)),
        log.service(f.service()),
        log.permit(f.application(file_complete_date=D(2026, 7, 1), received_date=D(2026, 7, 1))),
        log.permit(f.status("dpmptsp:1", 1, "RECEIVED", D(2026, 7, 1))),
        log.permit(f.status("dpmptsp:1", 2, "FILE_COMPLETE", D(2026, 7, 1), hour=10)),
        log.permit(f.status("dpmptsp:1", 3, "VERIFIED", D(2026, 7, 3))),
    ]


def test_batch_projects_all_four_topics(store):
    with store.sessions() as s:
        result = apply_batch(s, scenario(f.Log()), today=TODAY)
    assert result.applied == 9
    assert result.per_topic[DEFAULT_TOPICS.permit] == 4
    assert result.per_topic[DEFAULT_TOPICS.identity] == 2
    assert result.decisions == {"NEW": 1, "LINK": 1}
    rows = snapshot(store.engine)
    assert len(rows["citizen"]) == 1
    assert len(rows["citizen_source_record"]) == 2
    assert len(rows["permit_timeline"]) == 3
    (permit,) = rows["permit"]
    assert permit["status"] == "VERIFIED"
    assert permit["service_code"] == "SIP_DOKTER"
    assert permit["applicant_person_id"] == f.P_A
    assert permit["working_days_used"] == 13  # 2 Jul .. 20 Jul
    assert permit["sla_state"] == "breached"


def test_same_batch_twice_changes_nothing(store):
    batch = scenario(f.Log())
    with store.sessions() as s:
        apply_batch(s, batch, today=TODAY)
    first = snapshot(store.engine)
    with store.sessions() as s:
        result = apply_batch(s, batch, today=TODAY)
    assert result.applied == 0
    assert snapshot(store.engine) == first


def test_republished_events_change_nothing(store):
    # At-least-once upstream: the same changes again, at new offsets (beyond the checkpoint).
    log = f.Log()
    with store.sessions() as s:
        apply_batch(s, scenario(log), today=TODAY)
    first = snapshot(store.engine)
    again = scenario(log)
    assert again[0].offset > 0
    with store.sessions() as s:
        result = apply_batch(s, again, today=TODAY)
    assert result.applied == 9
    assert snapshot(store.engine) == first


def test_messages_at_or_below_checkpoint_are_skipped(store):
    log = f.Log()
    topic = DEFAULT_TOPICS.person
    with store.sessions() as s:
        set_checkpoints(s, {(topic, 0): 1})
    batch = [
        log.person(f.person(name="A", position="p1")),  # offset 0: skipped
        log.person(f.person(name="B", position="p2", at=1)),  # offset 1: skipped
        log.person(f.person(name="C", position="p3", at=2)),  # offset 2: applied
        log.identity(f.link(f.person(), f.P_A)),
    ]
    with store.sessions() as s:
        result = apply_batch(s, batch, today=TODAY)
        assert result.applied == 2
        assert s.scalar(select(Citizen.name)) == "C"
        assert read_checkpoints(s) == {(topic, 0): 2, (DEFAULT_TOPICS.identity, 0): 0}


def test_checkpoint_per_partition_and_topic(store):
    log = f.Log()
    batch = [
        log.person(f.person(record_id="1", position="p1"), partition=0),
        log.person(f.person(record_id="2", position="p2"), partition=0),
        log.person(f.person(f.NIK_B, record_id="3", position="p3"), partition=2),
        log.service(f.service(), partition=1),
    ]
    with store.sessions() as s:
        apply_batch(s, batch, today=TODAY)
        assert read_checkpoints(s) == {
            (DEFAULT_TOPICS.person, 0): 1,
            (DEFAULT_TOPICS.person, 2): 0,
            (DEFAULT_TOPICS.service, 1): 0,
        }


def test_tombstones_and_foreign_topics_advance_the_checkpoint(store):
    log = f.Log()
    batch = [
        log.tombstone(DEFAULT_TOPICS.person, f.NIK_A),
        Message("mpp.something.else", 0, 7, b"k", {"x": 1}),
    ]
    with store.sessions() as s:
        result = apply_batch(s, batch, today=TODAY)
        assert result.applied == 2
        assert read_checkpoints(s) == {(DEFAULT_TOPICS.person, 0): 0, ("mpp.something.else", 0): 7}
        assert s.scalar(select(func.count()).select_from(Citizen)) == 0


def test_a_failing_batch_leaves_nothing_behind(store):
    log = f.Log()
    broken = f.person(name="X", position="px")
    del broken["agency"]  # not a PersonFact: the batch fails as a whole
    batch = [
        log.person(f.person(name="OK")),
        log.identity(f.link(f.person(), f.P_A, kind="NEW")),
        log.permit(f.status("dpmptsp:1", 1, "RECEIVED", D(2026, 7, 1))),
        log.person(broken),
    ]
    with store.sessions() as s:
        with pytest.raises(KeyError):
            apply_batch(s, batch, today=TODAY)
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Citizen)) == 0
        assert s.scalar(select(func.count()).select_from(PermitTimeline)) == 0
        assert s.scalar(select(func.count()).select_from(Checkpoint)) == 0
    # The session is usable again: the good part goes through on its own.
    with store.sessions() as s:
        apply_batch(s, batch[:3], today=TODAY)
        assert s.scalar(select(Citizen.name)) == "OK"


def test_batch_boundaries_do_not_change_the_result(store, tmp_path):
    from projections.store import open_store

    log = f.Log()
    events = scenario(log) + [
        log.permit(f.status("dpmptsp:1", 4, "APPROVED", D(2026, 7, 6))),
        log.person(f.person(address="Jl. Baru", position="p9", at=30)),
        log.permit(f.status("dpmptsp:1", 5, "ISSUED", D(2026, 7, 7))),
        log.permit(
            f.application(
                position="a2",
                at=40,
                file_complete_date=D(2026, 7, 1),
                received_date=D(2026, 7, 1),
                finished_date=D(2026, 7, 7),
                outcome="ISSUED",
                permit_number="503/1/2026",
            )
        ),
    ]
    with store.sessions() as s:
        apply_batch(s, events, today=TODAY)
    one_by_one = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        for m in events:
            with one_by_one.sessions() as s:
                apply_batch(s, [m], today=TODAY)
        assert snapshot(one_by_one.engine) == snapshot(store.engine)
    finally:
        one_by_one.close()
    permit = snapshot(store.engine)["permit"][0]
    assert (permit["status"], permit["working_days_used"], permit["sla_state"]) == (
        "ISSUED",
        4,
        "on_track",
    )


def test_finished_permit_is_reported_once(store):
    log = f.Log()
    steps = [
        log.service(f.service()),
        log.permit(f.application()),
        log.permit(f.status("dpmptsp:1", 1, "FILE_COMPLETE", D(2026, 7, 1))),
        log.permit(f.status("dpmptsp:1", 2, "APPROVED", D(2026, 7, 2))),
    ]
    with store.sessions() as s:
        assert apply_batch(s, steps, today=TODAY).finished == []
    with store.sessions() as s:
        done = apply_batch(
            s, [log.permit(f.status("dpmptsp:1", 3, "ISSUED", D(2026, 7, 3)))], today=TODAY
        )
    assert done.finished == [("SIP_DOKTER", 2)]
    with store.sessions() as s:
        # The application catches up later: still finished, not reported again.
        later = apply_batch(
            s,
            [
                log.permit(
                    f.application(
                        position="a2", at=9, outcome="ISSUED", finished_date=D(2026, 7, 3)
                    )
                )
            ],
            today=TODAY,
        )
    assert later.finished == []


def test_source_ts_of_applied_events_is_returned_for_freshness(store):
    log = f.Log()
    with store.sessions() as s:
        result = apply_batch(s, [log.person(f.person(at=5))], today=TODAY)
    assert result.source_ts == [dt.datetime(2026, 7, 1, 8, 5)]
