"""The caller from the headers (roles refused with 403/400, none is an officer) and the audit of
every read."""

from __future__ import annotations

import datetime as dt

from tests.projections import factories as f
from tests.projections.api.conftest import MASKED_A, OFFICER, SUPERVISOR, access_log


def test_no_role_is_an_officer(client):
    body = client.get(f"/citizens/{f.NIK_A}").json()
    assert body["nik"] == MASKED_A
    (entry,) = access_log(client.app.state.store)
    assert (entry.who, entry.role, entry.purpose) == ("anonymous", "officer", None)


def test_supervisor_must_say_who_and_why(client):
    r = client.get(f"/citizens/{f.NIK_A}", headers={"X-MPP-Role": "supervisor"})
    assert r.status_code == 400
    assert "X-MPP-Purpose" in r.json()["detail"]
    assert access_log(client.app.state.store) == []


def test_unknown_role_is_refused(client):
    r = client.get(f"/citizens/{f.NIK_A}", headers={"X-MPP-Role": "admin"})
    assert r.status_code == 403
    assert "officer" in r.json()["detail"]


def test_every_read_is_logged(client):
    client.get(f"/citizens/{f.NIK_A}", headers=OFFICER)
    client.get(f"/citizens/{f.NIK_B}", headers=SUPERVISOR)
    entries = access_log(client.app.state.store)
    assert [(e.who, e.role, e.purpose, e.action, e.person_id) for e in entries] == [
        ("petugas1", "officer", "layanan SIP", "citizen.read", f.P_A),
        ("kabid", "supervisor", "verifikasi", "citizen.read", f.P_B),
    ]
    assert entries[0].resource == f"citizen:{f.P_A}"  # no NIK in the resource
    assert entries[0].at <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert entries[0].client == "testclient"
