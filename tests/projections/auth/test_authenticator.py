"""How a verified token becomes a Caller: exactly one hub role, an agency for an agency
administrator (the token's signature checks themselves: tests/projections/api/test_oidc.py)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from projections.access import AccessDenied
from projections.auth import Authenticator, AuthSettings, Unauthenticated
from projections.auth.oidc import TokenUser


def request(headers: dict[str, str], method: str = "GET") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "headers": raw, "client": ("10.0.0.9", 1)})


@pytest.fixture
def auth(tmp_path, monkeypatch) -> Authenticator:
    settings = AuthSettings(
        accounts_db_url=f"sqlite:///{tmp_path / 'a.db'}", oidc_issuer="http://idp.invalid/r"
    )
    a = Authenticator(settings)
    yield a
    a.close()


def caller_for(auth, monkeypatch, user: TokenUser):
    monkeypatch.setattr(auth.oidc, "verify", lambda token: user)
    return auth.caller(request({"Authorization": "Bearer x.y.z"}))


def test_one_hub_role_makes_the_caller(auth, monkeypatch):
    c = caller_for(auth, monkeypatch, TokenUser("kabid", ("offline_access", "supervisor"), None))
    assert (c.who, c.role.name, c.auth, c.agency, c.client) == (
        "kabid",
        "supervisor",
        "oidc",
        None,
        "10.0.0.9",
    )


@pytest.mark.parametrize("roles", [(), ("uma_authorization",), ("officer", "supervisor")])
def test_no_or_several_hub_roles_are_refused(auth, monkeypatch, roles):
    with pytest.raises(AccessDenied) as e:
        caller_for(auth, monkeypatch, TokenUser("x", roles, None))
    assert e.value.status == 403


def test_an_agency_admin_needs_the_agency_claim(auth, monkeypatch):
    with pytest.raises(AccessDenied):
        caller_for(auth, monkeypatch, TokenUser("adm", ("agency_admin",), None))
    c = caller_for(auth, monkeypatch, TokenUser("adm", ("agency_admin",), "dpmptsp"))
    assert c.agency == "dpmptsp" and c.may_see_agency("DPMPTSP")


def test_an_officer_token_carries_no_agency_binding(auth, monkeypatch):
    c = caller_for(auth, monkeypatch, TokenUser("p", ("officer",), "dpmptsp"))
    assert c.agency is None and c.may_see_agency("bpn")


def test_other_schemes_and_headers_claiming_a_role_are_not_authentication(auth):
    for headers in (
        {"Authorization": "Basic a2FiaWQ6eA=="},
        {"X-MPP-User": "kabid", "X-MPP-Role": "supervisor"},
        {"Cookie": "mpphub_session=made-up"},
    ):
        with pytest.raises(Unauthenticated):
            auth.caller(request(headers))
