"""Permit tracking at the counter: "where is my permit?" by application number (the agency's
registration number, or the hub's permit id: no personal data, so a GET), with a printable
status slip for the citizen that never shows a full NIK. Each permit shown is an audit entry
naming its applicant, as the API's permit read is."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from domain.nik import mask_nik

from .. import reads
from ..models import Citizen
from .counter import audit_of, counter_only
from .deps import PageReader
from .render import render

router = APIRouter(include_in_schema=False)
MAX_NUMBER = 100


def _permits(request: Request, caller, number: str) -> list[dict]:
    """The visible permits of an application number, each read audited."""
    audit = audit_of(request, caller)
    out = []
    with request.app.state.readers.sessions() as s:
        for p in reads.find_permits(s, number):
            if not caller.may_see_agency(p.agency):
                continue
            view = reads.permit_view(s, p, caller)
            applicant = s.get(Citizen, p.applicant_person_id) if p.applicant_person_id else None
            view["slip_nik"] = mask_nik(applicant.nik) if applicant and applicant.nik else None
            audit.record(
                "permit.read",
                person_id=p.applicant_person_id,
                nik=applicant.nik if applicant is not None else None,
            )
            out.append(view)
    return out


@router.get("/permohonan")
def track(request: Request, caller: PageReader, no: str | None = None) -> Response:
    """The tracking form; with `no`, the permits it names or a message saying none does."""
    counter_only(caller)
    number = (no or "").strip()
    context: dict = {"no": number}
    status = 200
    if no is not None:
        if not number:
            context["message"] = "Isi nomor permohonan yang dicari."
            status = 422
        elif len(number) > MAX_NUMBER:
            context["message"] = "Nomor permohonan terlalu panjang."
            status = 422
        else:
            context["permits"] = _permits(request, caller, number)
            if not context["permits"]:
                context["message"] = f"Permohonan dengan nomor {number} tidak ditemukan."
                status = 404
    return render(request, "tracking.html", caller=caller, status=status, **context)


@router.get("/permohonan/slip")
def slip(request: Request, caller: PageReader, no: str = "") -> Response:
    """The status slip of an application number, laid out for printing."""
    counter_only(caller)
    number = no.strip()
    permits = _permits(request, caller, number) if 0 < len(number) <= MAX_NUMBER else []
    if not permits:
        message = f"Permohonan dengan nomor {number} tidak ditemukan." if number else None
        return render(
            request,
            "tracking.html",
            caller=caller,
            status=404 if number else 422,
            no=number,
            message=message or "Isi nomor permohonan yang dicari.",
        )
    return render(
        request,
        "tracking_slip.html",
        caller=caller,
        no=number,
        permits=permits,
        printed=dt.datetime.now(dt.UTC),
    )
