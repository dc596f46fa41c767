"""An alias answered with the surviving person; the review queue (GET: both records masked by
role, evidence per field; POST: a supervisor's decision sent as a command, leaving the queue
when the resolver's decision comes back)."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from sqlalchemy import select

from projections.models import ReviewNote
from tests.projections import factories as f
from tests.projections.api.conftest import (
    OFFICER,
    RESIDENT_B,
    SUPERVISOR,
    audit_entries,
    project,
)

P_C = f.pid(3)
# A health-insurance record: the resident B's NIK with two digits swapped, a name variant.
NIK_B_SWAPPED = f.NIK_B[:6] + f.NIK_B[7] + f.NIK_B[6] + f.NIK_B[8:]
PATIENT = f.person(
    NIK_B_SWAPPED, agency="bpjs", table="peserta_jkn", record_id="5", position="j5", name="L. SITI"
)
KEY_B, KEY_P = RESIDENT_B["record_key"], PATIENT["record_key"]


def test_an_alias_answers_the_surviving_person(client):
    log = client.log
    patient_a = f.person(agency="bpjs", table="peserta_jkn", record_id="9", position="j9")
    project(
        client.app.state.store,
        [
            *log.linked(patient_a, P_C, kind="NEW"),
            log.identity(f.decision("MERGE", f.P_A, other_person_ids=[P_C], reason="score")),
        ],
    )
    r = client.get(f"/citizens/{P_C}", headers=OFFICER)
    assert r.status_code == 200
    body = r.json()
    assert (body["person_id"], body["alias"], body["name"]) == (f.P_A, P_C, "WA ODE SITI")
    assert {s["agency"] for s in body["sources"]} == {"disdukcapil", "dpmptsp", "bpjs"}
    (entry,) = audit_entries(client)
    assert (entry.action, entry.person_id) == ("citizen.read", f.P_A)


def test_a_nik_and_a_person_id_open_the_same_citizen(client):
    by_nik = client.post("/citizens/lookup", json={"nik": f.NIK_A}, headers=OFFICER).json()
    by_id = client.get(f"/citizens/{f.P_A}", headers=OFFICER).json()
    assert by_nik == by_id
    assert by_nik["person_id"] == f.P_A


@pytest.fixture
def queued(client):
    """The client's projection with one open review: resident B and a patient record."""
    log = client.log
    review = f.decision(
        "REVIEW", P_C, KEY_P, other_record_id=KEY_B, evidence=f.evidence(), reason="score", at=3
    )
    project(
        client.app.state.store,
        [*log.linked(PATIENT, P_C, kind="NEW"), log.identity(review)],
    )
    return client


def test_review_queue_shows_both_records_and_the_evidence(queued):
    r = queued.get("/identity/reviews", headers=OFFICER)
    assert r.status_code == 200
    body = r.json()
    assert body["open"] == 1
    (item,) = body["reviews"]
    assert (item["record_id"], item["other_record_id"]) == tuple(sorted((KEY_B, KEY_P)))
    assert item["evidence"] == f.evidence()
    records = {x["record_id"]: x for x in item["records"]}
    assert records[KEY_B]["person_id"] == f.P_B and records[KEY_P]["person_id"] == P_C
    assert records[KEY_B]["data"]["name"] == "LA ODE SITI"
    assert records[KEY_P]["agency"] == "bpjs"
    # An officer sees the NIKs masked, everywhere in the answer.
    assert records[KEY_B]["data"]["nik"] == f.NIK_B[:6] + "*" * 10
    assert f.NIK_B not in r.text and NIK_B_SWAPPED not in r.text
    entries = audit_entries(queued)
    assert {(e.action, e.person_id) for e in entries} == {
        ("identity.reviews", f.P_B),
        ("identity.reviews", P_C),
    }


def test_supervisor_sees_the_review_unmasked(queued):
    (item,) = queued.get("/identity/reviews", headers=SUPERVISOR).json()["reviews"]
    niks = {x["data"]["nik"] for x in item["records"]}
    assert niks == {f.NIK_B, NIK_B_SWAPPED}


def decide(client, decision: str = "same", headers=SUPERVISOR, **body):
    payload = {"record_id": KEY_P, "other_record_id": KEY_B, "decision": decision, **body}
    return client.post("/identity/reviews", json=payload, headers=headers)


def test_only_a_supervisor_decides(queued, commands):
    r = decide(queued, headers=OFFICER)
    assert r.status_code == 403
    assert commands.sent == []


def test_a_decision_is_sent_as_a_command_and_kept_with_its_note(queued, commands):
    r = decide(queued, "same", note="KTP dan kartu BPJS dicocokkan di loket")
    assert r.status_code == 202
    assert r.json() == {
        "kind": "MUST_LINK",
        "record_id": KEY_P,
        "other_record_id": KEY_B,
        "status": "sent",
    }
    (command,) = commands.sent
    assert {k: command[k] for k in ("kind", "person_id", "record_id", "other_record_id")} == {
        "kind": "MUST_LINK",
        "person_id": P_C,
        "record_id": KEY_P,
        "other_record_id": KEY_B,
    }
    assert command["reason"] == "kabid"  # who decided, nothing of the citizen
    assert decide(queued, "different").status_code == 202
    assert commands.sent[1]["kind"] == "CANNOT_LINK"
    with queued.app.state.store.sessions() as s:
        notes = [(n.who, n.decision, n.note) for n in s.scalars(select(ReviewNote))]
    assert notes == [
        ("kabid", "MUST_LINK", "KTP dan kartu BPJS dicocokkan di loket"),
        ("kabid", "CANNOT_LINK", None),
    ]
    # Still queued (the resolver has not answered), shown as submitted.
    (item,) = queued.get("/identity/reviews", headers=OFFICER).json()["reviews"]
    assert [(x["who"], x["decision"]) for x in item["submitted"]] == [
        ("kabid", "MUST_LINK"),
        ("kabid", "CANNOT_LINK"),
    ]


def test_the_review_leaves_the_queue_when_the_resolver_decided(queued):
    assert decide(queued).status_code == 202
    log = queued.log
    project(
        queued.app.state.store,
        [
            log.identity(f.decision("MUST_LINK", P_C, KEY_P, other_record_id=KEY_B)),
            log.identity(f.decision("MERGE", f.P_B, KEY_P, other_person_ids=[P_C])),
        ],
    )
    body = queued.get("/identity/reviews", headers=OFFICER).json()
    assert body == {"reviews": [], "open": 0}
    merged = queued.get(f"/citizens/{P_C}", headers=SUPERVISOR).json()
    assert (merged["person_id"], merged["alias"], merged["nik"]) == (f.P_B, P_C, f.NIK_B)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"other_record_id": "R" + "X" * 26}, 404),  # no such record
        ({"other_record_id": KEY_P}, 422),  # the record against itself
        ({"decision": "maybe"}, 422),
    ],
)
def test_bad_decisions_are_refused(queued, commands, body, status):
    assert decide(queued, **body).status_code == status
    assert commands.sent == []


def test_a_decision_kafka_did_not_take_is_not_kept(queued, commands, monkeypatch):
    async def refuse(_command: dict) -> None:
        raise KafkaConnectionError("broker away")

    monkeypatch.setattr(commands, "send", refuse)
    r = decide(queued, note="tidak terkirim")
    assert r.status_code == 503 and "KafkaConnectionError" in r.json()["detail"]
    with queued.app.state.store.sessions() as s:
        assert list(s.scalars(select(ReviewNote))) == []
