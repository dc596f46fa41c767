"""GET /permits/{permit_id}: timeline, working days, SLA state, the applicant masked, audited."""

from __future__ import annotations

from tests.projections import factories as f
from tests.projections.api.conftest import MASKED_A, OFFICER, TOKENS, audit_entries


def test_permit_with_timeline(client):
    r = client.get("/permits/dpmptsp:1", headers=OFFICER)
    assert r.status_code == 200
    p = r.json()
    assert [t["status"] for t in p["timeline"]] == ["FILE_COMPLETE", "APPROVED", "ISSUED"]
    assert (p["status"], p["working_days_used"], p["sla_state"]) == ("ISSUED", 4, "on_track")
    assert p["applicant_person_id"] == f.P_A
    assert p["applicant"]["name"] == "WA ODE SITI"
    assert p["applicant"]["nik"] == MASKED_A
    (entry,) = audit_entries(client)
    assert (entry.action, entry.person_id) == ("permit.read", f.P_A)
    assert entry.person_token == TOKENS.nik(f.NIK_A)
    assert client.get("/permits/dpmptsp:999", headers=OFFICER).status_code == 404
