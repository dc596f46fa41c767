"""GET /citizens/{key} and GET /citizens?name=: one citizen's record, or a search by name.

Both are reads of personal data: masked by the caller's role and audited after the read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from .. import reads
from .dependencies import AuditTrail, CurrentCaller, ReadSession

router = APIRouter()


@router.get("/citizens/{key}")
def citizen(key: str, s: ReadSession, who: CurrentCaller, audit: AuditTrail) -> dict[str, Any]:
    """A citizen by person id, by a merged person id (an alias: answered with the surviving
    person, `alias` says so) or by NIK, with sources and permits; the NIK masked unless the
    role may see it."""
    found = reads.find_citizen(s, key.strip())
    if found is None:
        audit.record("citizen.read", resource="citizen:not-found", result_count=0)
        raise HTTPException(404, "no citizen with this NIK or person id")
    view = reads.citizen_view(s, found, who)
    person_id = found.citizen.person_id
    audit.record(
        "citizen.read", person_id=person_id, resource=f"citizen:{person_id}", result_count=1
    )
    return view


@router.get("/citizens")
def search(
    name: Annotated[str, Query(description="Part of the name, at least 3 characters")],
    s: ReadSession,
    audit: AuditTrail,
) -> dict[str, Any]:
    """Citizens by name, always masked; open one with /citizens/{person_id}."""
    try:
        found = reads.search_citizens(s, name)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    audit.record("citizen.search", resource=f"search:name={name.strip()}", result_count=len(found))
    return {"results": found, "limit": reads.SEARCH_LIMIT}
