"""Built-in accounts through the API: the login form (CSRF, wrong password, lockout, disabled
account), the session cookie's flags, CSRF on writes, logout, rate limits with Retry-After, the
body limit, and what an agency administrator may see (another agency's item is a 404)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from projections.auth import AuthSettings
from projections.auth.accounts import MAX_FAILURES
from tests.projections import factories as f
from tests.projections.api.conftest import OFFICER, SUPERVISOR, audit_entries
from tests.projections.api.logins import PASSWORD, Login, log_in


def form(c: TestClient, username: str, password: str, csrf: str | None = "from-cookie"):
    """POST /login as the form does (a fresh form first: its CSRF cookie and field)."""
    c.get("/login")
    token = c.cookies.get("mpphub_login_csrf") if csrf == "from-cookie" else csrf
    data = {"username": username, "password": password}
    if token is not None:
        data["csrf_token"] = token
    return c.post("/login", data=data, follow_redirects=False)


def fresh(client) -> TestClient:
    """A browser of its own (no cookies) on the same API."""
    return TestClient(client.app)


def test_the_right_password_gives_a_strict_httponly_session_cookie(client):
    r = form(fresh(client), "kabid", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("mpphub_session="))
    flags = {p.strip().lower() for p in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # plain HTTP here; behind TLS it is set (next test)


def test_the_cookie_is_secure_behind_tls(client):
    c = TestClient(client.app, base_url="https://testserver")
    r = form(c, "kabid", PASSWORD)
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("mpphub_session="))
    assert "secure" in {p.strip().lower() for p in cookie.split(";")}


def test_a_wrong_password_is_refused_with_the_form_again(client):
    r = form(fresh(client), "kabid", "not the password")
    assert r.status_code == 401
    assert "mpphub_session" not in r.headers.get("set-cookie", "")
    assert 'name="csrf_token"' in r.text


def test_an_unknown_user_reads_like_a_wrong_password(client):
    unknown = form(fresh(client), "nobody", "whatever it is")
    wrong = form(fresh(client), "kabid", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert "wrong user name or password" in unknown.text and "wrong user name" in wrong.text


def test_a_login_without_the_csrf_token_is_refused(client):
    for csrf in (None, "", "guessed"):
        r = form(fresh(client), "kabid", PASSWORD, csrf=csrf)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"], csrf


def test_repeated_failures_lock_the_account_even_for_the_right_password(client):
    c = fresh(client)
    for _ in range(MAX_FAILURES):
        assert form(c, "petugas1", "wrong password!").status_code == 401
    r = form(c, "petugas1", PASSWORD)
    assert r.status_code == 401 and "locked" in r.text
    assert client.app.state.auth.accounts.user("petugas1").locked
    client.app.state.auth.accounts.set_password("petugas1", PASSWORD)  # an admin unlocks
    assert form(c, "petugas1", PASSWORD).status_code == 303


def test_a_disabled_account_cannot_log_in_and_its_session_ends(client):
    client.app.state.auth.accounts.set_disabled("kabid")
    assert form(fresh(client), "kabid", PASSWORD).status_code == 401
    r = client.get(f"/citizens/{f.P_A}", headers=SUPERVISOR)
    assert r.status_code == 401


def test_a_write_with_the_cookie_but_without_its_csrf_token_is_refused(client, commands):
    body = {"record_id": "a", "other_record_id": "b", "decision": "same"}
    no_csrf = {k: v for k, v in SUPERVISOR.items() if k != "X-CSRF-Token"}
    for headers in (no_csrf, {**no_csrf, "X-CSRF-Token": "guessed"}):
        r = client.post("/identity/reviews", json=body, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert commands.sent == []


def test_logout_ends_the_session(client):
    assert client.post("/logout", data={"csrf_token": "wrong"}, headers=OFFICER).status_code == 403
    r = client.post(
        "/logout",
        data={"csrf_token": OFFICER["X-CSRF-Token"]},
        headers={"Cookie": OFFICER["Cookie"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get(f"/citizens/{f.P_A}", headers=OFFICER).status_code == 401


def test_an_oversized_body_is_413_and_nothing_is_read(client):
    huge = {"nik": "7" * 200_000}
    r = client.post("/citizens/lookup", json=huge, headers=SUPERVISOR)
    assert r.status_code == 413
    assert audit_entries(client) == []


def test_no_bearer_is_accepted_without_a_provider(client):
    r = client.get("/me", headers={"Authorization": "Bearer abc.def.ghi"})
    assert r.status_code == 401 and "no OIDC provider" in r.json()["detail"]


@pytest.fixture
def auth_settings(tmp_path, request) -> AuthSettings:
    rates = getattr(request, "param", {})
    return AuthSettings(accounts_db_url=f"sqlite:///{tmp_path / 'accounts.db'}", **rates)


@pytest.mark.parametrize("auth_settings", [{"login_rate": "3/minute"}], indirect=True)
def test_logins_past_the_limit_are_429_with_retry_after(client):
    c = fresh(client)
    # The client fixture's own two logins count per address: one more passes, then 429.
    assert form(c, "nobody", "whatever it is").status_code == 401
    r = form(c, "kabid", PASSWORD)
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 60


@pytest.mark.parametrize("auth_settings", [{"search_rate": "2/minute"}], indirect=True)
def test_searches_past_the_limit_are_429_with_retry_after_per_user(client):
    search = {"name": "ode siti"}
    for _ in range(2):
        assert client.post("/citizens/search", json=search, headers=OFFICER).status_code == 200
    r = client.post("/citizens/search", json=search, headers=OFFICER)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    shown = len(audit_entries(client))
    assert shown == 4  # two searches, two people each; the refused one showed nobody


ADMIN = Login("admin-dpmptsp", "agency_admin", purpose="data_quality", agency="dpmptsp")
OTHER_ADMIN = Login("admin-bpn", "agency_admin", purpose="data_quality", agency="bpn")


def test_an_agency_admin_sees_its_own_agencys_records_and_permits_only(client):
    log_in(client.app, ADMIN, OTHER_ADMIN)
    # P_A has a record at dpmptsp (the applicant) and at disdukcapil; P_B only at disdukcapil.
    r = client.get(f"/citizens/{f.P_A}", headers=ADMIN)
    assert r.status_code == 200
    body = r.json()
    assert {s["agency"] for s in body["sources"]} == {"dpmptsp"}
    assert all(p["agency"] == "dpmptsp" for p in body["permits"])
    assert all(src["agency"] == "dpmptsp" for src in body["provenance"].values())
    assert body["name"] is None  # the name comes from disdukcapil's record only
    assert client.get("/permits/dpmptsp:1", headers=ADMIN).status_code == 200


def test_another_agencys_item_is_a_404_like_a_missing_one(client):
    log_in(client.app, ADMIN, OTHER_ADMIN)
    missing = client.get(f"/citizens/{f.pid(99)}", headers=OTHER_ADMIN)
    theirs = client.get(f"/citizens/{f.P_A}", headers=OTHER_ADMIN)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    nik = client.post("/citizens/lookup", json={"nik": f.NIK_B}, headers=ADMIN)
    assert nik.status_code == 404 and "LA ODE" not in nik.text
    permit = client.get("/permits/dpmptsp:1", headers=OTHER_ADMIN)
    assert permit.status_code == 404
    missing = client.get("/permits/dpmptsp:999", headers=OTHER_ADMIN).json()
    assert permit.json()["detail"] == missing["detail"].replace("dpmptsp:999", "dpmptsp:1")
    found = client.post("/citizens/search", json={"name": "ode siti"}, headers=OTHER_ADMIN)
    assert found.status_code == 200 and found.json()["results"] == []
    assert client.get("/identity/reviews", headers=ADMIN).status_code == 403
