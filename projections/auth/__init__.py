"""Who is calling the front-office API: a built-in account's session cookie or an OIDC bearer
token, never a header that merely claims a name or a role.

`Authenticator.caller(request)` answers a Caller or raises Unauthenticated (401) / AccessDenied
(403). A cookie-authenticated request that changes something (any method but GET/HEAD/OPTIONS)
must echo the session's CSRF token in X-CSRF-Token (or the form field csrf_token); a bearer
token is not sent by a browser on its own, so it needs none.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from ..access import ROLES, AccessDenied, Caller
from .accounts import Accounts, User
from .oidc import OidcVerifier, ProviderUnavailable, TokenRefused, TokenUser
from .ratelimit import RateLimited, RateLimits
from .settings import AuthSettings

SESSION_COOKIE = "mpphub_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = [
    "AuthSettings",
    "Authenticator",
    "ProviderUnavailable",
    "RateLimited",
    "Unauthenticated",
]


class Unauthenticated(Exception):
    """No proof of who calls, or a proof that fails: 401 with a WWW-Authenticate challenge."""


class Authenticator:
    """The API's authentication: accounts, the optional OIDC verifier, rate limits."""

    def __init__(self, settings: AuthSettings, accounts: Accounts | None = None):
        self.settings = settings
        self.accounts = accounts or Accounts(settings.accounts_db_url)
        self.oidc = OidcVerifier(settings) if settings.oidc_issuer else None
        self.limits = RateLimits({"login": settings.login_rate, "search": settings.search_rate})

    def close(self) -> None:
        self.accounts.close()

    def caller(self, request: Request) -> Caller:
        """The authenticated caller of this request (purpose not yet stated)."""
        client = request.client.host if request.client else None
        auth = request.headers.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
            return self._token_caller(token.strip(), client)
        session = request.cookies.get(SESSION_COOKIE)
        if session:
            found = self.accounts.session_user(session)
            if found is None:
                raise Unauthenticated("the session has ended; log in again at /login")
            user, csrf = found
            if request.method not in SAFE_METHODS:
                _check_csrf(request, csrf)
            return _caller(user.username, user.role, user.agency, client, "session")
        raise Unauthenticated("log in at /login or send an OIDC bearer token")

    def session_csrf(self, request: Request) -> tuple[User, str] | None:
        """(user, CSRF token) of this request's session cookie, or None."""
        token = request.cookies.get(SESSION_COOKIE)
        return self.accounts.session_user(token) if token else None

    def session_caller(self, request: Request) -> tuple[Caller, str] | None:
        """The caller of this request's session cookie and the session's CSRF token, or None
        (no live session). For the pages: a page's form sends its CSRF token as a form field,
        which the page checks itself."""
        found = self.session_csrf(request)
        if found is None:
            return None
        user, csrf = found
        client = request.client.host if request.client else None
        return _caller(user.username, user.role, user.agency, client, "session"), csrf

    def _token_caller(self, token: str, client: str | None) -> Caller:
        if self.oidc is None:
            raise Unauthenticated("bearer tokens are not accepted: no OIDC provider configured")
        try:
            user: TokenUser = self.oidc.verify(token)
        except TokenRefused as e:
            raise Unauthenticated(str(e)) from None
        hub_roles = [r for r in user.roles if r in ROLES]
        if len(hub_roles) != 1:
            raise AccessDenied(
                f"the token must carry exactly one MPP Hub role ({', '.join(ROLES)});"
                f" it carries {len(hub_roles)}"
            )
        return _caller(user.username, hub_roles[0], user.agency, client, "oidc")


def _caller(who: str, role: str, agency: str | None, client: str | None, auth: str) -> Caller:
    r = ROLES.get(role)
    if r is None:
        raise AccessDenied(f"role {role!r} is not an MPP Hub role")
    if r.agency_bound and not agency:
        raise AccessDenied(f"a {role} must be bound to an agency; this account is not")
    return Caller(who, r, None, client, agency=agency if r.agency_bound else None, auth=auth)


def _check_csrf(request: Request, expected: str) -> None:
    # The form field is read by the login routes themselves; the API's JSON writes use the
    # header, which a cross-site form cannot set.
    sent = request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise AccessDenied(f"missing or wrong CSRF token (header {CSRF_HEADER})")
