"""The API's error answers as its OpenAPI document states them: every 4xx a route really gives,
one body shape ({"detail": ...}), Retry-After on 429 and a Bearer challenge on 401; and the
handlers that turn the auth module's exceptions into those answers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from ..access import AccessDenied
from ..auth import ProviderUnavailable, RateLimited, Unauthenticated


class Problem(BaseModel):
    """Why a request was refused, in one line."""

    detail: str


class ValidationProblem(BaseModel):
    """A request whose parameters or body do not fit: FastAPI's list of what is wrong, or one
    line (a purpose outside the list, a search too short)."""

    detail: str | list[dict[str, Any]]


_TEXT = {
    400: "Bad request",
    401: "Not authenticated: no session or bearer token, or one that is expired or invalid",
    403: "Authenticated, but this role or agency may not do this (or a CSRF token is missing)",
    404: "Not found, or not visible to this caller",
    413: "Request body too large",
    422: "Invalid parameters or body (a purpose outside the list included)",
    429: "Too many requests: retry after Retry-After seconds",
    503: "A service this answer depends on is unavailable",
}


class _Errors(dict):
    """status -> OpenAPI response entry; pick(...) for a route's `responses=`."""

    def pick(self, *codes: int) -> dict[int | str, dict[str, Any]]:
        return {c: self[c] for c in codes}


def _entry(code: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": ValidationProblem if code == 422 else Problem,
        "description": _TEXT[code],
    }
    if code == 429:
        entry["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        }
    if code == 401:
        entry["headers"] = {
            "WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}
        }
    return entry


ERRORS = _Errors({code: _entry(code) for code in _TEXT})
# What any route behind authentication may answer besides its own statuses (400: a body that
# is not even JSON), and with the 404 of a route that reads one item.
AUTHENTICATED = ERRORS.pick(400, 401, 403, 413, 422, 429)
ITEM = ERRORS.pick(400, 401, 403, 404, 413, 422, 429)


async def _unauthenticated(_request: Request, e: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": str(e)}, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="mpphub"'}
    )


async def _denied(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, AccessDenied)
    return JSONResponse({"detail": str(e)}, status_code=e.status)


async def _limited(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, RateLimited)
    return JSONResponse(
        {"detail": str(e)}, status_code=429, headers={"Retry-After": str(e.retry_after)}
    )


async def _provider_down(_request: Request, e: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(e)}, status_code=503)


async def _invalid(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, RequestValidationError)
    # FastAPI's default echoes the rejected input back ("input": ...): a NIK or a password
    # sent in a bad body would come back in the answer and any log of it. Say where, not what.
    detail = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in e.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _http(request: Request, e: Exception) -> Any:
    assert isinstance(e, HTTPException)
    if e.status_code == 405:
        # Starlette names the methods of the first route on the path only; a path served by
        # two routes (GET and POST /login) must list both.
        allowed = sorted(
            m
            for route in request.app.router.routes
            if route.matches(request.scope)[0] != Match.NONE
            for m in (getattr(route, "methods", None) or ())
        )
        headers = {**(e.headers or {}), "Allow": ", ".join(allowed)}
        e = HTTPException(405, e.detail, headers=headers)
    return await http_exception_handler(request, e)


def install(api: FastAPI) -> None:
    """Register the error handlers on the API."""
    api.exception_handler(Unauthenticated)(_unauthenticated)
    api.exception_handler(AccessDenied)(_denied)
    api.exception_handler(RateLimited)(_limited)
    api.exception_handler(ProviderUnavailable)(_provider_down)
    api.exception_handler(RequestValidationError)(_invalid)
    api.exception_handler(HTTPException)(_http)
