"""OIDC bearer tokens from any standard provider: discovery, the provider's JWKS (cached by
PyJWKClient, refetched once on a key id it does not know), signature, issuer, audience, expiry;
the user's name, roles and agency from configured claims."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWKClient, PyJWKClientError

from .settings import AuthSettings

# Asymmetric algorithms only: "none" and HMAC (a key the provider shares with clients) are
# never accepted, whatever a token's header says.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


class TokenRefused(Exception):
    """A bearer token that proves nothing: 401, the message says why (never echoes it)."""


class ProviderUnavailable(Exception):
    """The provider's discovery document or keys could not be read: 503."""


@dataclass(frozen=True)
class TokenUser:
    """Who a verified token names."""

    username: str
    roles: tuple[str, ...]
    agency: str | None


class OidcVerifier:
    """Verifies bearer tokens of the provider at `settings.oidc_issuer`."""

    def __init__(self, settings: AuthSettings):
        if not settings.oidc_issuer:
            raise ValueError("auth.oidc_issuer is not set")
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._jwks: PyJWKClient | None = None
        self._lock = threading.Lock()

    def jwks(self) -> PyJWKClient:
        """The provider's key set client, from its discovery document (read once)."""
        with self._lock:
            if self._jwks is None:
                doc = self._discovery()
                self._jwks = PyJWKClient(
                    doc["jwks_uri"],
                    cache_keys=True,
                    lifespan=max(self.settings.oidc_jwks_cache_s, 1),
                    cooldown_duration=self.settings.oidc_jwks_cooldown_s,
                    timeout=10,
                )
            return self._jwks

    def _discovery(self) -> dict[str, Any]:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            r = httpx.get(url, timeout=10)
            r.raise_for_status()
            doc = r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise ProviderUnavailable(f"OIDC discovery at {url} failed: {type(e).__name__}") from e
        if doc.get("issuer", "").rstrip("/") != self.issuer or "jwks_uri" not in doc:
            raise ProviderUnavailable(f"{url} names another issuer or no jwks_uri")
        return doc

    def verify(self, token: str) -> TokenUser:
        """The user a valid token names; TokenRefused for anything else."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed bearer token") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenRefused(f"bearer token algorithm {str(alg)[:10]!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("bearer token names no signing key (kid)")
        try:
            key = self.jwks().get_signing_key(kid)
        except PyJWKClientError as e:
            if "Unable to find" in str(e) or "matching" in str(e):
                raise TokenRefused(
                    "bearer token signed by a key the provider does not have"
                ) from None
            raise ProviderUnavailable(f"the provider's keys could not be read: {e}") from e
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.oidc_audience,
                issuer=self.issuer,
                leeway=self.settings.oidc_leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("bearer token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused(f"bearer token is not for {self.settings.oidc_audience}") from None
        except jwt.MissingRequiredClaimError as e:
            if e.claim == "aud":  # a token for no audience is not for us either
                audience = self.settings.oidc_audience
                raise TokenRefused(f"bearer token is not for {audience}") from None
            raise TokenRefused(f"bearer token lacks the {e.claim!r} claim") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("bearer token from another issuer") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("bearer token signature does not verify") from None
        except jwt.PyJWTError as e:
            raise TokenRefused(f"bearer token refused: {type(e).__name__}") from None
        return self._user(claims)

    def _user(self, claims: dict[str, Any]) -> TokenUser:
        s = self.settings
        name = claims.get(s.oidc_username_claim) or claims.get("sub")
        roles = _claim(claims, s.oidc_roles_claim)
        agency = _claim(claims, s.oidc_agency_claim)
        return TokenUser(
            username=str(name),
            roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
            agency=agency.strip().lower() if isinstance(agency, str) and agency.strip() else None,
        )


def _claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted claim path (realm_access.roles), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
