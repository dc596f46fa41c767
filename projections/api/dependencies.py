"""What a route of the read API may ask for: a read session, the caller, and the audit.

Reads run on `app.state.readers` (never the SQLite write lock); the audit entries are written to
`app.state.audit` (its own database), by Audit only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from ..access import Caller, caller_from_headers
from ..audit import AuditError, AuditLog, Read

log = logging.getLogger(__name__)


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
    """The one way a route records a read of personal data: one chained audit entry per person
    shown (audit/), written after the read and before the answer leaves. No entry, no answer:
    a failed write is a 503 and the data stays in the server."""

    def __init__(self, log: AuditLog, caller: Caller):
        self.log = log
        self.caller = caller

    def record(self, action: str, *, person_id: str | None = None, nik: str | None = None) -> None:
        """One entry: this caller read (or looked up) one person, by id and/or NIK."""
        self.shown(action, [(person_id, nik)])

    def shown(self, action: str, people: Iterable[tuple[str | None, str | None]]) -> None:
        """One entry per (person id, NIK) this caller is shown, in one transaction; the NIK is
        kept only as its keyed token."""
        c = self.caller
        tokens = self.log.tokens
        reads = [
            Read(
                who=c.who,
                role=c.role.name,
                purpose=c.purpose,
                purpose_note=c.purpose_note,
                action=action,
                person_id=person_id,
                person_token=tokens.nik(nik) if nik else None,
                client=c.client,
            )
            for person_id, nik in people
        ]
        try:
            self.log.append(reads)
        except AuditError:
            log.exception("audit write failed: %s refused to %s", action, c.who)
            raise HTTPException(503, "the audit could not be written: nothing answered") from None


def request_audit(request: Request, caller: CurrentCaller) -> Audit:
    """The audit of this request's reads, in the audit database."""
    return Audit(request.app.state.audit, caller)


AuditTrail = Annotated[Audit, Depends(request_audit)]
