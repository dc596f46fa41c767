"""The front office's API (FastAPI) over the projections: one router per resource, the page
and the login (security.py; metrics are served apart, `mpphub api --metrics-port`). Its one
write is a supervisor's review decision, sent to Kafka as a command.

Every read of a person's data needs an authenticated caller and a stated purpose
(dependencies.current_caller, projections/auth); it is masked by the caller's role and written
to the audit chain (projections/audit, its own database) before the answer leaves (no entry, no
data: 503), through dependencies.Audit only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from domain.tokens import Tokens, load_secret

from ..audit import AuditLog, open_audit
from ..audit.heads import HeadPublisher
from ..commands import ReviewCommands
from ..settings import ApiSettings
from ..store import Store, open_store
from . import (
    audit_reads,
    citizens,
    findings,
    health,
    identity,
    page,
    permits,
    pipeline,
    security,
    services,
    sla,
)
from .reports import router as compliance_reports


def _read_store(store: Store) -> Store:
    """The store reads run on: for SQLite a second, read-only one, so reads never take the
    write lock (the audit has a database of its own); else `store` itself."""
    if store.engine.url.get_backend_name() != "sqlite":
        return store
    url = store.engine.url.render_as_string(hide_password=False)
    return open_store(url, create=False, writer=False)


def create_api(
    settings: ApiSettings,
    *,
    store: Store | None = None,
    commands: Any = None,
    tokens: Tokens | None = None,
    audit: AuditLog | None = None,
    heads: Any = None,
) -> FastAPI:
    """The API over settings.db_url (tables created if missing), or over `store` (left open:
    it belongs to the caller); review decisions go to `commands` (default: a ReviewCommands
    producer on settings.kafka). Reads are audited in `audit` (default: settings.audit_db_url,
    chained under `tokens`, default the secret in settings.secret_file: SecretError naming the
    file when it is unusable), whose head `heads` publishes every audit_head_interval_s
    (default: a HeadPublisher on settings.kafka)."""
    tokens = tokens or (audit.tokens if audit else Tokens(load_secret(settings.secret_file)))
    owns_audit = audit is None
    audit = audit or open_audit(settings.audit_db_url, tokens)
    owned = store is None
    store = store or open_store(settings.db_url)
    readers = _read_store(store)
    commands = commands or ReviewCommands(
        settings.kafka, settings.registry_url, registry_auth=settings.registry_auth
    )
    heads = heads or HeadPublisher(settings.kafka, settings.kafka.topics.audit_heads)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        publishing = None
        if settings.audit_head_interval_s > 0:
            publishing = asyncio.create_task(heads.run(audit, settings.audit_head_interval_s))
        yield
        if publishing is not None:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
        await heads.close()
        if owns_audit:
            audit.close()
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
    api.state.audit = audit
    api.state.tokens = tokens
    api.state.settings = settings
    security.install(api, settings.auth)
    # sla before permits: /permits/sla-board is no /permits/{permit_id}
    for resource in (health, citizens, sla, permits, services, identity, audit_reads, page):
        api.include_router(resource.router)
    api.include_router(compliance_reports)
    api.include_router(findings.router)
    api.include_router(pipeline.router)
    # Imported here: these pages import this package (its reads), so not at its top.
    from ..web.compliance import router as compliance_page
    from ..web.health import router as pipeline_page
    from ..web.quality import router as quality_page
    from ..web.reviews import router as review_page
    from ..web.sla import router as sla_page

    api.include_router(sla_page)
    api.include_router(review_page)
    api.include_router(compliance_page)
    api.include_router(quality_page)
    api.include_router(pipeline_page)
    return api


def run_api(settings: ApiSettings) -> None:
    """Serve the API with uvicorn until stopped."""
    import uvicorn

    uvicorn.run(
        create_api(settings), host=settings.host, port=settings.port, log_level=settings.log_level
    )
