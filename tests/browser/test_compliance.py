"""The compliance report in Debian's chromium: a supervisor chooses a period, reads the table and
the trend chart, downloads the XLSX whose numbers (read with openpyxl) equal the API's JSON; bad
input is a message on the page; an officer is refused. Data: the API tests' scenario (four
SIP_DOKTER permits of July 2026, see tests/projections/api/test_reports.py)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from projections.compliance_export import COLUMNS
from tests.browser.harness import add_user, live_server, log_in, make_app
from tests.projections.api.conftest import TODAY, project_scenario

pytestmark = pytest.mark.integration

JULY = "from=2026-07-01&to=2026-07-31"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("compliance"), project_scenario)
    app.state.clock = lambda: TODAY
    add_user(app, "kabid", "supervisor")
    add_user(app, "petugas1", "officer")
    with live_server(app) as base:
        yield base, add_user(app, "inspektur", "auditor")


def _choose(page, start: str, end: str) -> None:
    page.get_by_label("Dari tanggal").fill(start)
    page.get_by_label("Sampai tanggal").fill(end)
    page.get_by_role("button", name="Tampilkan").click()


def test_supervisor_reads_the_report_and_the_xlsx_equals_the_api(page, server):
    base, password = server
    log_in(page, base, "kabid", password)
    page.goto(f"{base}/laporan/kepatuhan")
    _choose(page, "2026-07-01", "2026-07-31")
    page.wait_for_url(f"**/laporan/kepatuhan?{JULY}")
    row = page.locator("#laporan tbody tr")
    assert row.count() == 1
    cells = row.first.locator("td").all_inner_texts()
    assert cells[:9] == ["Dinas Kesehatan", "SIP_DOKTER", "Surat Izin Praktik Dokter", "9",
                         "4", "3", "3", "2", "66,7"]  # fmt: skip
    assert cells[-1] == "kuning"
    chart = page.get_by_role("img", name="Persentase diputus tepat waktu per bulan")
    assert chart.is_visible()
    api = page.request.get(f"{base}/reports/compliance?{JULY}")
    assert api.ok, api.text()
    body = api.json()
    with page.expect_download() as download:
        page.get_by_role("link", name="Excel (XLSX)").click()
    data = open(download.value.path(), "rb").read()
    rows = list(load_workbook(io.BytesIO(data))["Laporan"].iter_rows(values_only=True))
    header = rows.index(tuple(h for _, h in COLUMNS))
    keys = [k for k, _ in COLUMNS]
    lines = [dict(zip(keys, r, strict=True)) for r in rows[header + 1 : -1]]
    assert lines == body["lines"] and len(lines) == 1
    total = dict(zip(keys, rows[-1], strict=True))
    assert {k: total[k] for k in body["total"]} == body["total"]
    assert download.value.suggested_filename == "kepatuhan_2026-07-01_2026-07-31.xlsx"


def test_bad_periods_are_messages_on_the_page(page, server):
    base, password = server
    log_in(page, base, "inspektur", password)
    page.goto(f"{base}/laporan/kepatuhan?from=2026-08-01&to=2026-07-01")
    alert = page.get_by_role("alert")
    assert "Tanggal awal periode harus sebelum" in alert.inner_text()
    page.goto(f"{base}/laporan/kepatuhan?from=2026-02-30&to=2026-07-01")
    assert "Tanggal awal periode tidak valid" in page.get_by_role("alert").inner_text()
    _choose(page, "2025-01-01", "2025-03-31")
    status = page.get_by_role("status")
    assert "Tidak ada permohonan pada periode ini" in status.inner_text()
    assert "Traceback" not in page.content()


def test_an_officer_is_refused(page, server):
    base, password = server
    log_in(page, base, "petugas1", password)
    response = page.goto(f"{base}/laporan/kepatuhan")
    assert response.status == 403
    assert "Laporan kepatuhan" not in page.get_by_role("navigation").inner_text()


def test_on_a_tablet_the_page_fits_and_the_table_scrolls_inside_it(page, server):
    base, password = server
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, base, "inspektur", password)
    page.goto(f"{base}/laporan/kepatuhan?{JULY}")
    assert page.locator("#laporan tbody tr").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    chart = page.get_by_role("img", name="Persentase diputus tepat waktu per bulan")
    assert chart.bounding_box()["width"] <= 768
    # Keyboard only: from the last date field, Tab reaches the button and Enter submits.
    page.get_by_label("Sampai tanggal").fill("2026-07-15")
    for _ in range(4):  # a date field's day, month and year parts are Tab stops of their own
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Tampilkan"
    page.keyboard.press("Enter")
    page.wait_for_url("**to=2026-07-15")
