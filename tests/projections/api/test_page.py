"""GET /: the front office's home page, server-rendered behind the login and the stated purpose
of access (projections/web): who, role and purpose come from the session, never from a form
field that claims them."""

from __future__ import annotations

from domain.purposes import PURPOSES
from tests.projections.api.conftest import OFFICER

HTML = {"Accept": "text/html"}


def _session(login) -> dict[str, str]:
    return {"Cookie": login["Cookie"], **HTML}


def state_purpose(client, login, code="service_delivery", note="tiket 7"):
    return client.post(
        "/tujuan",
        data={"purpose": code, "note": note, "next": "/", "csrf_token": login["X-CSRF-Token"]},
        headers=_session(login),
        follow_redirects=False,
    )


def test_without_a_session_the_page_sends_to_the_login_form_and_back(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
    form = client.get("/login?next=/tujuan")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    assert 'name="next" value="/tujuan"' in form.text
    # A browser opening an API route without a session goes to the login form too.
    me = client.get("/me", headers=HTML, follow_redirects=False)
    assert me.status_code == 303 and me.headers["location"] == "/login?next=/me"
    assert client.get("/me").status_code == 401  # an API client gets its 401
    # A page's query (a permit number) survives the login, encoded as one `next` value.
    r = client.get("/permohonan?no=503/IMB/2026", headers=HTML, follow_redirects=False)
    assert r.headers["location"] == "/login?next=/permohonan%3Fno%3D503/IMB/2026"
    form = client.get(r.headers["location"])
    assert 'name="next" value="/permohonan?no=503/IMB/2026"' in form.text
    # Never on to another site after the login.
    assert 'value="//evil.example"' not in client.get("/login?next=//evil.example").text


def test_an_officer_states_a_purpose_before_the_home_page(client):
    r = client.get("/", headers=_session(OFFICER), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/tujuan?next=/"
    form = client.get("/tujuan?next=/", headers=_session(OFFICER))
    assert form.status_code == 200
    for code in PURPOSES:
        assert f'<option value="{code}"' in form.text, code
    assert '<label for="purpose">' in form.text and '<label for="note">' in form.text
    kept = state_purpose(client, OFFICER)
    assert kept.status_code == 303 and kept.headers["location"] == "/"
    purpose = kept.cookies["mpphub_purpose"]
    cookies = f"{OFFICER['Cookie']}; mpphub_purpose={purpose}"
    home = client.get("/", headers={"Cookie": cookies, **HTML})
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert "Pelayanan permohonan" in home.text and "(tiket 7)" in home.text
    assert 'href="/static/hub.css"' in home.text


def test_the_purpose_form_needs_the_sessions_csrf_token_and_a_listed_purpose(client):
    r = client.post(
        "/tujuan",
        data={"purpose": "service_delivery", "csrf_token": "forged"},
        headers=_session(OFFICER),
    )
    assert r.status_code == 403 and "kedaluwarsa" in r.text and "Traceback" not in r.text
    bad = state_purpose(client, OFFICER, code="curiosity")
    assert bad.status_code == 422 and "Pilih salah satu tujuan" in bad.text
    client.cookies.clear()
    assert client.get("/", headers=_session(OFFICER), follow_redirects=False).status_code == 303


def test_a_purpose_belongs_to_its_login_session(client):
    kept = state_purpose(client, OFFICER)
    cookie = kept.cookies["mpphub_purpose"]
    client.cookies.clear()
    # The same purpose cookie with another session (a next login): stated again.
    other = {"Cookie": f"mpphub_session=another; mpphub_purpose={cookie}", **HTML}
    r = client.get("/", headers=other, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_static_css_ships_in_the_package(client):
    r = client.get("/static/hub.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]
    assert "@page" in client.get("/static/print.css").text


def reader(client, login) -> dict[str, str]:
    """Headers of a browser with `login`'s session and a purpose stated for it."""
    purpose = state_purpose(client, login).cookies["mpphub_purpose"]
    return {"Cookie": f"{login['Cookie']}; mpphub_purpose={purpose}", **HTML}


def search(client, headers, login, way, q):
    form = {"cara": way, "q": q, "csrf_token": login["X-CSRF-Token"]}
    return client.post("/cari", data=form, headers=headers, follow_redirects=False)


def test_counter_search_by_name_nik_and_kk_masked_and_audited(client):
    from tests.projections import factories as f
    from tests.projections.api.conftest import MASKED_A, audit_entries

    h = reader(client, OFFICER)
    by_name = search(client, h, OFFICER, "nama", "ode siti")
    assert by_name.status_code == 200 and "2 warga ditemukan" in by_name.text
    assert f'href="/warga/{f.P_A}"' in by_name.text and MASKED_A in by_name.text
    by_nik = search(client, h, OFFICER, "nik", f.NIK_A)
    assert by_nik.status_code == 303 and by_nik.headers["location"] == f"/warga/{f.P_A}"
    by_kk = search(client, h, OFFICER, "kk", "7413010101900003")
    assert "1 warga ditemukan" in by_kk.text and "7413010101900003" not in by_kk.text
    page = client.get(by_nik.headers["location"], headers=h)
    assert page.status_code == 200 and "WA ODE SITI" in page.text
    for full in (f.NIK_A, f.NIK_B, "7413010101900003"):
        assert full not in by_name.text + page.text
    actions = [(e.action, e.person_id, e.purpose) for e in audit_entries(client)]
    assert actions == [
        ("citizen.search", f.P_B, "service_delivery"),
        ("citizen.search", f.P_A, "service_delivery"),
        ("citizen.lookup", f.P_A, "service_delivery"),
        ("citizen.kk_lookup", f.P_A, "service_delivery"),
        ("citizen.read", f.P_A, "service_delivery"),
    ]


def test_counter_search_bad_input_answers_on_the_page(client):
    h = reader(client, OFFICER)
    for way, q, message in [
        ("nama", "  ", "Isi nama, NIK atau nomor KK"),
        ("nama", "wa", "paling sedikit 3 huruf"),
        ("nik", "12345", "NIK terdiri dari 16 angka"),
        ("nik", "7413019999990009", "Tidak ada warga dengan NIK tersebut"),
        ("kk", "7413019999990009", "Tidak ada warga dengan nomor KK tersebut"),
        ("nama", "zzzz", "Tidak ada warga dengan nama tersebut"),
    ]:
        r = search(client, h, OFFICER, way, q)
        assert message in r.text and "Traceback" not in r.text, (way, q)
    forged = {"cara": "nama", "q": "ode", "csrf_token": "forged"}
    assert client.post("/cari", data=forged, headers=h).status_code == 403
    assert client.get("/warga/P00000000000000000000000099", headers=h).status_code == 404
    assert "tidak ditemukan" in client.get("/warga/7413014507900001", headers=h).text


def test_supervisor_sees_the_full_nik_on_the_citizen_page_but_not_on_the_slip(client):
    from tests.projections import factories as f
    from tests.projections.api.conftest import SUPERVISOR

    h = reader(client, SUPERVISOR)
    assert f.NIK_A in client.get(f"/warga/{f.P_A}", headers=h).text
    slip = client.get("/permohonan/slip?no=REG/1", headers=h)
    assert slip.status_code == 200 and "Slip status permohonan" in slip.text
    assert f.NIK_A not in slip.text and f.NIK_A[:6] in slip.text


def test_tracking_by_application_number_and_unknown_numbers(client):
    from tests.projections import factories as f
    from tests.projections.api.conftest import audit_entries

    h = reader(client, OFFICER)
    r = client.get("/permohonan?no=REG/4", headers=h)
    assert r.status_code == 200 and "Melewati batas waktu" in r.text
    assert "Berkas lengkap" in r.text and f.NIK_A not in r.text
    assert [(e.action, e.person_id) for e in audit_entries(client)] == [("permit.read", f.P_A)]
    unknown = client.get("/permohonan?no=REG/999", headers=h)
    assert unknown.status_code == 404 and "REG/999 tidak ditemukan" in unknown.text
    empty = client.get("/permohonan?no=", headers=h)
    assert empty.status_code == 422 and "Isi nomor permohonan" in empty.text
    assert client.get("/permohonan/slip?no=REG/999", headers=h).status_code == 404


def test_a_server_fault_is_a_page_that_says_nothing_internal(client, monkeypatch):
    from fastapi.testclient import TestClient

    from projections import reads

    h = reader(client, OFFICER)

    def broken(*_args, **_kwargs):
        raise RuntimeError("SELECT secret FROM permit: connection refused")

    monkeypatch.setattr(reads, "find_permits", broken)
    browser = TestClient(client.app, raise_server_exceptions=False)
    r = browser.get("/permohonan?no=REG/1", headers=h)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Terjadi kesalahan pada server" in r.text
    for internal in ("SELECT", "secret", "RuntimeError", "Traceback", "reads.py"):
        assert internal not in r.text, internal
    api = browser.get("/permohonan?no=REG/1", headers={"Cookie": h["Cookie"]})
    assert api.status_code == 500 and api.text == "Internal Server Error"


def test_the_counter_is_refused_to_roles_that_do_not_serve_at_it(client):
    from tests.projections import factories as f
    from tests.projections.api.conftest import audit_entries
    from tests.projections.api.logins import Login, log_in

    admin = Login("admin-dpmptsp", "agency_admin", purpose="data_quality", agency="dpmptsp")
    log_in(client.app, admin)
    home = client.get("/", headers={"Cookie": admin["Cookie"], **HTML})
    assert home.status_code == 200 and "Selamat datang" in home.text
    assert 'action="/cari"' not in home.text and 'href="/permohonan"' not in home.text
    h = reader(client, admin)
    assert search(client, h, admin, "nama", "ode siti").status_code == 403
    assert client.get(f"/warga/{f.P_A}", headers=h).status_code == 403
    assert client.get("/permohonan?no=REG/1", headers=h).status_code == 403
    assert audit_entries(client) == []
