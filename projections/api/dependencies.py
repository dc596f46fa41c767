"""What a route of the read API may ask for: a read session, the caller, and the audit.

Reads run on `app.state.readers` (never the SQLite write lock); the audit entries are written to
`app.state.audit` (its own database), by Audit only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy.orm import Session

from domain.purposes import NOTE_MAX, PURPOSES

from ..access import PURPOSE_HEADER, PURPOSE_NOTE_HEADER, Caller
from ..audit import AuditError, AuditLog, Read
from ..auth import SESSION_COOKIE

log = logging.getLogger(__name__)


def read_session(request: Request) -> Iterator[Session]:
    """A session on the read-only store, closed after the response."""
    with request.app.state.readers.sessions() as s:
        yield s


# Declared for the OpenAPI document (how to authenticate); the Authenticator reads the request.
_bearer = HTTPBearer(auto_error=False, description="An OIDC access token (audience mpphub-api)")
_session = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="The session cookie of POST /login"
)
PurposeCode = StrEnum("PurposeCode", {code: code for code in PURPOSES})  # type: ignore[misc]


def authenticated_caller(
    request: Request,
    _token: Annotated[object, Depends(_bearer)],
    _cookie: Annotated[object, Depends(_session)],
) -> Caller:
    """Who calls, proven by a session cookie or a bearer token (401 without; 403 for a
    cookie-authenticated write without its CSRF token). No purpose: for routes that show no
    personal data."""
    return request.app.state.auth.caller(request)


Authenticated = Annotated[Caller, Depends(authenticated_caller)]


def current_caller(
    caller: Authenticated,
    purpose: Annotated[
        PurposeCode,
        Header(alias=PURPOSE_HEADER, description="Why personal data is read (domain/purposes.py)"),
    ],
    note: Annotated[
        str | None,
        Header(alias=PURPOSE_NOTE_HEADER, max_length=NOTE_MAX, description="Ticket, letter no."),
    ] = None,
) -> Caller:
    """The authenticated caller reading personal data for a stated purpose (422 for a purpose
    outside the list)."""
    return caller.stating(purpose.value, note)


ReadSession = Annotated[Session, Depends(read_session)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]


def search_limit(request: Request, caller: CurrentCaller) -> None:
    """Count a search against its user and its client address (429 past the limit)."""
    request.app.state.auth.limits.hit("search", f"user:{caller.who}", f"addr:{caller.client}")


SearchLimit = Depends(search_limit)


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
