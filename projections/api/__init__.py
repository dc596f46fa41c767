"""The front office's API (FastAPI) over the projections: one router per resource, the page,
and /metrics. Its one write is a supervisor's review decision, sent to Kafka as a command.

Reads of a person's data are masked by the caller's role and written to the access log before
the answer leaves (no log, no data), through dependencies.Audit only. See projections/access.py
for the headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from ..access import AccessDenied
from ..commands import ReviewCommands
from ..settings import ApiSettings
from ..store import Store, open_store
from . import citizens, health, identity, page, permits, services


def _read_store(store: Store) -> Store:
    """The store reads run on: for SQLite a second, read-only one, so reads never take the
    write lock (the access log is written apart, briefly); else `store` itself."""
    if store.engine.url.get_backend_name() != "sqlite":
        return store
    url = store.engine.url.render_as_string(hide_password=False)
    return open_store(url, create=False, writer=False)


async def _denied(_request: Request, e: AccessDenied) -> JSONResponse:
    return JSONResponse({"detail": str(e)}, status_code=e.status)


def create_api(
    settings: ApiSettings, *, store: Store | None = None, commands: Any = None
) -> FastAPI:
    """The API over settings.db_url (tables created if missing), or over `store` (left open:
    it belongs to the caller); review decisions go to `commands` (default: a ReviewCommands
    producer on settings.kafka)."""
    owned = store is None
    store = store or open_store(settings.db_url)
    readers = _read_store(store)
    commands = commands or ReviewCommands(
        settings.kafka, settings.registry_url, registry_auth=settings.registry_auth
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await commands.close()
        if readers is not store:
            readers.close()
        if owned:
            store.close()

    api = FastAPI(
        title="MPP Hub",
        summary="One citizen record across agencies, their permits and turnaround.",
        version="0.1.0",
        lifespan=lifespan,
    )
    api.state.store = store
    api.state.readers = readers
    api.state.commands = commands
    api.mount("/metrics", make_asgi_app())
    api.exception_handler(AccessDenied)(_denied)
    for resource in (health, citizens, permits, services, identity, page):
        api.include_router(resource.router)
    return api


def run_api(settings: ApiSettings) -> None:
    """Serve the API with uvicorn until stopped."""
    import uvicorn

    uvicorn.run(
        create_api(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )
