"""GET/POST /tujuan: the purpose of access (UU 27/2022), stated once per login session before
any page shows personal data; kept in a cookie bound to the session, sent with every audit
entry of the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ..access import AccessDenied
from .deps import PageCaller, keep_purpose, redirect, safe_next, stated_purpose
from .render import render

router = APIRouter(include_in_schema=False)


@router.get("/tujuan")
def purpose_form(request: Request, caller: PageCaller, next: str = "/") -> Response:
    """The form: which purpose, a note (ticket or letter number), then back to `next`."""
    stated = stated_purpose(request)
    return render(
        request,
        "purpose.html",
        caller=caller,
        next=safe_next(next),
        chosen=stated[0] if stated else "",
        note=(stated[1] if stated else "") or "",
    )


@router.post("/tujuan")
def state_purpose(
    request: Request,
    caller: PageCaller,
    purpose: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Keep the stated purpose for this session (a code outside the list: the form again)."""
    try:
        stated = caller.stating(purpose, note.strip() or None)
    except AccessDenied:
        return render(
            request,
            "purpose.html",
            caller=caller,
            next=safe_next(next),
            chosen=purpose,
            note=note,
            error="Pilih salah satu tujuan akses dari daftar (catatan paling banyak 500 huruf).",
            status=422,
        )
    r = redirect(safe_next(next))
    keep_purpose(request, r, stated.purpose or "", stated.purpose_note)
    return r
