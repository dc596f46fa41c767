"""The front office's read API (FastAPI) over the projections, the page, and /metrics.

Reads of a person's data are masked by the caller's role and written to the access log before
the answer leaves (no log, no data). See projections/access.py for the headers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import make_asgi_app
from sqlalchemy import text
from sqlalchemy.orm import Session

from . import reads
from .access import AccessDenied, Caller, caller_from_headers, log_access
from .models import Permit
from .page import PAGE
from .settings import ApiSettings
from .store import Store, open_store


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.readers.sessions() as s:
        yield s


def _caller(request: Request) -> Caller:
    host = request.client.host if request.client else None
    return caller_from_headers(request.headers, host)


def create_api(settings: ApiSettings, *, store: Store | None = None) -> FastAPI:
    """The read API over settings.db_url (tables created if missing), or over
    `store` (left open: it belongs to the caller)."""
    owned = store is None
    store = store or open_store(settings.db_url)
    # Reads never take the SQLite write lock; the access log is written apart, briefly.
    readers = store
    if store.engine.url.get_backend_name() == "sqlite":
        url = store.engine.url.render_as_string(hide_password=False)
        readers = open_store(url, create=False, writer=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
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
    api.mount("/metrics", make_asgi_app())

    @api.exception_handler(AccessDenied)
    async def _denied(_request: Request, e: AccessDenied) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=e.status)

    def audit(who: Caller, action: str, **fields: Any) -> None:
        with store.sessions() as s:
            log_access(s, who, action, **fields)
            s.commit()

    @api.get("/health")
    def health(s: Annotated[Session, Depends(_session)]) -> dict[str, Any]:
        """Liveness and database reachability."""
        try:
            s.execute(text("SELECT 1"))
        except Exception as e:  # noqa: BLE001 - reported, not raised
            raise HTTPException(503, f"projection database unreachable: {type(e).__name__}") from e
        return {"status": "ok", "database": store.engine.url.get_backend_name()}

    @api.get("/citizens/{key}")
    def citizen(
        key: str, s: Annotated[Session, Depends(_session)], who: Annotated[Caller, Depends(_caller)]
    ) -> dict[str, Any]:
        """A citizen by NIK (or person key, or the ref from a search), with sources and
        permits; the NIK masked unless the role may see it."""
        found = reads.find_citizen(s, key.strip())
        if found is None:
            audit(who, "citizen.read", resource="citizen:not-found", result_count=0)
            raise HTTPException(404, "no citizen with this NIK or reference")
        view = reads.citizen_view(s, found, who)
        audit(
            who,
            "citizen.read",
            person_key=found.person_key,
            resource=f"citizen:{found.ref}",
            result_count=1,
        )
        return view

    @api.get("/citizens")
    def search(
        name: Annotated[str, Query(description="Part of the name, at least 3 characters")],
        s: Annotated[Session, Depends(_session)],
        who: Annotated[Caller, Depends(_caller)],
    ) -> dict[str, Any]:
        """Citizens by name, always masked; open one with /citizens/{ref}."""
        try:
            found = reads.search_citizens(s, name)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
        audit(
            who, "citizen.search", resource=f"search:name={name.strip()}", result_count=len(found)
        )
        return {"results": found, "limit": reads.SEARCH_LIMIT}

    @api.get("/permits/{permit_id}")
    def permit(
        permit_id: str,
        s: Annotated[Session, Depends(_session)],
        who: Annotated[Caller, Depends(_caller)],
    ) -> dict[str, Any]:
        """A permit with its status timeline, working days and SLA state."""
        found = s.get(Permit, permit_id)
        if found is None:
            raise HTTPException(404, f"no permit {permit_id}")
        view = reads.permit_view(s, found, who)
        audit(
            who,
            "permit.read",
            person_key=found.applicant_person_key,
            resource=f"permit:{permit_id}",
            result_count=1,
        )
        return view

    @api.get("/services/turnaround")
    def turnaround(s: Annotated[Session, Depends(_session)]) -> dict[str, Any]:
        """Per service: counts, median/p90 working days, share within SLA, Ombudsman zone."""
        return {"services": reads.turnaround(s)}

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        """The front-office page."""
        return PAGE

    return api


def run_api(settings: ApiSettings) -> None:
    """Serve the API with uvicorn until stopped."""
    import uvicorn

    uvicorn.run(
        create_api(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )
