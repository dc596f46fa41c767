"""What a route of the read API may ask for: a read session, the caller, and the audit.

Reads run on `app.state.readers` (never the SQLite write lock); the access log is written on
`app.state.store`, in its own short transaction, by Audit only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from ..access import Caller, caller_from_headers, log_access
from ..store import Store


def read_session(request: Request) -> Iterator[Session]:
    """A session on the read-only store, closed after the response."""
    with request.app.state.readers.sessions() as s:
        yield s


def current_caller(request: Request) -> Caller:
    """The caller from the request's headers (AccessDenied for a refused role)."""
    host = request.client.host if request.client else None
    return caller_from_headers(request.headers, host)


ReadSession = Annotated[Session, Depends(read_session)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]


class Audit:
    """The one way a route logs a read of a person's data: after the read, before the answer."""

    def __init__(self, store: Store, caller: Caller):
        self.store = store
        self.caller = caller

    def record(
        self,
        action: str,
        *,
        person_id: str | None = None,
        resource: str | None = None,
        result_count: int | None = None,
    ) -> None:
        """Write one access-log row for this caller, in its own short transaction."""
        with self.store.sessions() as s:
            log_access(
                s,
                self.caller,
                action,
                person_id=person_id,
                resource=resource,
                result_count=result_count,
            )
            s.commit()


def request_audit(request: Request, caller: CurrentCaller) -> Audit:
    """The audit of this request's reads, on the writer store."""
    return Audit(request.app.state.store, caller)


AuditTrail = Annotated[Audit, Depends(request_audit)]
