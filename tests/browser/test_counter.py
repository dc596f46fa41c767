"""The counter in Debian's chromium: an officer logs in, searches by name and by NIK (keyboard
only), opens a citizen whose agencies disagree (both values highlighted with their sources),
tracks a permit and prints its slip; bad input answers on the page. No full NIK or KK number
reaches the officer's browser, and every page that shows a person is in the audit."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.harness import add_user, live_server, log_in, make_app
from tests.projections import factories as f
from tests.projections.api.conftest import project

pytestmark = pytest.mark.integration

D = dt.date
KK_A = "7413010101900003"
PASSWORD = "correct horse battery staple"
# The civil registry and the licensing office agree on who she is (NIK, name, birth date) and
# disagree on where she was born and lives.
RESIDENT = f.person(
    record_id="11",
    name="WA ODE SITI",
    sex="P",
    birth_date=D(1990, 7, 5),
    birth_place="RAHA",
    address="LAWORO",
    kk_number=KK_A,
)
APPLICANT = f.person(
    agency="dpmptsp",
    table="tmpemohon",
    record_id="1",
    position="e1",
    name="WA ODE SITI",
    birth_date=D(1990, 7, 5),
    birth_place="KENDARI",
    address="JL. SUDIRMAN 5",
    occupation="Dokter",
)
OTHER = f.person(f.NIK_B, record_id="2", position="p2", name="LA ODE SITI")


def scenario(store) -> None:
    """Two people; Wa Ode Siti has a permit issued in time and one open past its SLA."""
    log = f.Log()
    messages = [
        *log.linked(RESIDENT, f.P_A, kind="NEW"),
        *log.linked(APPLICANT, f.P_A),
        *log.linked(OTHER, f.P_B, kind="NEW"),
        log.service(f.service(sla_days=9)),
    ]
    start = D(2026, 7, 1)
    for n, finished in ((1, D(2026, 7, 7)), (2, None)):
        pid = f"dpmptsp:{n}"
        messages.append(log.permit(f.application(pid, position=f"a{n}", file_complete_date=start)))
        messages.append(log.permit(f.status(pid, 1, "FILE_COMPLETE", start, position=f"s{n}.1")))
        if finished:
            messages.append(log.permit(f.status(pid, 2, "ISSUED", finished, position=f"s{n}.2")))
    project(store, messages)


@pytest.fixture(scope="module")
def counter(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("counter"), scenario)
    add_user(app, "petugas1", "officer")
    with live_server(app) as base:
        yield base, app


def audit_actions(app) -> list[tuple[str, str | None, str | None]]:
    return [(e.action, e.person_id, e.who) for e in app.state.audit.entries()]


def assert_no_full_numbers(page) -> None:
    html = page.content()
    for full in (f.NIK_A, f.NIK_B, KK_A):
        assert full not in html


def test_search_by_name_opens_a_citizen_with_the_agencies_disagreements(page, counter):
    base, app = counter
    before = len(audit_actions(app))
    log_in(page, base, "petugas1", PASSWORD)
    page.get_by_label("Nama, NIK atau nomor KK").fill("ode siti")
    page.get_by_role("button", name="Cari").click()
    results = page.locator("#hasil")
    assert results.locator("caption").inner_text() == "2 warga ditemukan"
    assert_no_full_numbers(page)
    results.get_by_role("link", name="WA ODE SITI").click()
    page.wait_for_url(f"{base}/warga/{f.P_A}")
    conflicts = page.locator("#perbedaan tr.conflict")
    rows = [r.split("\t") for r in conflicts.all_inner_texts()]
    assert ["Tempat lahir", "RAHA", "disdukcapil / BIODATA_WNI"] in rows
    assert ["KENDARI", "dpmptsp / tmpemohon"] in rows
    assert ["JL. SUDIRMAN 5", "dpmptsp / tmpemohon"] in rows
    # Highlighted: the conflict rows are coloured, in the table and among the identity fields.
    colour = conflicts.first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(255, 241, 194)"
    birth_place = page.locator("#data-identitas tr.conflict", has_text="Tempat lahir")
    assert "berbeda antar instansi" in birth_place.inner_text()
    assert "disdukcapil / BIODATA_WNI" in birth_place.inner_text()
    records = page.locator("#rekaman-instansi tbody tr")
    assert records.count() == 2
    assert all("%" in t for t in records.all_inner_texts())  # both matched, with a confidence
    permits = page.locator(".permit")
    assert permits.count() == 2
    assert "Melewati batas waktu" in permits.filter(has_text="REG/2").inner_text()
    issued = permits.filter(has_text="REG/1")
    assert "Izin terbit" in issued.inner_text() and "Sesuai jadwal" in issued.inner_text()
    issued.get_by_text("Riwayat status").click()  # the timeline opens
    assert issued.locator("li").all_inner_texts()[-1].endswith("Izin terbit")
    assert_no_full_numbers(page)
    assert audit_actions(app)[before:] == [
        ("citizen.search", f.P_B, "petugas1"),
        ("citizen.search", f.P_A, "petugas1"),
        ("citizen.read", f.P_A, "petugas1"),
    ]


def test_keyboard_only_search_by_nik(page, counter):
    base, app = counter
    log_in(page, base, "petugas1", PASSWORD)
    # Every visible form field has a label.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                .filter(e => e.labels.length === 0).map(e => e.name)"""
    )
    assert unlabelled == []
    focused = "document.activeElement.id"
    for _ in range(20):  # from the top of the page: skip link, header, navigation, the form
        page.keyboard.press("Tab")
        if page.evaluate(focused) == "cara":
            break
    assert page.evaluate(focused) == "cara"
    page.keyboard.press("ArrowDown")  # Nama -> NIK
    assert page.get_by_label("Cari berdasarkan").input_value() == "nik"
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "q"
    page.keyboard.type(f.NIK_A)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/warga/{f.P_A}")
    assert f.NIK_A not in page.url
    assert page.get_by_role("heading", name="WA ODE SITI").is_visible()
    assert_no_full_numbers(page)
    assert audit_actions(app)[-2:] == [
        ("citizen.lookup", f.P_A, "petugas1"),
        ("citizen.read", f.P_A, "petugas1"),
    ]


