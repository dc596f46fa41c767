"""GET /identity/reviews: the review queue (both records masked for the caller, evidence per
field); POST /identity/reviews: a supervisor's "same" / "different", produced as a MUST_LINK /
CANNOT_LINK command for the resolver. The pair leaves the queue when the resolver's decision
comes back on the identity topic, not when the command is sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from schemas.registry import RegistryError

from .. import reviews
from ..access import AccessDenied, Caller
from ..commands import KINDS, review_command
from . import scope
from .dependencies import Audit, AuditTrail, CurrentCaller, ReadSession
from .errors import ITEM

router = APIRouter(responses=ITEM)

SUPERVISOR = "supervisor"


class ReviewDecision(BaseModel):
    """A supervisor's decision on two records (record keys, as the queue lists them)."""

    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(min_length=1, max_length=64)
    other_record_id: str = Field(min_length=1, max_length=64)
    decision: Literal["same", "different"]
    note: str | None = Field(default=None, max_length=2000)


@router.get("/identity/reviews")
def queue(
    s: ReadSession,
    who: CurrentCaller,
    audit: AuditTrail,
    limit: Annotated[int, Query(ge=1, le=reviews.QUEUE_LIMIT)] = reviews.QUEUE_LIMIT,
) -> dict[str, Any]:
    """Open reviews, oldest first: both records' fields and each field's comparison level and
    weight."""
    return read_queue(s, who, audit, limit)


def read_queue(s: Session, who: Caller, audit: Audit, limit: int) -> dict[str, Any]:
    """The one read of the review queue, for the API and the review page: refused to an agency
    administrator, masked for the caller, one audit entry per person shown."""
    scope.not_agency_bound(who, "review identities across agencies")
    items = reviews.open_reviews(s, who, limit)
    shown = {(r or {}).get("person_id") for item in items for r in item["records"]}
    audit.shown("identity.reviews", [(p, None) for p in sorted(shown - {None})])
    return {"reviews": items, "open": reviews.open_review_count(s)}


@router.post("/identity/reviews", status_code=202)
async def decide(
    body: ReviewDecision, request: Request, s: ReadSession, who: CurrentCaller, audit: AuditTrail
) -> dict[str, Any]:
    """Send a supervisor's decision to the resolver (supervisors only); 202 once Kafka has it."""
    return await send_decision(body, request, s, who, audit)


async def send_decision(
    body: ReviewDecision, request: Request, s: Session, who: Caller, audit: Audit
) -> dict[str, Any]:
    """The one path of a review decision, for the API and the review page: checked, sent to
    Kafka as a command, its note kept, audited. AccessDenied (not a supervisor) or
    HTTPException 422 (a record against itself), 404 (no such record), 503 (not sent)."""
    if not who.role.decides_reviews:
        raise AccessDenied(f"only a {SUPERVISOR} decides identity reviews")
    if body.record_id == body.other_record_id:
        raise HTTPException(422, "a record cannot be reviewed against itself")
    known, person_id = reviews.record_person(s, body.record_id)
    other_known, _ = reviews.record_person(s, body.other_record_id)
    if not (known and other_known):
        raise HTTPException(404, "no record with this id")
    command = review_command(
        body.decision,
        body.record_id,
        body.other_record_id,
        person_id=person_id or "",
        who=who.who,
    )
    try:
        await request.app.state.commands.send(command)
    except (TimeoutError, KafkaError, RegistryError, OSError) as e:
        raise HTTPException(503, f"the decision was not sent: {type(e).__name__}") from None
    with request.app.state.store.sessions() as w:
        reviews.note_decision(
            w, who.who, body.record_id, body.other_record_id, KINDS[body.decision], body.note
        )
        w.commit()
    audit.record("identity.decide", person_id=person_id)
    return {
        "kind": command["kind"],
        "record_id": body.record_id,
        "other_record_id": body.other_record_id,
        "status": "sent",
    }
