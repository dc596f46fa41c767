"""Who may see what of a person's data (UU 27/2022 on personal data); reads are audited by
projections/audit (through api.dependencies.Audit).

Who a caller is, and their role, come from authentication only (projections/auth: a built-in
account's session or an OIDC token); why they look is a code of domain.purposes in the
X-MPP-Purpose header, with free text in X-MPP-Purpose-Note. The role decides masking
(domain.nik.mask_nik says what a masked number keeps, and why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from domain.nik import mask_nik, mask_numbers_in
from domain.purposes import purpose, purpose_note

PURPOSE_HEADER = "X-MPP-Purpose"
PURPOSE_NOTE_HEADER = "X-MPP-Purpose-Note"


@dataclass(frozen=True)
class Role:
    """A front-office role and what it may see and do."""

    name: str
    sees_full_nik: bool
    decides_reviews: bool = False  # may send identity-review decisions
    reads_audit: bool = False  # may list who read a person's data (the audit trail)
    agency_bound: bool = False  # sees only the records and findings of the caller's agency


ROLES: dict[str, Role] = {
    # Counter staff: masked identity numbers, any agency's records (they serve every counter).
    "officer": Role("officer", sees_full_nik=False),
    # Head of the front office: full numbers when a purpose is stated; decides identity reviews.
    "supervisor": Role("supervisor", sees_full_nik=True, decides_reviews=True),
    # Inspectorate / data-protection officer: reads the audit trail, records masked.
    "auditor": Role("auditor", sees_full_nik=False, reads_audit=True),
    # An agency's own administrator: that agency's records and data-quality findings only.
    "agency_admin": Role("agency_admin", sees_full_nik=False, agency_bound=True),
}


class AccessDenied(Exception):
    """A caller that may not read what they asked for; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who reads (an authenticated user name), in which role, why (a code of
    domain.purposes.PURPOSES, plus free text), from where, and for an agency administrator
    which agency they are bound to. Built by the API's authentication only."""

    who: str
    role: Role
    purpose: str | None
    client: str | None = None
    purpose_note: str | None = None
    agency: str | None = None  # lower-cased agency code; required for an agency-bound role
    auth: str | None = None  # how the caller proved who they are: "session" or "oidc"

    @property
    def full(self) -> bool:
        """Whether this caller sees NIK and KK numbers unmasked."""
        return self.role.sees_full_nik

    def stating(self, code: str | None, note: str | None = None) -> Caller:
        """This caller reading for purpose `code` (one of PURPOSES) with free text `note`;
        AccessDenied 422 for a code outside the list or an over-long note."""
        try:
            found, note = purpose(code), purpose_note(note)
        except ValueError as e:
            raise AccessDenied(str(e), status=422) from None
        return replace(self, purpose=found.code, purpose_note=note)

    def may_see_agency(self, agency: str | None) -> bool:
        """Whether this caller may see a record or finding of `agency` (always, unless the role
        is agency-bound: then only their own)."""
        if not self.role.agency_bound:
            return True
        return bool(self.agency) and (agency or "").strip().lower() == self.agency


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
    """A source record's data with identity numbers masked for this caller: the NIK and KK
    fields, and any long number in another text field (an NPWP that is a NIK, a parent's NIK)."""
    out = dict(data)
    for name, value in out.items():
        if isinstance(value, str):
            out[name] = mask_id(value, caller) if name in ID_FIELDS else mask_text(value, caller)
    return out
