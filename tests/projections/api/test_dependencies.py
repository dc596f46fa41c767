"""The caller from the headers (roles refused with 403/400, none is an officer) and the audit of
every read: one chained entry per person, written before the answer, or no answer (503)."""

from __future__ import annotations

import datetime as dt

from projections.audit import AuditError
from tests.projections import factories as f
from tests.projections.api.conftest import MASKED_A, OFFICER, SUPERVISOR, TOKENS, audit_entries


def lookup(client, nik: str, headers=None):
    return client.post("/citizens/lookup", json={"nik": nik}, headers=headers or {})


def test_no_role_is_an_officer(client):
    body = lookup(client, f.NIK_A).json()
    assert body["nik"] == MASKED_A
    (entry,) = audit_entries(client)
    assert (entry.who, entry.role, entry.purpose) == ("anonymous", "officer", None)


def test_supervisor_must_say_who_and_why(client):
    r = lookup(client, f.NIK_A, {"X-MPP-Role": "supervisor"})
    assert r.status_code == 400
    assert "X-MPP-Purpose" in r.json()["detail"]
    assert audit_entries(client) == []


def test_unknown_role_is_refused(client):
    r = lookup(client, f.NIK_A, {"X-MPP-Role": "admin"})
    assert r.status_code == 403
    assert "officer" in r.json()["detail"]


def test_every_read_is_an_entry_with_who_role_purpose_when_person_token_client(client):
    lookup(client, f.NIK_A, OFFICER)
    lookup(client, f.NIK_B, SUPERVISOR)
    entries = audit_entries(client)
    assert [(e.seq, e.who, e.role, e.purpose, e.action, e.person_id) for e in entries] == [
        (1, "petugas1", "officer", "layanan SIP", "citizen.lookup", f.P_A),
        (2, "kabid", "supervisor", "verifikasi", "citizen.lookup", f.P_B),
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
