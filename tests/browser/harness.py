"""Browser tests' plumbing: the app served by uvicorn in a thread on a free loopback port, and
a login through the real login form in Debian's chromium (Playwright, never a downloaded
browser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from ops.processes import free_port

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package `chromium` (ops/scripts/setup.sh --test)
START_TIMEOUT_S = 30.0


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve `app` (its lifespan run) on 127.0.0.1 until the block ends; yields the base URL."""
    port = free_port()
    # log_config=None: uvicorn's own would reconfigure the test process's loggers for good
    # (uvicorn.access stops propagating), and later tests read those logs.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"live-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the live server did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT_S)


def log_in(page, base_url: str, username: str, password: str, purpose: str | None = None) -> None:
    """Log in through the login form as a person would (labels, the button); when the purpose
    form follows, state `purpose` (default: serving a citizen) and submit it."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(lambda url: "/login" not in url)
    if "/tujuan" in page.url:
        page.get_by_label("Tujuan", exact=True).select_option(purpose or "service_delivery")
        page.get_by_role("button", name="Simpan tujuan").click()
        page.wait_for_url(lambda url: "/tujuan" not in url)


def make_app(directory: Path, project=None) -> FastAPI:
    """The API and its pages over a fresh SQLite projection in `directory` (filled by
    `project(store)` when given), with its own audit and accounts databases; review decisions
    are recorded, not sent (the real producer is tested in tests/projections/api/)."""
    from projections.api import create_api
    from projections.audit import open_audit
    from projections.auth import AuthSettings
    from projections.settings import ApiSettings
    from projections.store import open_store
    from tests.projections.api.conftest import TOKENS, Commands, Heads

    store = open_store(f"sqlite:///{directory / 'projections.db'}")
    if project is not None:
        project(store)
    settings = ApiSettings(
        db_url=str(store.engine.url),
        audit_head_interval_s=0,
        auth=AuthSettings(accounts_db_url=f"sqlite:///{directory / 'accounts.db'}"),
    )
    audit = open_audit(f"sqlite:///{directory / 'audit.db'}", TOKENS)
    return create_api(settings, store=store, commands=Commands(), audit=audit, heads=Heads())


def add_user(app: FastAPI, username: str, role: str, agency: str | None = None) -> str:
    """A built-in account on `app`; its password."""
    from tests.projections.api.logins import PASSWORD

    app.state.auth.accounts.add(username, PASSWORD, role, agency)
    return PASSWORD
