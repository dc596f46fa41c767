"""What a page route asks for: the session's caller (PageCaller) and, for a page showing
personal data, that caller with the purpose of access stated for this session (PageReader).

Pages are for a browser session only (a bearer token is the JSON API's). A page's POST form
carries the session's CSRF token as the field csrf_token. No session: 303 to /login?next=...;
no purpose stated: 303 to the purpose form (/tujuan?next=...), then back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from ..access import AccessDenied, Caller
from ..auth import CSRF_FIELD, SAFE_METHODS, SESSION_COOKIE
from ..auth.accounts import SESSION_TTL

PURPOSE_COOKIE = "mpphub_purpose"


class PageRedirect(Exception):
    """Send the browser elsewhere first (303): the login form, the purpose form."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


def safe_next(target: str | None, default: str = "/") -> str:
    """A path on this site to go back to (never another site: '//host' or 'http:' refused)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def back_here(request: Request) -> str:
    # A GET page comes back to itself with its query (a permit number, a report's period: never
    # personal data, which pages take in POST forms only); a form POST to the home page (its
    # body is not kept).
    if request.method not in SAFE_METHODS:
        return "/"
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


async def page_caller(request: Request) -> Caller:
    """The logged-in caller of this page (no purpose yet); a POST must carry the session's
    CSRF token in its form (403 otherwise)."""
    found = request.app.state.auth.session_caller(request)
    if found is None:
        raise PageRedirect("/login?next=" + quote(back_here(request), safe="/"))
    caller, csrf = found
    if request.method not in SAFE_METHODS:
        form = await request.form()
        sent = str(form.get(CSRF_FIELD) or "")
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise AccessDenied("formulir kedaluwarsa atau tidak sah: muat ulang halaman")
    request.state.csrf = csrf
    return caller


PageCaller = Annotated[Caller, Depends(page_caller)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, for the forms of a page (empty without a session)."""
    token = getattr(request.state, "csrf", None)
    if token is None:
        found = request.app.state.auth.session_csrf(request)
        token = found[1] if found else ""
    return token


def _bound_to(request: Request) -> str:
    # The stated purpose belongs to this login session only: a next login starts without one.
    session = request.cookies.get(SESSION_COOKIE) or ""
    return hashlib.sha256(session.encode()).hexdigest()[:24]


def stated_purpose(request: Request) -> tuple[str, str | None] | None:
    """(purpose code, note) stated for this session, or None."""
    raw = request.cookies.get(PURPOSE_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        code, note, bound = data["p"], data.get("n"), data["s"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(code, str) or not hmac.compare_digest(str(bound), _bound_to(request)):
        return None
    return code, note if isinstance(note, str) else None


def keep_purpose(request: Request, response: Response, code: str, note: str | None) -> None:
    """Remember the purpose stated for this session in its cookie (HttpOnly, SameSite)."""
    raw = json.dumps({"p": code, "n": note, "s": _bound_to(request)}).encode()
    response.set_cookie(
        PURPOSE_COOKIE,
        base64.urlsafe_b64encode(raw).decode(),
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def page_reader(request: Request, caller: PageCaller) -> Caller:
    """The caller reading personal data for the purpose stated for this session."""
    stated = stated_purpose(request)
    if stated is None:
        raise PageRedirect("/tujuan?next=" + quote(back_here(request), safe="/"))
    try:
        return caller.stating(*stated)
    except AccessDenied:  # a purpose no longer in the list: state it again
        raise PageRedirect("/tujuan?next=" + quote(back_here(request), safe="/")) from None


PageReader = Annotated[Caller, Depends(page_reader)]


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)
