"""How the front-office API authenticates: the built-in accounts' database, an optional OIDC
provider, rate limits and where metrics are served. Part of ApiSettings (`auth`)."""

from __future__ import annotations

from limits import parse
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_ACCOUNTS_DB_URL = "sqlite:///.mpphub/accounts.db"


class AuthSettings(BaseModel):
    """Built-in accounts always; bearer tokens too when `oidc_issuer` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Its own database, not the projections': the worker's credentials cannot reach it.
    accounts_db_url: str = DEFAULT_ACCOUNTS_DB_URL
    # The provider's issuer URL (discovery at <issuer>/.well-known/openid-configuration).
    oidc_issuer: str | None = None
    oidc_audience: str = "mpphub-api"
    # Dotted path to the list of role names in a token (Keycloak: realm_access.roles).
    oidc_roles_claim: str = "realm_access.roles"
    oidc_agency_claim: str = "agency"
    oidc_username_claim: str = "preferred_username"
    oidc_jwks_cache_s: int = Field(default=300, ge=0)
    # An unknown key id refetches the keys at most once per this many seconds (a rotated key
    # is picked up within it; a flood of made-up key ids cannot hammer the provider).
    oidc_jwks_cooldown_s: float = Field(default=10.0, ge=0, le=600)
    # Clock skew tolerated on exp/nbf/iat between the provider and the API.
    oidc_leeway_s: int = Field(default=5, ge=0, le=300)
    # Rate limits (the `limits` notation), each per user and per client address.
    login_rate: str = "10/minute"
    search_rate: str = "60/minute"
    # A request body larger than this is refused (413) before it is read into memory.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    @field_validator("login_rate", "search_rate")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is no rate such as '10/minute'") from None
        return value
