"""GET /permits/{permit_id}: a permit with its timeline; a read of the applicant's data, audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from .. import reads
from ..models import Citizen, Permit
from . import scope
from .dependencies import AuditTrail, CurrentCaller, ReadSession
from .errors import ITEM

router = APIRouter(responses=ITEM)


@router.get("/permits/{permit_id}")
def permit(permit_id: str, s: ReadSession, who: CurrentCaller, audit: AuditTrail) -> dict[str, Any]:
    """A permit with its status timeline, working days and SLA state."""
    found = s.get(Permit, permit_id)
    if found is None:
        raise HTTPException(404, f"no permit {permit_id}")
    scope.permit(who, found.agency, f"no permit {permit_id}")
    view = reads.permit_view(s, found, who)
    applicant = s.get(Citizen, found.applicant_person_id) if found.applicant_person_id else None
    audit.record(
        "permit.read",
        person_id=found.applicant_person_id,
        nik=applicant.nik if applicant is not None else None,
    )
    return view
