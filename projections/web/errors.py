"""Error answers for a browser: a page in Bahasa Indonesia that says what to do, never a stack
trace or anything internal. A request that asks for HTML (a browser's navigation) gets the page;
the JSON API's clients keep the JSON answers of projections/api/errors.py."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException

from ..access import AccessDenied
from ..auth import RateLimited, Unauthenticated
from .deps import PageRedirect, redirect
from .render import render

log = logging.getLogger(__name__)

MESSAGES = {
    400: "Permintaan tidak dapat dibaca.",
    403: "Anda tidak berhak membuka halaman ini, atau formulir sudah kedaluwarsa.",
    404: "Halaman atau data yang dicari tidak ditemukan.",
    405: "Halaman ini tidak dapat dibuka dengan cara itu.",
    413: "Data yang dikirim terlalu besar.",
    422: "Isian tidak sesuai. Periksa kembali isian formulir.",
    429: "Terlalu banyak permintaan. Tunggu sebentar lalu coba lagi.",
    503: "Layanan sedang tidak tersedia (catatan akses tidak dapat ditulis). Coba lagi nanti.",
    500: "Terjadi kesalahan pada server. Coba lagi; bila berulang, hubungi admin MPP.",
}


def wants_html(request: Request) -> bool:
    """Whether the request is a browser's (it accepts HTML), not an API client's."""
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str | None = None) -> Any:
    """The error page for `status` (the caller's navigation when logged in)."""
    caller = None
    found = request.app.state.auth.session_caller(request)
    if found is not None:
        caller = found[0]
    text = message or MESSAGES.get(status) or MESSAGES[500]
    return render(request, "error.html", caller=caller, status=status, code=status, message=text)


def _wrap(api: FastAPI, exc: type[Exception], status_of) -> None:
    json_handler = api.exception_handlers.get(exc)

    async def handler(request: Request, e: Exception) -> Any:
        if wants_html(request) or json_handler is None:
            return error_page(request, status_of(e))
        return await json_handler(request, e)

    api.exception_handler(exc)(handler)


async def _redirect(_request: Request, e: Exception) -> Any:
    assert isinstance(e, PageRedirect)
    return redirect(e.location)


async def _server_error(request: Request, e: Exception) -> Any:
    log.error("page %s failed: %s", request.url.path, type(e).__name__)
    if wants_html(request):
        return error_page(request, 500)
    return PlainTextResponse("Internal Server Error", status_code=500)


def install(api: FastAPI) -> None:
    """HTML error pages for browsers on `api` (after projections/api/errors.install)."""
    json_unauthenticated = api.exception_handlers[Unauthenticated]

    async def unauthenticated(request: Request, e: Exception) -> Any:
        if wants_html(request):  # a browser: to the login form, then back here
            # Path only: an API route's query may hold a searched name, kept out of one more URL.
            back = request.url.path if request.method == "GET" else "/"
            return redirect("/login?next=" + quote(back, safe="/"))
        return await json_unauthenticated(request, e)

    api.exception_handler(PageRedirect)(_redirect)
    api.exception_handler(Unauthenticated)(unauthenticated)
    _wrap(api, HTTPException, lambda e: e.status_code)
    _wrap(api, AccessDenied, lambda e: e.status)
    _wrap(api, RateLimited, lambda e: 429)
    _wrap(api, RequestValidationError, lambda e: 422)
    api.exception_handler(Exception)(_server_error)
