"""Puts authentication on the API: the Authenticator (accounts, OIDC, rate limits) in
`app.state.auth`, the error answers of errors.py, the body-size limit, the login routes and the
pages' foundation (projections/web: error pages for browsers, /static, the purpose form).
Metrics are not served here: `mpphub api --metrics-port` serves them on a port of their own."""

from __future__ import annotations

from fastapi import FastAPI

from ..auth import Authenticator, AuthSettings
from ..web import install as install_pages
from . import errors, login
from .bodylimit import BodyLimit


def install(api: FastAPI, settings: AuthSettings) -> Authenticator:
    """Authentication, error answers, body limit and /login on `api`; its Authenticator."""
    auth = Authenticator(settings)
    api.state.auth = auth
    errors.install(api)
    api.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    api.include_router(login.router)
    install_pages(api)  # the pages' error pages, /static and the purpose form
    return auth
