"""GET /: the front-office page behind the login: its search form, the purpose list, and the
API called with the session's purpose and CSRF headers (never a claimed user or role)."""

from __future__ import annotations

from domain.purposes import PURPOSES
from tests.projections.api.conftest import OFFICER


def test_without_a_session_the_page_sends_to_the_login_form(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    form = client.get("/login")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text


def test_page_is_html_with_its_search_form(client):
    r = client.get("/", headers={"Cookie": OFFICER["Cookie"]})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<form id="search">' in page
    for field in ('id="purpose"', 'id="note"', '<input id="q"', 'id="logout"'):
        assert field in page, field
    for code in PURPOSES:
        assert f'<option value="{code}">' in page, code
    # Every read sends why and the session's CSRF token; who and the role come from the login.
    for header in ("X-MPP-Purpose", "X-MPP-Purpose-Note", "X-CSRF-Token"):
        assert f'"{header}"' in page, header
    assert "X-MPP-User" not in page and "X-MPP-Role" not in page
    for path in ('"/citizens/"', '"/citizens/lookup"', '"/citizens/search"', '"/permits/"'):
        assert path in page, path
    assert "/citizens?name=" not in page  # a name never in a URL
