"""Server-rendered pages of the front office, from the same app and reads as the JSON API.

install(api) puts the pages' foundation on the API: /static (CSS shipped in the package), the
purpose-of-access form, and error pages for browsers. Each feature's pages are a module here
with a `router`, included in projections.api.create_api; templates in templates/, rendered with
render.render, routes guarded by deps.PageCaller / deps.PageReader, links in nav.NAV.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from . import errors, purpose
from .render import STATIC


def install(api: FastAPI) -> None:
    """The pages' foundation on `api` (after its security is installed)."""
    errors.install(api)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    api.include_router(purpose.router)
