"""The read API on an SQLite projection: masking by role, the access log, permits, turnaround."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from projections.api import create_api
from projections.citizen import citizen_ref
from projections.models import AccessLog
from projections.settings import ApiSettings
from projections.writer import apply_batch
from tests.projections import factories as f

D = dt.date
TODAY = D(2026, 7, 20)
OFFICER = {"X-MPP-User": "petugas1", "X-MPP-Role": "officer", "X-MPP-Purpose": "layanan SIP"}
SUPERVISOR = {"X-MPP-User": "kabid", "X-MPP-Role": "supervisor", "X-MPP-Purpose": "verifikasi"}
MASKED_A = f.NIK_A[:4] + "*" * 10 + f.NIK_A[-2:]


@pytest.fixture
def client(store, tmp_path):
    log = f.Log()
    messages = [
        log.person(
            f.person(
                # As SIAK's connector gives them: the record id and the position hold the NIK.
                record_id=f.NIK_A,
                position=f"2026-07-01T08:00:00|{f.NIK_A}",
                name="WA ODE SITI",
                sex="P",
                birth_date=D(1990, 7, 5),
                kk_number="7413010101900003",
                address="Laworo",
            )
        ),
        log.person(
            f.person(
                agency="dpmptsp",
                table="tmpemohon",
                record_id="1",
                position="e1",
                occupation="Dokter",
            )
        ),
        log.person(f.person(f.NIK_B, record_id="2", position="p2", name="LA ODE SITI")),
        log.service(f.service(sla_days=9)),
        log.service(
            f.service(
                "dpmptsp:2", code="ITR", name="Informasi Tata Ruang", sla_days=7, position="v2"
            )
        ),
    ]
    # From Wed 1 Jul: issued Tue 7 (4 working days), issued Fri 17 (12, breached), rejected
    # on Sat 4 (2); one still open (13 days on 20 Jul, breached).
    for n, (outcome, days_to_finish) in enumerate(
        [("ISSUED", 6), ("ISSUED", 16), ("REJECTED", 3), (None, None)]
    ):
        pid = f"dpmptsp:{n + 1}"
        start = D(2026, 7, 1)
        messages.append(log.permit(f.application(pid, position=f"a{n}", file_complete_date=start)))
        messages.append(log.permit(f.status(pid, 1, "FILE_COMPLETE", start, position=f"s{n}.1")))
        if outcome:
            end = start + dt.timedelta(days=days_to_finish)
            if outcome == "ISSUED":
                messages.append(log.permit(f.status(pid, 2, "APPROVED", end, position=f"s{n}.2")))
            messages.append(log.permit(f.status(pid, 3, outcome, end, hour=15, position=f"s{n}.3")))
    with store.sessions() as s:
        apply_batch(s, messages, today=TODAY)
    settings = ApiSettings(db_url=str(store.engine.url))
    with TestClient(create_api(settings, store=store)) as c:
        yield c


def access_log(store) -> list[AccessLog]:
    with store.sessions() as s:
        return list(s.scalars(select(AccessLog).order_by(AccessLog.id)))


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "sqlite"}


def test_officer_sees_masked_nik(client):
    r = client.get(f"/citizens/{f.NIK_A}", headers=OFFICER)
    assert r.status_code == 200
    body = r.json()
    assert body["masked"] is True
    assert body["nik"] == MASKED_A
    assert body["person_key"] == MASKED_A
    assert body["kk_number"] == "7413**********03"
    assert body["name"] == "WA ODE SITI"
    assert body["occupation"] == "Dokter"
    assert f.NIK_A not in r.text  # nowhere: not in sources, not in provenance
    assert {s["agency"] for s in body["sources"]} == {"disdukcapil", "dpmptsp"}


def test_supervisor_sees_full_nik(client):
    body = client.get(f"/citizens/{f.NIK_A}", headers=SUPERVISOR).json()
    assert body["masked"] is False
    assert body["nik"] == f.NIK_A
    assert body["sources"][0]["data"]["nik"] == f.NIK_A


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
    assert [(e.who, e.role, e.purpose, e.action, e.person_key) for e in entries] == [
        ("petugas1", "officer", "layanan SIP", "citizen.read", f.NIK_A),
        ("kabid", "supervisor", "verifikasi", "citizen.read", f.NIK_B),
    ]
    assert entries[0].resource == f"citizen:{citizen_ref(f.NIK_A)}"  # no NIK in the resource
    assert entries[0].at <= dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert entries[0].client == "testclient"


def test_citizen_not_found_is_logged_without_the_nik(client):
    r = client.get("/citizens/7413019999990009", headers=OFFICER)
    assert r.status_code == 404
    (entry,) = access_log(client.app.state.store)
    assert entry.person_key is None and "7413019999990009" not in (entry.resource or "")


def test_search_by_name_is_masked_and_logged(client):
    r = client.get("/citizens", params={"name": "ode siti"}, headers=SUPERVISOR)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["name"] for x in results] == ["LA ODE SITI", "WA ODE SITI"]
    assert all("*" in x["nik"] for x in results)  # search is masked for every role
    (entry,) = access_log(client.app.state.store)
    assert (entry.action, entry.result_count) == ("citizen.search", 2)


def test_search_result_ref_opens_the_citizen(client):
    ref = client.get("/citizens", params={"name": "wa ode"}, headers=OFFICER).json()["results"][0][
        "ref"
    ]
    body = client.get(f"/citizens/{ref}", headers=OFFICER).json()
    assert body["name"] == "WA ODE SITI"


def test_short_search_is_refused(client):
    assert client.get("/citizens", params={"name": "wa"}).status_code == 422
    assert client.get("/citizens", params={"name": "%%%"}).json()["results"] == []


def test_citizen_lists_their_permits(client):
    body = client.get(f"/citizens/{f.NIK_A}", headers=OFFICER).json()
    permits = {p["permit_id"]: p for p in body["permits"]}
    assert set(permits) == {"dpmptsp:1", "dpmptsp:2", "dpmptsp:3", "dpmptsp:4"}
    assert permits["dpmptsp:2"]["sla_state"] == "breached"
    assert permits["dpmptsp:4"]["status"] == "FILE_COMPLETE"


def test_permit_with_timeline(client):
    r = client.get("/permits/dpmptsp:1", headers=OFFICER)
    assert r.status_code == 200
    p = r.json()
    assert [t["status"] for t in p["timeline"]] == ["FILE_COMPLETE", "APPROVED", "ISSUED"]
    assert (p["status"], p["working_days_used"], p["sla_state"]) == ("ISSUED", 4, "on_track")
    assert p["applicant_person_key"] == MASKED_A
    assert p["applicant"]["name"] == "WA ODE SITI"
    (entry,) = access_log(client.app.state.store)
    assert (entry.action, entry.person_key) == ("permit.read", f.NIK_A)
    assert client.get("/permits/dpmptsp:999").status_code == 404


def test_turnaround_per_service(client):
    body = client.get("/services/turnaround").json()
    (sip,) = [s for s in body["services"] if s["service_code"] == "SIP_DOKTER"]
    assert (sip["count"], sip["open"], sip["issued"], sip["rejected"]) == (4, 1, 2, 1)
    # Decided in 4, 12 and 2 working days; SLA 9: two of three within.
    assert sip["median_working_days"] == 4
    assert sip["p90_working_days"] == 12
    assert sip["within_sla_pct"] == 66.67
    assert (sip["ombudsman_grade"], sip["ombudsman_zone"]) == ("C", "kuning")
    assert sip["open_by_sla_state"] == {"on_track": 0, "at_risk": 0, "breached": 1}


def test_page_and_metrics(client):
    page = client.get("/")
    assert page.status_code == 200 and "<form" in page.text and "fetch(" in page.text
    metrics = client.get("/metrics/")
    assert metrics.status_code == 200
    assert "mpphub_projection_events_total" in metrics.text or "python_info" in metrics.text
