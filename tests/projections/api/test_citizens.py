"""POST /citizens/lookup (by NIK, in the body), GET /citizens/{person_id} (id or alias), POST
/citizens/search: masking by role, not found, their permits, and no NIK or name in any URL."""

from __future__ import annotations

from tests.projections import factories as f
from tests.projections.api.conftest import MASKED_A, OFFICER, SUPERVISOR, TOKENS, audit_entries


def lookup(client, nik: str, headers=OFFICER):
    return client.post("/citizens/lookup", json={"nik": nik}, headers=headers)


def test_officer_sees_masked_nik(client):
    r = lookup(client, f.NIK_A)
    assert r.status_code == 200
    body = r.json()
    assert body["masked"] is True
    assert body["nik"] == MASKED_A
    assert body["person_id"] == f.P_A and body["alias"] is None
    assert body["kk_number"] == "741301**********"
    assert body["name"] == "WA ODE SITI"
    assert body["occupation"] == "Dokter"
    # Nowhere, whole: not in sources, not in provenance, not the KK either.
    assert f.NIK_A not in r.text and "7413010101900003" not in r.text
    assert {s["agency"] for s in body["sources"]} == {"disdukcapil", "dpmptsp"}


def test_supervisor_sees_full_nik(client):
    body = lookup(client, f.NIK_A, SUPERVISOR).json()
    assert body["masked"] is False
    assert body["nik"] == f.NIK_A
    assert body["sources"][0]["data"]["nik"] == f.NIK_A


def test_a_person_id_opens_the_citizen_by_get(client):
    body = client.get(f"/citizens/{f.P_A}", headers=OFFICER).json()
    assert body["name"] == "WA ODE SITI" and body["nik"] == MASKED_A


def test_a_nik_in_a_url_is_refused_and_not_looked_up(client):
    r = client.get(f"/citizens/{f.NIK_A}", headers=SUPERVISOR)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "person_id"]
    assert "WA ODE" not in r.text
    assert audit_entries(client) == []


def test_a_malformed_nik_is_a_422_naming_the_field(client):
    r = lookup(client, "7413-01")
    assert r.status_code == 422 and "nik" in r.text


def test_citizen_not_found_is_audited_by_token_without_the_nik(client):
    missing = "7413019999990009"
    r = lookup(client, missing)
    assert r.status_code == 404
    (entry,) = audit_entries(client)
    assert entry.person_id is None and entry.person_token == TOKENS.nik(missing)
    assert missing not in repr(entry.__dict__)


def test_search_by_name_is_masked_and_each_person_shown_is_audited(client):
    r = client.post("/citizens/search", json={"name": "ode siti"}, headers=SUPERVISOR)
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["name"] for x in results] == ["LA ODE SITI", "WA ODE SITI"]
    assert all("*" in x["nik"] for x in results)  # search is masked for every role
    entries = audit_entries(client)
    assert [(e.action, e.person_id) for e in entries] == [
        ("citizen.search", f.P_B),
        ("citizen.search", f.P_A),
    ]
    assert entries[1].person_token == TOKENS.nik(f.NIK_A)


def test_search_result_person_id_opens_the_citizen(client):
    r = client.post("/citizens/search", json={"name": "wa ode"}, headers=OFFICER)
    (found,) = r.json()["results"]
    assert found["person_id"] == f.P_A
    body = client.get(f"/citizens/{found['person_id']}", headers=OFFICER).json()
    assert body["name"] == "WA ODE SITI"


def test_kk_lookup_lists_the_family_masked_and_audits_each_member_and_a_miss(client):
    kk = "7413010101900003"  # RESIDENT_A's family card
    r = client.post("/citizens/kk", json={"kk_number": kk}, headers=OFFICER)
    assert r.status_code == 200, r.text
    (member,) = r.json()["results"]
    assert member["person_id"] == f.P_A and member["nik"] == MASKED_A
    assert kk not in r.text
    missing = "7413010101900099"
    assert client.post("/citizens/kk", json={"kk_number": missing}, headers=OFFICER).json() == {
        "results": [],
        "limit": 50,
    }
    found, miss = audit_entries(client)
    assert (found.action, found.person_id) == ("citizen.kk_lookup", f.P_A)
    assert (miss.action, miss.person_id, miss.person_token) == (
        "citizen.kk_lookup",
        None,
        TOKENS.nik(missing),
    )
    bad = client.post("/citizens/kk", json={"kk_number": "74130101"}, headers=OFFICER)
    assert bad.status_code == 422 and "74130101" not in bad.text


def test_citizen_read_says_how_well_each_record_matches_and_where_agencies_disagree(client):
    body = client.get(f"/citizens/{f.P_A}", headers=OFFICER).json()
    confidence = [s["match_confidence"] for s in body["sources"]]
    assert len(confidence) == 2 and all(0.5 < c <= 1 for c in confidence)
    assert body["disagreements"] == []  # the two records state no field differently
    assert (
        client.get(f"/citizens/{f.P_B}", headers=OFFICER).json()["sources"][0]["match_confidence"]
        is None
    )  # an only record


def test_short_search_is_refused(client):
    search = {"headers": OFFICER}
    assert client.post("/citizens/search", json={"name": "wa"}, **search).status_code == 422
    assert client.post("/citizens/search", json={"name": "%%%"}, **search).json()["results"] == []


def test_citizen_lists_their_permits(client):
    body = lookup(client, f.NIK_A).json()
    permits = {p["permit_id"]: p for p in body["permits"]}
    assert set(permits) == {"dpmptsp:1", "dpmptsp:2", "dpmptsp:3", "dpmptsp:4"}
    assert permits["dpmptsp:2"]["sla_state"] == "breached"
    assert permits["dpmptsp:4"]["status"] == "FILE_COMPLETE"
