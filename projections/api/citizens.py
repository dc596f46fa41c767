"""A citizen's record: by NIK with POST /citizens/lookup (a NIK never goes in a URL, where
access logs and browser histories keep it), by opaque person id with GET /citizens/{person_id};
a search by name with POST /citizens/search (a name is personal data too), the members of a
family card with POST /citizens/kk.

All are reads of personal data: masked by the caller's role, and every person shown is an audit
entry written before the answer leaves.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from .. import reads
from . import scope
from .dependencies import AuditTrail, CurrentCaller, ReadSession, SearchLimit
from .errors import ITEM

router = APIRouter(responses=ITEM)
PERSON_ID = r"^P[0-9A-Z]{26}$"  # the resolver's ids: 'P' + a ULID


class NikLookup(BaseModel):
    """A NIK to look up, in the request body."""

    model_config = ConfigDict(extra="forbid")

    nik: str = Field(min_length=16, max_length=16, pattern=r"^[0-9]{16}$")


class KkLookup(BaseModel):
    """A family card (KK) number to look up, in the request body."""

    model_config = ConfigDict(extra="forbid")

    kk_number: str = Field(min_length=16, max_length=16, pattern=r"^[0-9]{16}$")


class NameSearch(BaseModel):
    """Part of a name to search for, in the request body."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=reads.MIN_SEARCH, max_length=100)


@router.post("/citizens/lookup")
def lookup(
    body: NikLookup, s: ReadSession, who: CurrentCaller, audit: AuditTrail
) -> dict[str, Any]:
    """The citizen holding a NIK, with sources and permits; the NIK masked unless the role may
    see it. A NIK that finds nobody is audited too (as its keyed token)."""
    found = reads.find_by_nik(s, body.nik)
    if found is None:
        audit.record("citizen.lookup", nik=body.nik)
        raise HTTPException(404, "no citizen with this NIK")
    view = scope.citizen(who, reads.citizen_view(s, found, who), "no citizen with this NIK")
    audit.record("citizen.lookup", person_id=found.citizen.person_id, nik=found.citizen.nik)
    return view


@router.post("/citizens/kk", dependencies=[SearchLimit])
def kk_lookup(
    body: KkLookup, s: ReadSession, who: CurrentCaller, audit: AuditTrail
) -> dict[str, Any]:
    """The members of one family card, masked as a search is (open one by person id). Each
    person listed is an audit entry; a KK number that finds nobody is audited too (as its
    keyed token)."""
    found = scope.people(s, who, reads.find_by_kk(s, body.kk_number))
    if not found:
        audit.record("citizen.kk_lookup", nik=body.kk_number)
    else:
        audit.shown("citizen.kk_lookup", [(c.person_id, c.nik) for c in found])
    return {"results": reads.search_view(found), "limit": reads.SEARCH_LIMIT}


@router.post("/citizens/search", dependencies=[SearchLimit])
def search(
    body: NameSearch, s: ReadSession, who: CurrentCaller, audit: AuditTrail
) -> dict[str, Any]:
    """Citizens by name, always masked; open one with /citizens/{person_id}. Each person listed
    is an audit entry."""
    try:
        found = reads.search_citizens(s, body.name)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    found = scope.people(s, who, found)
    audit.shown("citizen.search", [(c.person_id, c.nik) for c in found])
    return {"results": reads.search_view(found), "limit": reads.SEARCH_LIMIT}


@router.get("/citizens/{person_id}")
def citizen(
    person_id: Annotated[str, Path(pattern=PERSON_ID, description="'P' + 26 characters")],
    s: ReadSession,
    who: CurrentCaller,
    audit: AuditTrail,
) -> dict[str, Any]:
    """A citizen by person id or by a merged person id (an alias: answered with the surviving
    person, `alias` says so), with sources and permits. Anything else, a NIK included, is a 422
    and is not looked up: a NIK goes in the body of POST /citizens/lookup, never in a URL.
    Declared last: /citizens/lookup and /citizens/search are not person ids."""
    found = reads.find_citizen(s, person_id)
    if found is None:
        raise HTTPException(404, "no citizen with this person id")
    view = scope.citizen(who, reads.citizen_view(s, found, who), "no citizen with this person id")
    audit.record("citizen.read", person_id=found.citizen.person_id, nik=found.citizen.nik)
    return view
