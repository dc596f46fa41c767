"""The agency data-quality page in Debian's chromium: an agency administrator opens their own
agency's findings (masked reference for a NIK-keyed record, the trend chart), downloads the
XLSX and finds in it what the page lists, and is refused another agency's page with a clear
403 page; a supervisor opens any agency's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from openpyxl import load_workbook

from projections.writer import apply_batch
from tests.browser.harness import add_user, live_server, log_in, make_app
from tests.projections import factories as f
from tests.projections.api.conftest import TOKENS

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
MASKED = f.NIK_A[:6] + "*" * 10


def quality(ref: str, *rules: str, at: int = 0) -> dict[str, Any]:
    issues = [
        {"rule_code": r, "detail": f"{r}: periksa kolom", "field": "NIK", "severity": "WARNING"}
        for r in rules
    ]
    return {"record_ref": ref, "issues": issues, "checked_at": f.ts(at)}


def seed(store) -> None:
    """Two SIAK records with findings (one keyed by its NIK), one SiCantik applicant, and a
    SIAK record already corrected (its finding resolved, so not listed)."""
    log = f.Log()
    facts = [
        # Keyed under the app's secret, as its normalize would: the NIK lookup finds it.
        f.person(record_id=f.NIK_A, position="q1", quality=quality(MASKED, "NIK_DATE_MISMATCH"),
                 record_key=TOKENS.record("disdukcapil", "BIODATA_WNI", f.NIK_A)),
        f.person(record_id="77", position="q2", quality=quality("77", "KK_MALFORMED")),
        f.person(record_id="88", position="q3", quality=quality("88", "NIK_MALFORMED")),
        f.person(record_id="88", position="q4", at=5, quality=quality("88", at=5)),
        f.person(agency="dpmptsp", table="tmpemohon", record_id="9", position="q5",
                 quality=quality("9", "NIK_MISSING")),
    ]  # fmt: skip
    with store.sessions() as s:
        apply_batch(s, [log.person(x) for x in facts], today=dt.date(2026, 7, 20))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("quality"), seed)
    add_user(app, "admin-capil", "agency_admin", "disdukcapil")
    add_user(app, "kabid", "supervisor")
    with live_server(app) as base:
        yield base


def test_the_agency_admin_sees_and_downloads_their_findings(page, server, tmp_path):
    log_in(page, server, "admin-capil", PASSWORD)
    page.goto(f"{server}/")
    page.get_by_role("navigation").get_by_role("link", name="Kualitas data").click()
    page.wait_for_url(f"{server}/kualitas-data/disdukcapil")
    assert page.get_by_role("heading", name="Kualitas data DISDUKCAPIL").is_visible()
    assert page.locator("#jumlah-temuan").inner_text() == "2"  # record 88 was corrected
    rows = page.locator("#temuan tbody tr")
    shown = sorted(
        (rows.nth(i).get_attribute("data-rule"), rows.nth(i).locator("td.ref").inner_text())
        for i in range(rows.count())
    )
    assert shown == [("KK_MALFORMED", "77"), ("NIK_DATE_MISMATCH", MASKED)]
    assert f.NIK_A not in page.content()
    assert page.get_by_role("img", name="Temuan terbuka di akhir tiap hari").is_visible()
    # Filter by rule from the counts table, then back to all.
    page.locator("#per-aturan").get_by_role("link", name="KK_MALFORMED").click()
    page.wait_for_url(lambda url: "aturan=KK_MALFORMED" in url)
    assert page.locator("#jumlah-temuan").inner_text() == "1"
    page.get_by_role("link", name="semua").click()
    page.wait_for_url(f"{server}/kualitas-data/disdukcapil")
    with page.expect_download() as got:
        page.get_by_role("link", name="Unduh XLSX").click()
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    sheet = list(load_workbook(path).active.values)
    assert sheet[0][:3] == ("Aturan", "Tabel", "Rujukan rekaman sumber")
    assert sorted((r[0], r[2]) for r in sheet[1:]) == shown


def test_the_agency_admin_finds_a_nik_keyed_record_by_its_nik(page, server):
    log_in(page, server, "admin-capil", PASSWORD)
    page.goto(f"{server}/kualitas-data/disdukcapil")
    page.get_by_label("Cari temuan satu rekaman menurut kuncinya (mis. NIK)").fill(f.NIK_A)
    page.get_by_role("button", name="Cari rekaman").click()
    page.wait_for_url(f"{server}/kualitas-data/disdukcapil/rekaman")  # a POST: no NIK in it
    row = page.locator("#hasil-rekaman tbody tr")
    assert row.count() == 1 and row.get_attribute("data-rule") == "NIK_DATE_MISMATCH"
    assert MASKED in row.inner_text()
    assert f.NIK_A not in page.content()


def test_the_agency_admin_is_refused_another_agencys_page(page, server):
    log_in(page, server, "admin-capil", PASSWORD)
    answer = page.goto(f"{server}/kualitas-data/dpmptsp")
    assert answer is not None and answer.status == 403
    alert = page.get_by_role("alert")
    assert "instansi Anda sendiri (DISDUKCAPIL)" in alert.inner_text()
    assert "NIK_MISSING" not in page.content()


def test_a_supervisor_opens_any_agency(page, server):
    log_in(page, server, "kabid", PASSWORD, purpose="data_correction")
    page.goto(f"{server}/kualitas-data")
    page.locator("#instansi").get_by_role("link", name="DPMPTSP").click()
    page.wait_for_url(f"{server}/kualitas-data/dpmptsp")
    assert page.locator("#temuan tbody tr").get_attribute("data-rule") == "NIK_MISSING"
