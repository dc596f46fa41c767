"""Real logins for the API's tests: built-in accounts made in the test's accounts database and
logged in through the login form, as a browser does (CSRF cookie and field, session cookie).

A `Login` is the headers dict a test sends (`client.get(url, headers=OFFICER)`): the session
cookie, the session's CSRF token and a purpose; `log_in(app, *logins)` fills them in.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"


class Login(dict):
    """The headers of one logged-in built-in user (empty until log_in)."""

    def __init__(
        self, username: str, role: str, purpose: str = "service_delivery", agency: str | None = None
    ):
        super().__init__()
        self.username, self.role, self.purpose, self.agency = username, role, purpose, agency

    def without_purpose(self) -> dict[str, str]:
        return {k: v for k, v in self.items() if k != "X-MPP-Purpose"}


def session_of(app: FastAPI, username: str, password: str = PASSWORD) -> tuple[str, str]:
    """(session cookie value, CSRF token) of a login through the form."""
    c = TestClient(app)
    page = c.get("/login")
    assert page.status_code == 200, page.text
    csrf = c.cookies["mpphub_login_csrf"]
    form = {"username": username, "password": password, "csrf_token": csrf}
    r = c.post("/login", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    token = r.cookies["mpphub_session"]
    me = c.get("/me")
    assert me.status_code == 200, me.text
    return token, me.json()["csrf_token"]


def log_in(app: FastAPI, *logins: Login) -> None:
    """Add each login's account (if new) and fill its headers from a real login."""
    accounts = app.state.auth.accounts
    for login in logins:
        if accounts.user(login.username) is None:
            accounts.add(login.username, PASSWORD, login.role, login.agency)
        token, csrf = session_of(app, login.username)
        login.clear()
        login.update(
            {
                "Cookie": f"mpphub_session={token}",
                "X-CSRF-Token": csrf,
                "X-MPP-Purpose": login.purpose,
            }
        )


def live_login(base: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The session cookie and CSRF headers of a login through a running API's form."""
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.get("/login").status_code == 200
        csrf = c.cookies["mpphub_login_csrf"]
        form = {"username": username, "password": password, "csrf_token": csrf}
        r = c.post("/login", data=form)
        assert r.status_code == 303, r.text
        token = r.cookies["mpphub_session"]
        me = c.get("/me")
        assert me.status_code == 200, me.text
        return {"Cookie": f"mpphub_session={token}", "X-CSRF-Token": me.json()["csrf_token"]}
