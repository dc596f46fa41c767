"""The review queue as a supervisor reads it: open pairs with both records' fields (masked for
the caller) and the evidence per field, and the supervisor decisions submitted on them.

A pair stays in the queue until the resolver's MUST_LINK / CANNOT_LINK arrives on the identity
topic (identity.py closes it) or its records come together in one person; a decision submitted
meanwhile is shown as submitted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session, aliased

from .access import Caller, mask_data, mask_text
from .identity import review_pair
from .models import CitizenSourceRecord, IdentityReview, RecordPerson, ReviewNote

QUEUE_LIMIT = 200


def _open() -> Select:
    """Reviews still open, as the resolver counts them: no supervisor decision on the pair,
    and both records placed, in different persons (a later link or merge settles a pair)."""
    a, b = aliased(RecordPerson), aliased(RecordPerson)
    return (
        select(IdentityReview)
        .join(a, a.record_key == IdentityReview.record_a)
        .join(b, b.record_key == IdentityReview.record_b)
        .where(IdentityReview.decision.is_(None), a.person_id != b.person_id)
    )


def open_review_count(session: Session) -> int:
    """Pairs waiting for a supervisor (the review-queue gauge)."""
    return int(session.scalar(select(func.count()).select_from(_open().subquery())) or 0)


def open_reviews(session: Session, caller: Caller, limit: int = QUEUE_LIMIT) -> list[dict]:
    """The open reviews, oldest first, each with both records and the evidence per field."""
    reviews = list(
        session.scalars(
            _open()
            .order_by(IdentityReview.reviewed_at, IdentityReview.record_a, IdentityReview.record_b)
            .limit(limit)
        )
    )
    keys = {k for r in reviews for k in (r.record_a, r.record_b)}
    records = _records(session, keys, caller)
    submitted = _submitted(session, reviews)
    return [
        {
            "record_id": r.record_a,
            "other_record_id": r.record_b,
            "records": [records.get(r.record_a), records.get(r.record_b)],
            "evidence": {
                "weight": r.weight,
                "probability": r.probability,
                "comparisons": r.comparisons,
            },
            "reason": r.reason,
            "reviewed_at": r.reviewed_at,
            "submitted": submitted.get((r.record_a, r.record_b), []),
        }
        for r in reviews
    ]


def _records(session: Session, keys: set[str], caller: Caller) -> dict[str, dict[str, Any]]:
    """record key -> what the projection knows of it (its person from the decisions; fields
    only once its fact has arrived)."""
    if not keys:
        return {}
    persons = {
        key: person
        for key, person in session.execute(
            select(RecordPerson.record_key, RecordPerson.person_id).where(
                RecordPerson.record_key.in_(sorted(keys))
            )
        )
    }
    out: dict[str, dict[str, Any]] = {
        k: {"record_id": k, "person_id": persons.get(k), "known": False} for k in keys
    }
    for r in session.scalars(
        select(CitizenSourceRecord).where(CitizenSourceRecord.record_key.in_(sorted(keys)))
    ):
        assert r.record_key is not None
        out[r.record_key].update(
            known=True,
            agency=r.agency,
            source_table=r.source_table,
            source_record_id=mask_text(r.source_record_id, caller),
            nik_status=r.nik_status,
            data=mask_data(r.data or {}, caller),
            deleted=r.deleted,
        )
    return out


def _submitted(session: Session, reviews: list[IdentityReview]) -> dict[tuple, list[dict]]:
    if not reviews:
        return {}
    pairs = {(r.record_a, r.record_b) for r in reviews}
    out: dict[tuple, list[dict]] = {}
    notes = session.scalars(
        select(ReviewNote)
        .where(ReviewNote.record_a.in_(sorted({a for a, _ in pairs})))
        .order_by(ReviewNote.at, ReviewNote.id)
    )
    for n in notes:
        if (n.record_a, n.record_b) in pairs:
            out.setdefault((n.record_a, n.record_b), []).append(
                {"who": n.who, "decision": n.decision, "at": n.at}
            )
    return out


def record_person(session: Session, record_key: str) -> tuple[bool, str | None]:
    """Whether a fact or a decision ever named this record key, and its person (None while it
    belongs to no person)."""
    link = session.get(RecordPerson, record_key)
    if link is not None:
        return True, link.person_id
    found = session.scalar(
        select(CitizenSourceRecord.record_key).where(CitizenSourceRecord.record_key == record_key)
    )
    return found is not None, None


def note_decision(
    session: Session,
    who: str,
    record_id: str,
    other_record_id: str,
    decision: str,
    note: str | None,
    now: dt.datetime | None = None,
) -> None:
    """Keep a submitted decision and its note (in the session's transaction; the caller
    commits)."""
    a, b = review_pair(record_id, other_record_id)
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    session.execute(
        insert(ReviewNote).values(
            at=at, who=who, record_a=a, record_b=b, decision=decision, note=note
        )
    )
