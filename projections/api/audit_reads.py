"""POST /audit/reads: who read a person's data, for an auditor answering a citizen (UU 27/2022),
as JSON, CSV or PDF. The person is named in the body (a NIK is matched by its keyed token; a
person id directly), never in a URL; the auditor's own look is an audit entry too."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.nik import mask_nik

from ..access import AccessDenied
from ..audit.export import COLUMNS, to_csv, to_pdf
from .dependencies import AuditTrail, CurrentCaller
from .errors import AUTHENTICATED

router = APIRouter(responses=AUTHENTICATED)


class ReadsQuery(BaseModel):
    """Whose reads to list: a NIK, person ids (a person and its merged aliases), or both."""

    model_config = ConfigDict(extra="forbid")

    nik: str | None = Field(default=None, pattern=r"^[0-9]{16}$")
    person_ids: list[str] = Field(default_factory=list, max_length=50)
    format: Literal["json", "csv", "pdf"] = "json"

    @model_validator(mode="after")
    def _someone(self) -> ReadsQuery:
        if not self.nik and not self.person_ids:
            raise ValueError("name the person: nik or person_ids")
        return self


@router.post("/audit/reads", response_model=None)
def reads(
    body: ReadsQuery, request: Request, who: CurrentCaller, audit: AuditTrail
) -> dict[str, Any] | Response:
    """Every audit entry about the person, oldest first (auditors only)."""
    if not who.role.reads_audit:
        raise AccessDenied(f"role {who.role.name} does not read the audit")
    log = request.app.state.audit
    found = log.reads_of(nik=body.nik, person_ids=body.person_ids)
    audit.record("audit.reads", person_id=next(iter(body.person_ids), None), nik=body.nik)
    subject = ", ".join([*([mask_nik(body.nik)] if body.nik else []), *body.person_ids])
    if body.format == "csv":
        return Response(to_csv(found), media_type="text/csv; charset=utf-8")
    if body.format == "pdf":
        return Response(to_pdf(found, subject), media_type="application/pdf")
    return {
        "subject": subject,
        "reads": [{c: getattr(e, c) for c in COLUMNS} for e in found],
    }
