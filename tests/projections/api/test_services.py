"""GET /services/turnaround: per-service counts, working days, share within SLA, Ombudsman zone."""

from __future__ import annotations


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
