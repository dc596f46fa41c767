"""GET /citizens/{key} and /citizens?name=: by NIK, person id or alias; masking by role, search,
not found, their permits."""

from __future__ import annotations

from tests.projections import factories as f
from tests.projections.api.conftest import MASKED_A, OFFICER, SUPERVISOR, access_log


def test_officer_sees_masked_nik(client):
    r = client.get(f"/citizens/{f.NIK_A}", headers=OFFICER)
    assert r.status_code == 200
    body = r.json()
    assert body["masked"] is True
    assert body["nik"] == MASKED_A
    assert body["person_id"] == f.P_A and body["alias"] is None
    assert body["kk_number"] == "741301**********"
    assert body["name"] == "WA ODE SITI"
    assert body["occupation"] == "Dokter"
    assert f.NIK_A not in r.text  # nowhere: not in sources, not in provenance
    assert {s["agency"] for s in body["sources"]} == {"disdukcapil", "dpmptsp"}


def test_supervisor_sees_full_nik(client):
    body = client.get(f"/citizens/{f.NIK_A}", headers=SUPERVISOR).json()
    assert body["masked"] is False
    assert body["nik"] == f.NIK_A
    assert body["sources"][0]["data"]["nik"] == f.NIK_A


def test_citizen_not_found_is_logged_without_the_nik(client):
    r = client.get("/citizens/7413019999990009", headers=OFFICER)
    assert r.status_code == 404
    (entry,) = access_log(client.app.state.store)
    assert entry.person_id is None and "7413019999990009" not in (entry.resource or "")


def test_search_by_name_is_masked_and_logged(client):
    r = client.get("/citizens", params={"name": "ode siti"}, headers=SUPERVISOR)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["name"] for x in results] == ["LA ODE SITI", "WA ODE SITI"]
    assert all("*" in x["nik"] for x in results)  # search is masked for every role
    (entry,) = access_log(client.app.state.store)
    assert (entry.action, entry.result_count) == ("citizen.search", 2)


def test_search_result_person_id_opens_the_citizen(client):
    (found,) = client.get("/citizens", params={"name": "wa ode"}, headers=OFFICER).json()["results"]
    assert found["person_id"] == f.P_A
    body = client.get(f"/citizens/{found['person_id']}", headers=OFFICER).json()
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
