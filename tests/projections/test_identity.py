"""Identity decisions applied to the projections: records placed only by decisions, in any order
with their facts; merge (aliases), split, unlink, the review queue; a replay of the same facts
and decisions in another interleaving gives the same rows (SQLite file)."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from projections.facts import Message
from projections.models import Citizen, CitizenSourceRecord, IdentityReview, PersonAlias
from projections.reads import find_citizen
from projections.reviews import open_review_count
from projections.store import open_store
from projections.writer import apply_batch
from tests.projections import factories as f
from tests.projections.harness import snapshot

TODAY = dt.date(2026, 7, 20)
P_C = f.pid(3)

RESIDENT = f.person(name="WA ODE SITI", sex="P", address="Laworo")
APPLICANT = f.person(
    "7413014507900002",  # one digit typed wrong
    agency="dpmptsp",
    table="tmpemohon",
    record_id="8",
    position="e8",
    at=5,
    name="Wa Ode Siti",
    occupation="Dokter",
)
PATIENT = f.person(
    None, agency="bpjs", table="peserta_jkn", record_id="3", position="j3", at=9, name="SITI"
)
KEY_R, KEY_A, KEY_P = (x["record_key"] for x in (RESIDENT, APPLICANT, PATIENT))


def project(store, *messages: Message) -> None:
    with store.sessions() as s:
        apply_batch(s, list(messages), today=TODAY)


def citizens(store) -> dict[str, Citizen]:
    with store.sessions() as s:
        return {c.person_id: c for c in s.scalars(select(Citizen))}


def persons_of_records(store) -> dict[str, str | None]:
    with store.sessions() as s:
        return {r.record_key: r.person_id for r in s.scalars(select(CitizenSourceRecord))}


def test_a_record_without_a_decision_belongs_to_no_citizen(store):
    log = f.Log()
    project(store, log.person(RESIDENT))
    assert citizens(store) == {}
    assert persons_of_records(store) == {KEY_R: None}
    project(store, log.identity(f.link(RESIDENT, f.P_A, kind="NEW")))
    assert citizens(store)[f.P_A].name == "WA ODE SITI"
    assert persons_of_records(store) == {KEY_R: f.P_A}


def test_a_decision_before_its_fact_is_kept_and_applied_when_the_fact_arrives(store):
    log = f.Log()
    project(store, log.identity(f.link(RESIDENT, f.P_A, kind="NEW")))
    assert citizens(store) == {}
    project(store, log.person(RESIDENT))
    c = citizens(store)[f.P_A]
    assert (c.name, c.nik, c.source_count) == ("WA ODE SITI", f.NIK_A, 1)


def test_merge_moves_records_to_the_survivor_and_the_alias_resolves(store):
    log = f.Log()
    project(
        store,
        *log.linked(RESIDENT, f.P_A, kind="NEW"),
        *log.linked(APPLICANT, f.P_B, kind="NEW"),
    )
    assert set(citizens(store)) == {f.P_A, f.P_B}
    project(
        store,
        log.identity(
            f.decision(
                "MERGE",
                f.P_A,
                KEY_A,
                other_record_id=KEY_R,
                other_person_ids=[f.P_B],
                reason="score",
            )
        ),
    )
    (survivor,) = citizens(store).values()
    assert survivor.person_id == f.P_A
    assert (survivor.name, survivor.occupation, survivor.source_count) == (
        "WA ODE SITI",
        "Dokter",
        2,
    )
    assert persons_of_records(store) == {KEY_R: f.P_A, KEY_A: f.P_A}
    with store.sessions() as s:
        assert [(a.alias, a.person_id) for a in s.scalars(select(PersonAlias))] == [(f.P_B, f.P_A)]
        found = find_citizen(s, f.P_B)
        assert (found.citizen.person_id, found.alias) == (f.P_A, f.P_B)
        assert find_citizen(s, f.P_A).alias is None


def test_merges_chain_to_the_last_survivor(store):
    log = f.Log()
    project(
        store,
        *log.linked(RESIDENT, f.P_A, kind="NEW"),
        *log.linked(APPLICANT, f.P_B, kind="NEW"),
        *log.linked(PATIENT, P_C, kind="NEW"),
        log.identity(f.decision("MERGE", f.P_B, other_person_ids=[P_C])),
    )
    project(store, log.identity(f.decision("MERGE", f.P_A, other_person_ids=[f.P_B])))
    assert set(citizens(store)) == {f.P_A}
    with store.sessions() as s:
        aliases = {a.alias: a.person_id for a in s.scalars(select(PersonAlias))}
        assert aliases == {f.P_B: f.P_A, P_C: f.P_A}
        assert find_citizen(s, P_C).citizen.person_id == f.P_A
    # Delivered again (at-least-once): nothing changes.
    before = snapshot(store.engine)
    project(store, log.identity(f.decision("MERGE", f.P_A, other_person_ids=[f.P_B])))
    assert snapshot(store.engine) == before


def test_split_moves_the_records_to_the_new_person(store):
    log = f.Log()
    project(
        store,
        *log.linked(RESIDENT, f.P_A, kind="NEW"),
        *log.linked(APPLICANT, f.P_A),
        *log.linked(PATIENT, f.P_A),
    )
    assert citizens(store)[f.P_A].source_count == 3
    project(
        store,
        log.identity(
            f.decision(
                "SPLIT", f.P_A, moved_record_ids=[KEY_P], other_person_ids=[P_C], reason="cannot"
            )
        ),
    )
    now = citizens(store)
    assert (now[f.P_A].source_count, now[P_C].source_count) == (2, 1)
    assert now[P_C].name == "SITI" and now[P_C].nik is None
    assert persons_of_records(store)[KEY_P] == P_C


def test_unlink_takes_the_record_out_of_its_person(store):
    log = f.Log()
    project(store, *log.linked(RESIDENT, f.P_A, kind="NEW"), *log.linked(APPLICANT, f.P_A))
    unlink = f.decision("UNLINK", f.P_A, KEY_A, reason="update")
    project(store, log.identity(unlink))
    c = citizens(store)[f.P_A]
    assert (c.source_count, c.occupation) == (1, None)
    assert persons_of_records(store)[KEY_A] is None
    # Linked elsewhere, then the UNLINK delivered again: the record stays where it went.
    project(store, log.identity(f.decision("NEW", f.P_B, KEY_A)), log.identity(unlink))
    assert persons_of_records(store)[KEY_A] == f.P_B
    # The last record of a person unlinked: no citizen left.
    project(store, log.identity(f.decision("UNLINK", f.P_B, KEY_A, reason="deleted")))
    assert set(citizens(store)) == {f.P_A}


def test_review_queue_opens_and_a_supervisor_decision_closes_it(store):
    log = f.Log()
    review = f.decision(
        "REVIEW", f.P_B, KEY_A, other_record_id=KEY_R, evidence=f.evidence(), reason="score", at=7
    )
    project(
        store,
        *log.linked(RESIDENT, f.P_A, kind="NEW"),
        *log.linked(APPLICANT, f.P_B, kind="NEW"),
        log.identity(review),
    )
    with store.sessions() as s:
        (row,) = s.scalars(select(IdentityReview))
        assert (row.record_a, row.record_b) == tuple(sorted((KEY_A, KEY_R)))
        assert (row.weight, row.probability, row.decision) == (4.5, 0.8, None)
        assert row.comparisons[1] == {"field": "birth_date", "level": "exact", "weight": 6.2}
        assert row.reviewed_at == dt.datetime(2026, 7, 1, 8, 7)
        assert open_review_count(s) == 1
    project(
        store,
        log.identity(f.decision("CANNOT_LINK", f.P_A, KEY_R, other_record_id=KEY_A, at=9)),
    )
    with store.sessions() as s:
        (row,) = s.scalars(select(IdentityReview))
        assert (row.decision, row.decided_at) == ("CANNOT_LINK", dt.datetime(2026, 7, 1, 8, 9))
        assert open_review_count(s) == 0
    # Asked again (new evidence): the supervisor's decision stands.
    project(store, log.identity(review))
    with store.sessions() as s:
        assert open_review_count(s) == 0


def test_a_review_is_settled_when_its_records_come_together(store):
    log = f.Log()
    project(
        store,
        *log.linked(RESIDENT, f.P_A, kind="NEW"),
        *log.linked(APPLICANT, f.P_B, kind="NEW"),
        log.identity(f.decision("REVIEW", f.P_B, KEY_A, other_record_id=KEY_R)),
    )
    project(store, log.identity(f.decision("MERGE", f.P_A, other_person_ids=[f.P_B])))
    with store.sessions() as s:
        assert open_review_count(s) == 0


def _history(log: f.Log) -> tuple[list[Message], list[Message]]:
    """Facts and the decisions of a resolver over them, each topic in its own order."""
    moved = f.person(name="WA ODE SITI", sex="P", address="Raha", position="p2", at=20)
    facts = [log.person(x) for x in (RESIDENT, APPLICANT, PATIENT, moved)]
    facts.append(log.service(f.service()))
    facts.append(log.permit(f.application(applicant_ref="dpmptsp:tmpemohon:8")))
    decisions = [
        log.identity(d)
        for d in (
            f.link(RESIDENT, f.P_A, kind="NEW"),
            f.link(APPLICANT, f.P_B, kind="NEW"),
            f.decision("REVIEW", f.P_B, KEY_A, other_record_id=KEY_R, evidence=f.evidence()),
            f.link(PATIENT, P_C, kind="NEW"),
            f.decision("MERGE", f.P_A, KEY_P, other_record_id=KEY_R, other_person_ids=[P_C]),
            f.decision("MUST_LINK", f.P_B, KEY_A, other_record_id=KEY_R, reason="kabid"),
            f.decision("MERGE", f.P_A, KEY_A, other_record_id=KEY_R, other_person_ids=[f.P_B]),
            f.decision("SPLIT", f.P_A, moved_record_ids=[KEY_P], other_person_ids=[f.pid(4)]),
            f.decision("UNLINK", f.pid(4), KEY_P, reason="deleted"),
        )
    ]
    return facts, decisions


def test_any_interleaving_of_facts_and_decisions_gives_the_same_rows(store, tmp_path):
    log = f.Log()
    facts, decisions = _history(log)
    project(store, *facts, *decisions)
    expected = snapshot(store.engine)
    assert {r["person_id"] for r in expected["citizen"]} == {f.P_A}
    assert expected["permit"][0]["applicant_person_id"] == f.P_A
    rnd = random.Random(8)
    for n in range(5):
        # Each topic keeps its own order; across topics, any order and any batch boundaries.
        merged, queues = [], [list(facts), list(decisions)]
        while any(queues):
            merged.append(rnd.choice([q for q in queues if q]).pop(0))
        other = open_store(f"sqlite:///{tmp_path / f'replay{n}.db'}")
        try:
            while merged:
                size = rnd.randint(1, 4)
                project(other, *merged[:size])
                merged = merged[size:]
            assert snapshot(other.engine) == expected, n
        finally:
            other.close()
