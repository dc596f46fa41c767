"""The supervisor's pages in Debian's chromium: the SLA board (states per service and unit, open
permits oldest first, the stacked bar chart), the identity review queue (evidence side by side,
a decision sent as the resolver's command, confirmed on the page), an agency administrator's
board of their own agency, and an officer refused both pages with a clear page."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.browser.harness import add_user, live_server, log_in, make_app
from tests.projections import factories as f
from tests.projections.api.test_sla_board import OPEN, expected_state
from tests.projections.api.test_supervisor_pages import BOARD_DAY as TODAY
from tests.projections.api.test_supervisor_pages import KEY_B, KEY_P, NIK_B_SWAPPED, seed

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
STATE_LABELS = {
    "on_track": "Tepat waktu",
    "at_risk": "Berisiko",
    "breached": "Terlambat",
    "waiting": "Berkas belum lengkap",
    "no_standard": "Tanpa standar",
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("supervisor"), seed)
    app.state.clock = lambda: TODAY
    add_user(app, "kabid", "supervisor")
    add_user(app, "petugas1", "officer")
    add_user(app, "admin-pupr", "agency_admin", "pupr")
    return app


@pytest.fixture(scope="module")
def server(app):
    with live_server(app) as base:
        yield base


def test_the_supervisor_opens_the_sla_board(page, server):
    log_in(page, server, "kabid", PASSWORD, purpose="complaint")
    page.get_by_role("navigation").get_by_role("link", name="Papan SLA").click()
    page.wait_for_url(f"{server}/papan-sla")
    assert page.get_by_role("heading", name="Papan SLA permohonan terbuka").is_visible()
    want = {p.permit_id: expected_state(p, TODAY) for p in OPEN}
    totals = Counter(want.values())
    for state in STATE_LABELS:
        shown = page.locator(f".totals [data-state={state}]").inner_text()
        assert int(shown) == totals[state], state
    assert page.locator("#jumlah-terbuka").inner_text() == str(len(OPEN))
    # Oldest first, each with its state, in words.
    rows = page.locator("#permohonan tbody tr")
    ids = [rows.nth(i).get_attribute("data-permit") for i in range(rows.count())]
    assert ids == [
        p.permit_id for p in sorted(OPEN, key=lambda p: (p.received or p.start, p.permit_id))
    ]
    for i, pid in enumerate(ids):
        cell = rows.nth(i).locator("td[data-state]")
        assert cell.inner_text() == STATE_LABELS[want[pid]], pid
    # The stacked bar chart, labelled for a screen reader, one bar per service.
    chart = page.get_by_role("img", name="Permohonan terbuka per layanan menurut status SLA")
    assert chart.is_visible()
    assert {"SIP_DOKTER", "ITR", "PBG", "REKLAME"} <= set(chart.locator("text").all_text_contents())
    per_unit = page.locator("#per-unit").inner_text()
    assert "Dinas Pekerjaan Umum dan Penataan Ruang" in per_unit and "ITR, PBG" in per_unit
    assert f.NIK_A not in page.content()


def test_the_supervisor_decides_a_review_pair(page, server, app):
    log_in(page, server, "kabid", PASSWORD, purpose="identity_review")
    page.get_by_role("navigation").get_by_role("link", name="Tinjauan identitas").click()
    page.wait_for_url(f"{server}/tinjauan-identitas")
    pair = page.get_by_role("region", name="Pasangan 1")
    evidence = pair.locator("table.evidence")
    name_row = evidence.get_by_role("row").filter(has_text="Nama")
    assert "LA ODE SITI" in name_row.inner_text() and "L. SITI" in name_row.inner_text()
    # A supervisor sees both NIKs whole, side by side, with the matcher's level and weight.
    nik_row = evidence.get_by_role("row").filter(has_text="NIK")
    assert f.NIK_B in nik_row.inner_text() and NIK_B_SWAPPED in nik_row.inner_text()
    assert "one_edit" in nik_row.inner_text()
    before = len(app.state.commands.sent)
    pair.get_by_label("Catatan (tanpa NIK)").fill("KTP dan kartu BPJS dicocokkan")
    pair.get_by_role("button", name="Orang yang sama").click()
    page.wait_for_url(f"{server}/tinjauan-identitas?dikirim=same")
    confirmation = page.get_by_role("status").filter(has_text="telah dikirim")
    assert "sama (orang yang sama)" in confirmation.inner_text()
    (command,) = app.state.commands.sent[before:]
    assert {k: command[k] for k in ("kind", "record_id", "other_record_id", "reason")} == {
        "kind": "MUST_LINK",
        "record_id": min(KEY_B, KEY_P),
        "other_record_id": max(KEY_B, KEY_P),
        "reason": "kabid",
    }
    assert "Terkirim: sama oleh kabid" in page.get_by_role("region", name="Pasangan 1").inner_text()


def test_an_agency_administrator_sees_their_agencys_board_only(page, server):
    log_in(page, server, "admin-pupr", PASSWORD)
    page.goto(f"{server}/papan-sla")
    if "/tujuan" in page.url:
        page.get_by_label("Tujuan", exact=True).select_option("data_quality")
        page.get_by_role("button", name="Simpan tujuan").click()
        page.wait_for_url(f"{server}/papan-sla")
    rows = page.locator("#permohonan tbody tr")
    ids = {rows.nth(i).get_attribute("data-permit") for i in range(rows.count())}
    assert ids == {p.permit_id for p in OPEN if p.permit_id.startswith("pupr:")}
    assert "instansi PUPR" in page.locator("main").inner_text()


@pytest.mark.parametrize("path", ["/papan-sla", "/tinjauan-identitas"])
def test_an_officer_is_refused_the_supervisor_pages(page, server, path):
    log_in(page, server, "petugas1", PASSWORD)
    nav = page.get_by_role("navigation")
    assert nav.get_by_role("link", name="Papan SLA").count() == 0
    assert nav.get_by_role("link", name="Tinjauan identitas").count() == 0
    response = page.goto(f"{server}{path}")
    assert response.status == 403
    main = page.locator("main").inner_text()
    assert "Anda tidak berhak membuka halaman ini" in main
    assert "Traceback" not in page.content() and "permohonan" not in main.lower()
