"""GET/POST /login, POST /logout: the built-in accounts' login form and session cookie.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it) and
Secure when the request came over TLS (directly, or through a proxy uvicorn trusts). The form
carries a CSRF token that must equal the one in a short-lived pre-login cookie (double submit);
once logged in, every write carries the session's own CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..access import AccessDenied
from ..auth import CSRF_FIELD, SESSION_COOKIE, Authenticator
from ..auth.accounts import SESSION_TTL, LoginRefused
from .dependencies import Authenticated
from .errors import ERRORS

router = APIRouter(tags=["login"])

LOGIN_CSRF_COOKIE = "mpphub_login_csrf"

PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MPP Hub - Masuk</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 24rem; }}
label {{ display: block; margin: .6rem 0; }} input {{ font-size: 1rem; width: 100%; }}
.error {{ color: #b00020; }}</style></head>
<body><h1>MPP Hub &mdash; masuk</h1>{message}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>Nama pengguna <input name="username" autocomplete="username" required></label>
<label>Kata sandi <input name="password" type="password" autocomplete="current-password"
 required></label>
<button type="submit">Masuk</button></form>
<p><small>Setiap akses data pribadi dicatat (UU 27/2022).</small></p></body></html>
"""


def _auth(request: Request) -> Authenticator:
    return request.app.state.auth


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def back_to(target: str | None) -> str:
    """Where to go after logging in: a path on this site (never another site), else /."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_form(
    request: Request, message: str = "", status: int = 200, next: str | None = None
) -> HTMLResponse:
    """The login page with a fresh CSRF token in the form and in its cookie; after logging in,
    on to `next` (a path on this site)."""
    csrf = secrets.token_urlsafe(32)
    note = f'<p class="error">{escape(message)}</p>' if message else ""
    page = PAGE.format(message=note, csrf=csrf, next=escape(back_to(next)))
    r = HTMLResponse(page, status_code=status)
    r.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return r


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """The login form (then on to `next`)."""
    return login_form(request, next=next)


@router.post(
    "/login",
    status_code=303,
    responses={
        303: {"description": "Logged in: the session cookie is set; on to the page"},
        401: {
            "description": "Refused (wrong name or password, a locked account): the form again",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **ERRORS.pick(400, 403, 413, 422, 429),
    },
)
def login(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Log in with a built-in account: 303 to the page with a session cookie, or 401 with the
    form again. Limited per user name and per client address (429 with Retry-After)."""
    sent_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not csrf_token or not hmac.compare_digest(csrf_token.encode(), sent_csrf.encode()):
        raise AccessDenied(f"missing or wrong CSRF token ({CSRF_FIELD}); reload /login")
    auth = _auth(request)
    client = request.client.host if request.client else "unknown"
    auth.limits.hit("login", f"user:{username.strip().lower()}", f"addr:{client}")
    try:
        user = auth.accounts.verify(username, password)
    except LoginRefused as e:
        return login_form(request, str(e), status=401, next=next)
    token, _csrf = auth.accounts.open_session(user.username)
    r = RedirectResponse(back_to(next), status_code=303)
    r.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    r.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return r


@router.post(
    "/logout",
    status_code=303,
    responses={
        303: {"description": "Logged out; on to /login"},
        **ERRORS.pick(400, 403, 413, 422),
    },
)
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    """End this browser's session (the form's CSRF token is the session's)."""
    auth = _auth(request)
    found = auth.session_csrf(request)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    sent = csrf_token or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent.encode(), found[1].encode()):
        raise AccessDenied(f"missing or wrong CSRF token ({CSRF_FIELD})")
    auth.accounts.close_session(request.cookies[SESSION_COOKIE])
    r = RedirectResponse("/login", status_code=303)
    r.delete_cookie(SESSION_COOKIE, path="/")
    return r


@router.get(
    "/me",
    responses={200: {"description": "Who is logged in"}, **ERRORS.pick(401, 403)},
)
def me(request: Request, caller: Authenticated) -> dict[str, str | None]:
    """Who this session or token is: name, role, agency; for a session also its CSRF token,
    which a page sends back in X-CSRF-Token on every write."""
    found = _auth(request).session_csrf(request) if caller.auth == "session" else None
    return {
        "username": caller.who,
        "role": caller.role.name,
        "agency": caller.agency,
        "auth": caller.auth,
        "csrf_token": found[1] if found else None,
    }
