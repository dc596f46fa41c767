"""GET /reports/compliance and its XLSX/PDF: the scenario's numbers, who may read it, bad input.

The scenario (conftest): four SIP_DOKTER permits (SLA 9) complete on Wed 1 Jul 2026: issued Tue
7 Jul (4 working days), issued Fri 17 Jul (12, late), rejected Sat 4 Jul (2), one open (13 days
by 20 Jul, over the standard)."""

import io

import pytest
from openpyxl import load_workbook

from projections.compliance_export import COLUMNS
from tests.projections.api.conftest import SUPERVISOR, TODAY
from tests.projections.api.logins import Login, log_in

AUDITOR = Login("inspektur", "auditor", purpose="audit")
ADMIN = Login("admin_dpmptsp", "agency_admin", agency="dpmptsp")
JULY = {"from": "2026-07-01", "to": "2026-07-31"}


@pytest.fixture
def reports(client):
    client.app.state.clock = lambda: TODAY
    log_in(client.app, AUDITOR, ADMIN)
    return client


def test_the_report_counts_the_scenario(reports):
    r = reports.get("/reports/compliance", params=JULY, headers=SUPERVISOR)
    assert r.status_code == 200, r.text
    body = r.json()
    (line,) = body["lines"]
    assert (line["unit"], line["service_code"], line["sla_days"]) == (
        "Dinas Kesehatan", "SIP_DOKTER", 9,
    )  # fmt: skip
    assert {k: line[k] for k in ("applications", "decided", "within_standard", "within_pct")} == {
        "applications": 4, "decided": 3, "within_standard": 2, "within_pct": 66.7,
    }  # fmt: skip
    assert (line["median_days"], line["p90_days"], line["zone"]) == (4.0, 12.0, "kuning")
    assert (line["open_at_end"], line["open_over_standard"]) == (1, 1)
    assert body["total"]["decided"] == 3
    assert [m["month"] for m in body["trend"]] == ["2026-07"]
    assert body["zones"]["green_min_pct"] == 78.0


def test_an_auditor_reads_it_an_officer_and_an_agency_admin_do_not(reports):
    from tests.projections.api.conftest import OFFICER

    assert reports.get("/reports/compliance", params=JULY, headers=AUDITOR).status_code == 200
    for who in (OFFICER, ADMIN):
        r = reports.get("/reports/compliance", params=JULY, headers=who)
        assert r.status_code == 403, r.text
    assert reports.get("/reports/compliance", params=JULY).status_code == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-08-01", "to": "2026-07-01"}, "Tanggal awal periode harus sebelum"),
        ({"from": "2026-13-01", "to": "2026-07-01"}, "Tanggal awal periode tidak valid"),
        ({"from": "2026-07-01", "to": "31/07/2026"}, "Tanggal akhir periode tidak valid"),
    ],
)
def test_a_bad_period_is_a_400_in_bahasa_indonesia(reports, params, message):
    for path in ("/reports/compliance", "/reports/compliance.xlsx", "/reports/compliance.pdf"):
        r = reports.get(path, params=params, headers=SUPERVISOR)
        assert r.status_code == 400 and r.json()["detail"].startswith(message), r.text


def test_a_period_without_permits_has_no_lines_and_no_zone(reports):
    params = {"from": "2025-01-01", "to": "2025-03-31"}
    body = reports.get("/reports/compliance", params=params, headers=SUPERVISOR).json()
    assert body["lines"] == [] and body["total"]["applications"] == 0
    assert body["total"]["zone"] is None and len(body["trend"]) == 3


def test_the_xlsx_holds_the_same_numbers_as_the_json(reports):
    body = reports.get("/reports/compliance", params=JULY, headers=SUPERVISOR).json()
    r = reports.get("/reports/compliance.xlsx", params=JULY, headers=SUPERVISOR)
    assert r.status_code == 200
    assert "kepatuhan_2026-07-01_2026-07-31.xlsx" in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content))
    rows = list(book["Laporan"].iter_rows(values_only=True))
    header = rows.index(tuple(h for _, h in COLUMNS))
    keys = [k for k, _ in COLUMNS]
    got = [dict(zip(keys, row, strict=True)) for row in rows[header + 1 :]]
    assert got[:-1] == body["lines"]
    assert got[-1] == {"unit": "Jumlah", "service_code": None, "service_name": None,
                       "sla_days": None, **body["total"]}  # fmt: skip
    trend = list(book["Tren"].iter_rows(values_only=True))
    assert trend[1][:3] == ("2026-07", body["trend"][0]["applications"], 3)


def test_the_pdf_is_a_pdf_with_the_period(reports):
    r = reports.get("/reports/compliance.pdf", params=JULY, headers=AUDITOR)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    assert r.headers["content-type"] == "application/pdf"
