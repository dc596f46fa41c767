"""The counter view (officer, supervisor): search a citizen by name, NIK or KK number (POST
forms: none of them goes in a URL), and the citizen's page: identity fields with their source,
the fields on which agencies disagree, the linked agency records with their match confidence,
the permits with status, timeline and SLA state.

Reads go through projections.reads as the JSON API's do, masked by role, limited per agency by
api.scope, and every person shown is an audit entry (api.dependencies.Audit) with the purpose
stated for the session.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from .. import reads
from ..access import AccessDenied, Caller
from ..api import scope
from ..api.dependencies import Audit
from ..models import Permit
from .deps import PageCaller, PageReader, PageRedirect, redirect, stated_purpose
from .render import render

router = APIRouter(include_in_schema=False)
COUNTER_ROLES = frozenset({"officer", "supervisor"})
NUMBER = re.compile(r"^[0-9]{16}$")
PERSON_ID = re.compile(r"^P[0-9A-Z]{26}$")
NOT_FOUND = "Data warga tidak ditemukan."

# Identity fields as the page lists them, with their labels.
FIELDS = {
    "nik": "NIK",
    "nik_status": "Status NIK",
    "kk_number": "Nomor KK",
    "name": "Nama",
    "sex": "Jenis kelamin",
    "birth_date": "Tanggal lahir",
    "birth_place": "Tempat lahir",
    "address": "Alamat",
    "kecamatan_code": "Kode kecamatan",
    "kelurahan_code": "Kode kelurahan",
    "religion": "Agama",
    "marital_status": "Status perkawinan",
    "occupation": "Pekerjaan",
    "deceased": "Meninggal",
    "death_date": "Tanggal meninggal",
}
WAYS = {"nama": "Nama", "nik": "NIK", "kk": "Nomor KK"}


def counter_only(caller: Caller) -> None:
    if caller.role.name not in COUNTER_ROLES:
        raise AccessDenied("halaman loket hanya untuk petugas loket dan supervisor")


def audit_of(request: Request, caller: Caller) -> Audit:
    return Audit(request.app.state.audit, caller)


def home_page(request: Request, caller: Caller, status: int = 200, **context) -> Response:
    return render(request, "counter_home.html", caller=caller, ways=WAYS, status=status, **context)


@router.get("/")
def home(request: Request, caller: PageCaller) -> Response:
    """The home page: the search forms for the counter's roles (who state their purpose of
    access first), the navigation for the others."""
    if caller.role.name in COUNTER_ROLES and stated_purpose(request) is None:
        raise PageRedirect("/tujuan?next=/")
    stated = stated_purpose(request)
    if stated is not None:
        caller = caller.stating(*stated)
    return home_page(request, caller, counter=caller.role.name in COUNTER_ROLES)


@router.post("/cari")
def search(
    request: Request,
    caller: PageReader,
    cara: Annotated[str, Form(max_length=8)] = "nama",
    q: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One search form, three ways: by name (a list), by NIK (the citizen), by KK number (the
    family); bad or empty input and no result answer on the page itself."""
    counter_only(caller)
    way = cara if cara in WAYS else "nama"
    text = q.strip()

    def again(message: str, status: int = 200) -> Response:
        return home_page(
            request, caller, counter=True, way=way, q=text if way == "nama" else "",
            message=message, status=status,
        )  # fmt: skip

    if not text:
        return again("Isi nama, NIK atau nomor KK yang dicari.", 422)
    auth = request.app.state.auth
    auth.limits.hit("search", f"user:{caller.who}", f"addr:{caller.client}")
    audit = audit_of(request, caller)
    with request.app.state.readers.sessions() as s:
        if way == "nama":
            if len(text) < reads.MIN_SEARCH:
                return again(f"Nama yang dicari paling sedikit {reads.MIN_SEARCH} huruf.", 422)
            found = scope.people(s, caller, reads.search_citizens(s, text))
            audit.shown("citizen.search", [(c.person_id, c.nik) for c in found])
        else:
            digits = re.sub(r"[\s.-]", "", text)
            if not NUMBER.match(digits):
                return again(f"{WAYS[way]} terdiri dari 16 angka.", 422)
            if way == "nik":
                return _by_nik(s, caller, audit, digits) or again(
                    "Tidak ada warga dengan NIK tersebut."
                )
            found = scope.people(s, caller, reads.find_by_kk(s, digits))
            if found:
                audit.shown("citizen.kk_lookup", [(c.person_id, c.nik) for c in found])
            else:
                audit.record("citizen.kk_lookup", nik=digits)
        results = reads.search_view(found)
    if not results:
        return again(
            "Tidak ada warga dengan nama tersebut."
            if way == "nama"
            else "Tidak ada warga dengan nomor KK tersebut."
        )
    return home_page(
        request, caller, counter=True, way=way, q=text if way == "nama" else "", results=results
    )


def _by_nik(s: Session, caller: Caller, audit: Audit, nik: str) -> Response | None:
    """On to the citizen holding `nik` (audited either way); None when nobody does."""
    found = reads.find_by_nik(s, nik)
    if found is None or not scope.people(s, caller, [found.citizen]):
        audit.record("citizen.lookup", nik=nik)
        return None
    audit.record("citizen.lookup", person_id=found.citizen.person_id, nik=found.citizen.nik)
    return redirect(f"/warga/{found.citizen.person_id}")


@router.get("/warga/{person_id}")
def citizen(request: Request, person_id: str, caller: PageReader) -> Response:
    """A citizen's page, audited as an API read of the citizen is."""
    counter_only(caller)
    if not PERSON_ID.match(person_id):
        return render(request, "error.html", caller=caller, code=404, message=NOT_FOUND, status=404)
    with request.app.state.readers.sessions() as s:
        found = reads.find_citizen(s, person_id)
        if found is None:
            return render(
                request, "error.html", caller=caller, code=404, message=NOT_FOUND, status=404
            )
        view = scope.citizen(caller, reads.citizen_view(s, found, caller), NOT_FOUND)
        permits = [
            reads.permit_view(s, s.get(Permit, p["permit_id"]), caller) for p in view["permits"]
        ]
        audit_of(request, caller).record(
            "citizen.read", person_id=found.citizen.person_id, nik=found.citizen.nik
        )
    return render(
        request,
        "counter_citizen.html",
        caller=caller,
        c=view,
        fields=FIELDS,
        conflicts=view["disagreements"],
        conflicted={d["field"] for d in view["disagreements"]},
        permits=permits,
    )