def test_track_a_permit_and_print_its_slip(page, counter, tmp_path):
    base, app = counter
    log_in(page, base, "petugas1", PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="Lacak permohonan").click()
    page.get_by_label("Nomor permohonan").fill("REG/2")
    page.get_by_role("button", name="Lacak").click()
    card = page.locator(".permit")
    assert "Berkas lengkap" in card.inner_text() and "Melewati batas waktu" in card.inner_text()
    assert audit_actions(app)[-1] == ("permit.read", f.P_A, "petugas1")
    page.get_by_role("link", name="Buka slip status untuk dicetak").click()
    page.wait_for_url(lambda url: "/permohonan/slip?no=REG" in url)
    page.emulate_media(media="print")
    assert page.locator("header").is_hidden() and page.locator("nav").is_hidden()
    slip = page.locator("article.slip")
    assert slip.is_visible()
    text = slip.inner_text()
    assert "REG/2" in text and "WA ODE SITI" in text and f.NIK_A[:6] + "*" * 10 in text
    assert_no_full_numbers(page)
    page.pdf(path=str(tmp_path / "slip.pdf"), format="A4")
    assert (tmp_path / "slip.pdf").read_bytes().startswith(b"%PDF")


def test_bad_input_answers_on_the_page(page, counter):
    base, _app = counter
    log_in(page, base, "petugas1", PASSWORD)
    page.get_by_role("button", name="Cari").click()  # nothing typed
    assert page.locator("#pesan").inner_text() == "Isi nama, NIK atau nomor KK yang dicari."
    page.get_by_label("Cari berdasarkan").select_option("kk")
    page.get_by_label("Nama, NIK atau nomor KK").fill("7413")
    page.get_by_role("button", name="Cari").click()
    assert page.locator("#pesan").inner_text() == "Nomor KK terdiri dari 16 angka."
    page.get_by_label("Nama, NIK atau nomor KK").fill("zzzz")
    page.get_by_label("Cari berdasarkan").select_option("nama")
    page.get_by_role("button", name="Cari").click()
    assert page.locator("#pesan").inner_text() == "Tidak ada warga dengan nama tersebut."
    page.goto(f"{base}/permohonan?no=REG%2F404")
    assert page.locator("#pesan").inner_text() == "Permohonan dengan nomor REG/404 tidak ditemukan."
    response = page.goto(f"{base}/warga/P00000000000000000000000099")
    assert response.status == 404
    assert page.get_by_role("alert").inner_text() == "Data warga tidak ditemukan."
    assert "Traceback" not in page.content()


def test_citizen_page_fits_a_tablet(page, counter):
    base, _app = counter
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet held upright
    log_in(page, base, "petugas1", PASSWORD)
    page.goto(f"{base}/warga/{f.P_A}")
    assert page.locator("#perbedaan").is_visible()
    # Nothing wider than the screen: wide tables scroll inside their own box, not the page.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
