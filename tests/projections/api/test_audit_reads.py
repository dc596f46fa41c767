"""POST /audit/reads: an auditor lists who read a person's data (by NIK, matched by its token,
or by person id) as JSON, CSV or PDF; other roles are refused; the auditor's look is audited."""

from __future__ import annotations

import csv
import io

from tests.projections import factories as f
from tests.projections.api.conftest import OFFICER, SUPERVISOR, audit_entries
from tests.projections.api.logins import Login, log_in

AUDITOR = Login("inspektorat", "auditor", purpose="access_request")


def test_an_auditor_lists_who_read_a_person_by_nik(client):
    client.post("/citizens/lookup", json={"nik": f.NIK_A}, headers=OFFICER)
    client.post("/citizens/lookup", json={"nik": f.NIK_B}, headers=SUPERVISOR)
    client.get(f"/citizens/{f.P_A}", headers=SUPERVISOR)
    log_in(client.app, AUDITOR)
    r = client.post("/audit/reads", json={"nik": f.NIK_A}, headers=AUDITOR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert f.NIK_A not in r.text and body["subject"] == f.NIK_A[:6] + "*" * 10
    assert [(x["who"], x["role"], x["action"]) for x in body["reads"]] == [
        ("petugas1", "officer", "citizen.lookup"),
        ("kabid", "supervisor", "citizen.read"),
    ]
    assert audit_entries(client)[-1].action == "audit.reads"  # the auditor's look, too


def test_csv_and_pdf_for_the_citizen(client):
    client.post("/citizens/lookup", json={"nik": f.NIK_A}, headers=OFFICER)
    log_in(client.app, AUDITOR)
    r = client.post("/audit/reads", json={"person_ids": [f.P_A], "format": "csv"}, headers=AUDITOR)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert (row["who"], row["purpose"]) == ("petugas1", "service_delivery")
    r = client.post("/audit/reads", json={"nik": f.NIK_A, "format": "pdf"}, headers=AUDITOR)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")


def test_other_roles_and_empty_questions_are_refused(client):
    assert client.post("/audit/reads", json={"nik": f.NIK_A}, headers=SUPERVISOR).status_code == 403
    log_in(client.app, AUDITOR)
    assert client.post("/audit/reads", json={}, headers=AUDITOR).status_code == 422
    assert client.post("/audit/reads", json={"nik": "12"}, headers=AUDITOR).status_code == 422
