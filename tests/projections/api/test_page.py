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
