"""What an agency administrator may see: their own agency's records, permits and findings only.

Another agency's item answers exactly as a missing one (404, same message), so a probe learns
nothing about what exists elsewhere. In a citizen's record the facts that only another agency
holds are blanked, with their provenance; the agency's own source records stay whole.
Any other role sees everything (its masking is access.py's business).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access import AccessDenied, Caller
from ..models import Citizen, CitizenSourceRecord


def citizen(caller: Caller, view: dict[str, Any], not_found: str) -> dict[str, Any]:
    """The citizen view as this caller may see it; 404 `not_found` when an agency
    administrator's agency holds no record of this person."""
    if not caller.role.agency_bound:
        return view
    sources = [s for s in view.get("sources", []) if caller.may_see_agency(s.get("agency"))]
    if not sources:
        raise HTTPException(404, not_found)
    out = dict(view, sources=sources)
    out["permits"] = [p for p in view.get("permits", []) if caller.may_see_agency(p.get("agency"))]
    provenance = dict(view.get("provenance") or {})
    for field_name, src in list(provenance.items()):
        if not caller.may_see_agency((src or {}).get("agency")):
            out[field_name] = None  # a fact only another agency holds
            del provenance[field_name]
    out["provenance"] = provenance
    out["disagreements"] = _own_disagreements(caller, view.get("disagreements") or [])
    return out


def _own_disagreements(caller: Caller, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The disagreements among the caller's own agency's records only."""
    out = []
    for d in found:
        values = [
            dict(v, sources=mine)
            for v in d["values"]
            if (mine := [s for s in v["sources"] if caller.may_see_agency(s["agency"])])
        ]
        if len(values) > 1:
            out.append(dict(d, values=values))
    return out


def permit(caller: Caller, agency: str | None, not_found: str) -> None:
    """404 `not_found` when an agency administrator asks for another agency's permit."""
    if not caller.may_see_agency(agency):
        raise HTTPException(404, not_found)


def people(session: Session, caller: Caller, found: Sequence[Citizen]) -> list[Citizen]:
    """The search results this caller may see: for an agency administrator only the people
    their agency holds a record of."""
    if not caller.role.agency_bound or not found:
        return list(found)
    held = set(
        session.scalars(
            select(CitizenSourceRecord.person_id).where(
                CitizenSourceRecord.person_id.in_([c.person_id for c in found]),
                CitizenSourceRecord.agency == caller.agency,
            )
        )
    )
    return [c for c in found if c.person_id in held]


def not_agency_bound(caller: Caller, what: str) -> None:
    """403 for an agency administrator on a front-office function that spans agencies."""
    if caller.role.agency_bound:
        raise AccessDenied(f"an agency administrator does not {what}")
