"""Renders the pages: one Jinja2 environment over templates/ (autoescape on: nothing from an
agency's records is ever markup), with Indonesian date and number filters."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from domain.purposes import PURPOSES

from ..access import Caller
from .nav import visible

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

MONTHS = (
    "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember"
).split()
ROLE_LABELS = {
    "officer": "Petugas loket",
    "supervisor": "Supervisor",
    "auditor": "Auditor",
    "agency_admin": "Admin instansi",
}

# What the counter says for a permit's SLA state and status (domain.workdays, domain.permits).
SLA_LABELS = {
    "on_track": "Sesuai jadwal",
    "at_risk": "Berisiko terlambat",
    "breached": "Melewati batas waktu",
}
STATUS_LABELS = {
    "RECEIVED": "Diterima",
    "INCOMPLETE": "Berkas belum lengkap",
    "FILE_COMPLETE": "Berkas lengkap",
    "VERIFIED": "Diverifikasi",
    "IN_PROCESS": "Diproses",
    "CLOCK_STOPPED": "Menunggu pemohon (waktu layanan dihentikan)",
    "CLOCK_RESUMED": "Dilanjutkan",
    "APPROVED": "Disetujui",
    "ISSUED": "Izin terbit",
    "REJECTED": "Ditolak",
    "CANCELLED": "Dibatalkan",
}


def tanggal(value: Any) -> str:
    """A date as '5 Juli 2026' (a datetime: its date); '-' for none; text as it is."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def waktu(value: Any) -> str:
    """A date and time as '5 Juli 2026 08.00' (Indonesian style); '-' for none."""
    value = _instant(value)
    if not isinstance(value, dt.datetime):
        return tanggal(value)
    return f"{tanggal(value)} {value:%H.%M}"


def _instant(value: Any) -> Any:
    """ISO text as a datetime; anything else (a date, text that is not a time) as it is."""
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


@pass_context
def waktu_hub(context: Any, value: Any) -> str:
    """One of the hub's own times (stored as naive UTC, or aware) in the regency's time zone
    (the page's `time_zone`), with its abbreviation: '5 Juli 2026 16.00 WITA'."""
    value = _instant(value)
    if not isinstance(value, dt.datetime):
        return tanggal(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(context.get("time_zone") or dt.UTC)
    return f"{waktu(local)} {local.tzname()}"


def angka(value: Any, digits: int = 0) -> str:
    """A number the Indonesian way: '1.234' and '12,5'; '-' for none."""
    if value is None or value == "":
        return "-"
    text = f"{float(value):,.{digits}f}" if digits else f"{round(float(value)):,}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(tanggal=tanggal, waktu=waktu, waktu_hub=waktu_hub, angka=angka)
ENV.globals.update(
    ROLE_LABELS=ROLE_LABELS, PURPOSES=PURPOSES, SLA_LABELS=SLA_LABELS, STATUS_LABELS=STATUS_LABELS
)


def render(
    request: Request,
    template: str,
    *,
    caller: Caller | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page `template` for this request: base.html gets the caller (their role, stated
    purpose, the session's CSRF token for forms) and the navigation their role may open."""
    from .deps import csrf_token  # deps imports render (error pages)

    page = ENV.get_template(template).render(
        request=request,
        caller=caller,
        nav=visible(caller),
        csrf_token=csrf_token(request) if caller is not None else "",
        path=request.url.path,
        time_zone=zoneinfo.ZoneInfo(request.app.state.settings.time_zone),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
