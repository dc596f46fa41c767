"""Bearer tokens from a real Keycloak 26 (ops/keycloak's realm): a token from Keycloak's own
token endpoint reads a record; no token, an expired one, one signed by another key, one for
another audience, a malformed one: 401. Roles and the agency come from the token's claims."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ops.processes import wait_for
from ops.stack.keycloak import REALM, KeycloakNode
from projections.auth import AuthSettings
from tests.projections import factories as f

pytestmark = pytest.mark.integration
PURPOSE = {"X-MPP-Purpose": "service_delivery"}


@pytest.fixture
def auth_settings(tmp_path, keycloak: KeycloakNode) -> AuthSettings:
    return AuthSettings(
        accounts_db_url=f"sqlite:///{tmp_path / 'accounts.db'}",
        oidc_issuer=keycloak.issuer,
        oidc_leeway_s=0,
        oidc_jwks_cooldown_s=1.0,
    )


def token(kc: KeycloakNode, username: str, client_id: str = "mpphub-frontoffice") -> str:
    """An access token from Keycloak's token endpoint (password grant of the demo user)."""
    password = {u.username: u.password for u in kc.users()}[username]
    r = httpx.post(
        kc.token_url,
        data={
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": password,
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}", **PURPOSE}


def test_a_keycloak_token_reads_a_record(client, keycloak):
    r = client.get(f"/citizens/{f.P_A}", headers=bearer(token(keycloak, "petugas")))
    assert r.status_code == 200, r.text
    assert r.json()["person_id"] == f.P_A
    assert r.json()["nik"] != f.NIK_A  # an officer's token: masked
    me = client.get("/me", headers=bearer(token(keycloak, "kabid"))).json()
    assert (me["username"], me["role"], me["auth"]) == ("kabid", "supervisor", "oidc")


def test_the_agency_comes_from_the_token(client, keycloak):
    me = client.get("/me", headers=bearer(token(keycloak, "admin-dukcapil"))).json()
    assert (me["role"], me["agency"]) == ("agency_admin", "disdukcapil")


def test_no_token_is_401_with_a_bearer_challenge(client):
    r = client.get(f"/citizens/{f.P_A}", headers=PURPOSE)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_token_for_another_audience_is_401(client, keycloak):
    t = token(keycloak, "petugas", client_id="mpphub-reports")
    r = client.get(f"/citizens/{f.P_A}", headers=bearer(t))
    assert r.status_code == 401
    assert "mpphub-api" in r.json()["detail"]


def _forged(real: str, kid: str | None) -> str:
    """The real token's claims, signed with a key Keycloak never had."""
    claims = jwt.decode(real, options={"verify_signature": False})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {"kid": kid} if kid else {}
    return jwt.encode(claims, key, algorithm="RS256", headers=headers)


def test_a_token_signed_by_another_key_is_401(client, keycloak):
    real = token(keycloak, "kabid")
    real_kid = jwt.get_unverified_header(real)["kid"]
    same_kid = client.get(f"/citizens/{f.P_A}", headers=bearer(_forged(real, real_kid)))
    assert same_kid.status_code == 401
    assert "signature" in same_kid.json()["detail"]
    unknown_kid = client.get(f"/citizens/{f.P_A}", headers=bearer(_forged(real, "not-a-kid")))
    assert unknown_kid.status_code == 401


def test_an_unsigned_or_hmac_token_is_401(client, keycloak):
    claims = jwt.decode(token(keycloak, "kabid"), options={"verify_signature": False})
    for forged in (
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode(claims, "a guessed secret of thirty-two bytes!", algorithm="HS256"),
    ):
        assert client.get("/me", headers=bearer(forged)).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer not.a.jwt", "Bearer " + "x" * 5000, "Basic dXNlcjpwYXNz", "Bearer a.b"],
)
def test_a_malformed_authorization_is_401_never_5xx(client, authorization):
    r = client.get("/me", headers={"Authorization": authorization})
    assert r.status_code == 401, r.text


def test_an_expired_token_is_401(client, keycloak):
    with keycloak.admin() as api:
        clients = api.get(f"/{REALM}/clients", params={"clientId": "mpphub-frontoffice"}).json()
        cid = clients[0]["id"]
        rep = api.get(f"/{REALM}/clients/{cid}").json()
        old = dict(rep.get("attributes") or {})
        rep["attributes"] = {**old, "access.token.lifespan": "2"}
        assert api.put(f"/{REALM}/clients/{cid}", json=rep).status_code == 204
        try:
            short = token(keycloak, "petugas")
        finally:
            # Keycloak keeps an attribute a PUT leaves out: the lifespan is set back to "" (the
            # realm's), or every later test here would get two-second tokens.
            rep["attributes"] = {
                **old,
                "access.token.lifespan": old.get("access.token.lifespan", ""),
            }
            api.put(f"/{REALM}/clients/{cid}", json=rep)
    restored = jwt.decode(token(keycloak, "petugas"), options={"verify_signature": False})
    assert restored["exp"] - restored["iat"] > 60
    exp = jwt.decode(short, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 1.5)
    r = client.get(f"/citizens/{f.P_A}", headers=bearer(short))
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


def test_a_rotated_signing_key_is_fetched_when_a_token_names_it(client, keycloak):
    # The API has cached the provider's keys; then the realm gets a new, preferred key.
    assert client.get("/me", headers=bearer(token(keycloak, "petugas"))).status_code == 200
    with keycloak.admin() as api:
        realm_id = api.get(f"/{REALM}").json()["id"]
        key = {
            "name": f"rotated-{time.time_ns()}",
            "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": realm_id,
            "config": {"priority": [str(1000 + time.time_ns() % 1000)], "keySize": ["2048"]},
        }
        r = api.post(f"/{REALM}/components", json=key)
        assert r.status_code == 201, r.text
        new_kid = None
        try:
            rotated = token(keycloak, "petugas")
            new_kid = jwt.get_unverified_header(rotated)["kid"]
            cached = client.app.state.auth.oidc.jwks().get_jwk_set()
            assert new_kid not in {k.key_id for k in cached.keys}  # unknown to the cache
            # Accepted once the refetch cooldown that began with the last fetch has passed (on
            # a loaded machine the first try may still fall inside it): polled, bounded.
            time.sleep(1.2)
            assert wait_for(
                lambda: (
                    client.get("/me", headers=bearer(token(keycloak, "petugas"))).status_code == 200
                ),
                15,
                0.5,
            )
        finally:
            api.delete(r.headers["location"].replace(f"{keycloak.base_url}/admin/realms", ""))
    assert new_kid is not None
