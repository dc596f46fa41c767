"""GET /agencies/{agency}/findings (+ .xlsx): an agency administrator reads their own agency's
findings and is refused another agency's (403); a supervisor reads any; officers are refused;
a finding the agency fixed is gone from the list and the sheet."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.projections import factories as f
from tests.projections.api.conftest import OFFICER, SUPERVISOR, project
from tests.projections.api.logins import Login, log_in

CAPIL_ADMIN = Login("admin.capil", "agency_admin", agency="disdukcapil")
PTSP_ADMIN = Login("admin.ptsp", "agency_admin", agency="dpmptsp")
MASKED = f.NIK_A[:6] + "*" * 10


def quality(*rules: str, ref: str = MASKED, at: int = 0) -> dict:
    return {
        "record_ref": ref,
        "issues": [
            {"rule_code": r, "detail": f"{r} in words", "field": "NIK", "severity": "WARNING"}
            for r in rules
        ],  # fmt: skip
        "checked_at": f.ts(at),
    }


@pytest.fixture
def findings(client, store):
    """Two SIAK records with findings (one NIK-keyed), one permits-office applicant."""
    log = client.log
    facts = [
        f.person(record_id=f.NIK_A, position="q1", quality=quality("NIK_DATE_MISMATCH")),
        f.person(record_id="77", position="q2", quality=quality("KK_MALFORMED", ref="77")),
        f.person(
            agency="dpmptsp",
            table="tmpemohon",
            record_id="9",
            position="q3",
            quality=quality("NIK_MISSING", ref="9"),
        ),
    ]
    project(store, [log.person(x) for x in facts])
    log_in(client.app, CAPIL_ADMIN, PTSP_ADMIN)
    return log


def test_an_agency_admin_reads_their_own_findings(client, findings):
    r = client.get("/agencies/disdukcapil/findings", headers=CAPIL_ADMIN.without_purpose())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["open"] == 2
    assert body["counts"]["by_rule"] == {"KK_MALFORMED": 1, "NIK_DATE_MISMATCH": 1}
    assert body["counts"]["by_table"] == {"BIODATA_WNI": 2}
    refs = {x["record_ref"] for x in body["findings"]}
    assert refs == {MASKED, "77"}
    assert f.NIK_A not in r.text  # the NIK-keyed record is shown masked
    assert len(body["trend"]["points"]) == 14


def test_an_agency_admin_is_refused_another_agencys_findings(client, findings):
    for path in ("/agencies/dpmptsp/findings", "/agencies/dpmptsp/findings.xlsx"):
        r = client.get(path, headers=CAPIL_ADMIN.without_purpose())
        assert r.status_code == 403, (path, r.text)
        assert "NIK_MISSING" not in r.text
    # An agency that does not exist answers the same: nothing to learn by probing.
    assert client.get("/agencies/nowhere/findings", headers=CAPIL_ADMIN).status_code == 403


def test_a_supervisor_reads_any_agency_and_an_officer_none(client, findings):
    r = client.get("/agencies/dpmptsp/findings", headers=SUPERVISOR)
    assert r.status_code == 200 and r.json()["open"] == 1
    assert client.get("/agencies/nowhere/findings", headers=SUPERVISOR).status_code == 404
    assert client.get("/agencies/dpmptsp/findings", headers=OFFICER).status_code == 403
    assert client.get("/agencies/dpmptsp/findings").status_code == 401


def test_findings_filter_by_rule_and_table(client, findings):
    h = CAPIL_ADMIN.without_purpose()
    r = client.get("/agencies/disdukcapil/findings?rule=KK_MALFORMED", headers=h).json()
    assert [x["record_ref"] for x in r["findings"]] == ["77"]
    r = client.get("/agencies/disdukcapil/findings?table=tmpemohon", headers=h).json()
    assert r["findings"] == []
    assert client.get("/agencies/disdukcapil/findings?period=month", headers=h).status_code == 422


def test_the_xlsx_lists_what_the_api_lists_and_a_fix_removes_it(client, store, findings):
    h = CAPIL_ADMIN.without_purpose()
    r = client.get("/agencies/disdukcapil/findings.xlsx", headers=h)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(r.content)).active.values)[1:]
    api = client.get("/agencies/disdukcapil/findings", headers=h).json()["findings"]
    assert sorted((x[0], x[2]) for x in rows) == sorted(
        (x["rule_code"], x["record_ref"]) for x in api
    )
    # The agency corrects record 77: its next version has no finding.
    fixed = f.person(record_id="77", position="q4", at=30, quality=quality(ref="77", at=30))
    project(store, [findings.person(fixed)])
    rows = list(load_workbook(io.BytesIO(client.get(
        "/agencies/disdukcapil/findings.xlsx", headers=h).content)).active.values)[1:]  # fmt: skip
    assert [x[0] for x in rows] == ["NIK_DATE_MISMATCH"]
