"""The caller from authentication (no login: 401; a purpose outside the list: 422; neither is
audited, nothing is shown) and the audit of every read: one chained entry per person, written
before the answer, or no answer (503)."""

from __future__ import annotations

import datetime as dt

from projections.audit import AuditError
from tests.projections import factories as f
from tests.projections.api.conftest import MASKED_A, OFFICER, SUPERVISOR, TOKENS, audit_entries


def lookup(client, nik: str, headers=None):
    return client.post("/citizens/lookup", json={"nik": nik}, headers=headers or {})


def test_no_login_is_a_401_whatever_the_headers_claim(client):
    claims = {"X-MPP-User": "kabid", "X-MPP-Role": "supervisor", "X-MPP-Purpose": "complaint"}
    for headers in ({}, claims):
        r = lookup(client, f.NIK_A, headers)
        assert r.status_code == 401 and "WA ODE" not in r.text
    assert audit_entries(client) == []


def test_the_officer_logged_in_is_masked_whatever_role_a_header_claims(client):
    body = lookup(client, f.NIK_A, {**OFFICER, "X-MPP-Role": "supervisor"}).json()
    assert body["nik"] == MASKED_A
    (entry,) = audit_entries(client)
    assert (entry.who, entry.role, entry.purpose) == ("petugas1", "officer", "service_delivery")


def test_a_read_without_a_purpose_is_a_422_and_shows_nothing(client):
    r = lookup(client, f.NIK_A, SUPERVISOR.without_purpose())
    assert r.status_code == 422
    assert "X-MPP-Purpose" in r.text and f.NIK_A not in r.text
    assert audit_entries(client) == []


def test_a_purpose_outside_the_list_is_a_422(client):
    r = lookup(client, f.NIK_A, {**SUPERVISOR, "X-MPP-Purpose": "curiosity"})
    assert r.status_code == 422
    assert "service_delivery" in r.text and f.NIK_A not in r.text
    assert audit_entries(client) == []


def test_the_purpose_note_goes_into_the_audit(client):
    note = {**SUPERVISOR, "X-MPP-Purpose-Note": "surat 12/2026"}
    assert lookup(client, f.NIK_A, note).status_code == 200
    (entry,) = audit_entries(client)
    assert (entry.purpose, entry.purpose_note) == ("data_correction", "surat 12/2026")


def test_every_read_is_an_entry_with_who_role_purpose_when_person_token_client(client):
    lookup(client, f.NIK_A, OFFICER)
    lookup(client, f.NIK_B, SUPERVISOR)
    entries = audit_entries(client)
    assert [(e.seq, e.who, e.role, e.purpose, e.action, e.person_id) for e in entries] == [
        (1, "petugas1", "officer", "service_delivery", "citizen.lookup", f.P_A),
        (2, "kabid", "supervisor", "data_correction", "citizen.lookup", f.P_B),
    ]
    assert [e.person_token for e in entries] == [TOKENS.nik(f.NIK_A), TOKENS.nik(f.NIK_B)]
    assert entries[0].at <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert entries[0].client == "testclient"
    assert entries[1].prev_hash == entries[0].hash  # chained


def test_a_failed_audit_write_answers_503_and_no_data(client, monkeypatch):
    def broken(reads, now=None):
        raise AuditError("the audit could not be written (OperationalError)")

    monkeypatch.setattr(client.app.state.audit, "append", broken)
    r = lookup(client, f.NIK_A, SUPERVISOR)
    assert r.status_code == 503
    assert f.NIK_A not in r.text and "WA ODE" not in r.text
    r = client.post("/citizens/search", json={"name": "ode siti"}, headers=OFFICER)
    assert r.status_code == 503 and "ODE" not in r.text


def test_the_entry_is_in_the_audit_database_when_the_answer_leaves(client, monkeypatch):
    audit = client.app.state.audit
    seen: list[int] = []
    real = audit.append

    def spying(reads, now=None):
        out = real(reads, now)
        seen.append(audit.head()[0])  # committed: another connection reads it
        return out

    monkeypatch.setattr(audit, "append", spying)
    assert lookup(client, f.NIK_A, SUPERVISOR).status_code == 200
    assert seen == [1]
