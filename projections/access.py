"""Who may see what of a person's data, and the access log (UU 27/2022 on personal data).

A caller states who they are (X-MPP-User), their role (X-MPP-Role) and why they look
(X-MPP-Purpose); this first read side trusts those headers, as it sits behind the MPP's
gateway. The role decides masking; every read of a person's record is logged, and a read that
shows the full NIK must state who and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from domain.nik import mask_nik, mask_numbers_in

from .models import AccessLog

USER_HEADER = "X-MPP-User"
ROLE_HEADER = "X-MPP-Role"
PURPOSE_HEADER = "X-MPP-Purpose"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Role:
    """A front-office role and what it may see."""

    name: str
    sees_full_nik: bool


ROLES: dict[str, Role] = {
    "officer": Role("officer", sees_full_nik=False),
    "supervisor": Role("supervisor", sees_full_nik=True),
}
DEFAULT_ROLE = "officer"


class AccessDenied(Exception):
    """A caller that may not read what they asked for; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who reads, in which role, why, from where."""

    who: str
    role: Role
    purpose: str | None
    client: str | None = None

    @property
    def full(self) -> bool:
        """Whether this caller sees NIK and KK numbers unmasked."""
        return self.role.sees_full_nik


def caller_from_headers(headers: Mapping[str, str], client: str | None = None) -> Caller:
    """The caller from the request headers; AccessDenied for an unknown role, or for a role
    that sees full NIKs without saying who reads and why."""
    role_name = (headers.get(ROLE_HEADER) or DEFAULT_ROLE).strip().lower()
    role = ROLES.get(role_name)
    if role is None:
        raise AccessDenied(
            f"role {role_name!r} is not one of {', '.join(sorted(ROLES))} (header {ROLE_HEADER})"
        )
    who = (headers.get(USER_HEADER) or "").strip()
    purpose = (headers.get(PURPOSE_HEADER) or "").strip() or None
    if role.sees_full_nik and (not who or not purpose):
        raise AccessDenied(
            f"role {role.name} sees full NIKs: state who reads ({USER_HEADER}) and why"
            f" ({PURPOSE_HEADER})",
            status=400,
        )
    return Caller(who or ANONYMOUS, role, purpose, client)


def mask_id(value: str | None, caller: Caller) -> str | None:
    """A NIK or KK number as this caller may see it (a value that is no such number, as it
    is)."""
    if value is None or caller.full:
        return value
    return mask_nik(value) if _looks_like_number(value) else value


def _looks_like_number(value: str) -> bool:
    digits = value.strip()
    return len(digits) >= 12 and digits.isdigit()


def mask_text(value: str | None, caller: Caller) -> str | None:
    """Free text that may embed an identity number (a source record id, a source position such
    as '2026-11-02 08:00:00|7413...'), with every such number masked for this caller."""
    if value is None or caller.full:
        return value
    return mask_numbers_in(value)


def mask_provenance(provenance: Mapping[str, Any] | None, caller: Caller) -> dict[str, Any]:
    """Per-field provenance with the record ids and positions masked for this caller."""
    out: dict[str, Any] = {}
    for field_name, src in (provenance or {}).items():
        src = dict(src)
        for k in ("record_id", "position"):
            if isinstance(src.get(k), str):
                src[k] = mask_text(src[k], caller)
        out[field_name] = src
    return out


# Fields of a person's data that are identity numbers (masked for roles that may not see them).
ID_FIELDS = ("nik", "kk_number")


def mask_data(data: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
    """A source record's data with identity numbers masked for this caller."""
    out = dict(data)
    for name in ID_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = mask_id(out[name], caller)
    return out


def log_access(
    session: Session,
    caller: Caller,
    action: str,
    *,
    person_id: str | None = None,
    resource: str | None = None,
    result_count: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Write one access-log row (in the session's transaction; the caller commits)."""
    at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    session.execute(
        insert(AccessLog).values(
            at=at,
            who=caller.who,
            role=caller.role.name,
            purpose=caller.purpose,
            action=action,
            person_id=person_id,
            resource=resource,
            result_count=result_count,
            client=caller.client,
        )
    )
