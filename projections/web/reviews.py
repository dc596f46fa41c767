"""The identity review queue page (supervisors): each open pair's two records side by side with
the evidence per field, and a form to decide "same" / "different". The read is
api.identity.read_queue and the decision api.identity.send_decision, the very functions behind
GET / POST /identity/reviews: same masking, same command to the resolver, same audit entries.

Only a role that decides reviews opens the page (officers and auditors keep the masked JSON
read; an agency administrator neither). A decision answers with a redirect back to the queue and
a confirmation; the pair stays listed, marked as sent, until the resolver's decision comes back.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ..access import AccessDenied, Caller
from ..api.dependencies import Audit, ReadSession
from ..api.identity import ReviewDecision, read_queue, send_decision
from ..reviews import QUEUE_LIMIT
from .deps import PageCaller, page_reader, redirect
from .render import render

router = APIRouter(include_in_schema=False)
PATH = "/tinjauan-identitas"
DECISIONS = {"same": "sama (orang yang sama)", "different": "berbeda (bukan orang yang sama)"}
KIND_LABELS = {"MUST_LINK": "sama", "CANNOT_LINK": "berbeda"}
# A failed decision, said on the page (the API's English detail stays in the JSON answer).
REFUSALS = {
    404: "Rekaman pasangan ini tidak ditemukan. Muat ulang antrean.",
    422: "Keputusan tidak sah: pilih 'sama' atau 'berbeda' untuk dua rekaman yang berbeda.",
    503: "Keputusan belum terkirim: layanan antrean (Kafka) tidak dapat dihubungi. Coba lagi.",
}

# Rows of the evidence table: label, the record fields shown, the matcher's comparisons of them.
ROWS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("NIK", ("nik",), ("nik",)),
    ("Nama", ("name",), ("name", "prefix")),
    ("Jenis kelamin", ("sex",), ("sex",)),
    ("Tanggal lahir", ("birth_date",), ("birth_date",)),
    ("Tempat lahir", ("birth_place",), ("birth_place",)),
    ("Alamat", ("address",), ("address", "postcode")),
    ("Kecamatan / kelurahan", ("kecamatan_code", "kelurahan_code"), ("area",)),
    ("No. KK", ("kk_number",), ("kk",)),
    ("Agama", ("religion",), ()),
    ("Status perkawinan", ("marital_status",), ()),
    ("Pekerjaan", ("occupation",), ()),
    ("Meninggal", ("deceased", "death_date"), ()),
)


def may_decide(caller: Caller) -> None:
    """403 for a role that does not decide identity reviews."""
    if not caller.role.decides_reviews:
        raise AccessDenied("only a supervisor opens the identity review page")


@router.get(PATH)
def review_page(request: Request, caller: PageCaller, s: ReadSession) -> Response:
    """The open pairs, oldest first; ?dikirim=same|different confirms a decision just sent."""
    may_decide(caller)
    sent = request.query_params.get("dikirim")
    return _queue(request, page_reader(request, caller), s, sent=DECISIONS.get(sent or ""))


@router.post(PATH)
async def decide(request: Request, caller: PageCaller, s: ReadSession) -> Response:
    """A decision from the page's form (CSRF-checked by PageCaller), sent like the API's."""
    may_decide(caller)
    reader = page_reader(request, caller)
    form = await request.form()
    try:
        body = ReviewDecision(
            record_id=str(form.get("record_id") or ""),
            other_record_id=str(form.get("other_record_id") or ""),
            decision=str(form.get("decision") or ""),  # type: ignore[arg-type]
            note=str(form.get("note") or "").strip() or None,
        )
        await send_decision(body, request, s, reader, Audit(request.app.state.audit, reader))
    except ValidationError:
        return _queue(request, reader, s, error=REFUSALS[422], status=422)
    except HTTPException as e:
        return _queue(request, reader, s, error=REFUSALS.get(e.status_code), status=e.status_code)
    return redirect(f"{PATH}?dikirim={body.decision}")


def _queue(
    request: Request,
    reader: Caller,
    s: Any,
    *,
    sent: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    view = read_queue(s, reader, Audit(request.app.state.audit, reader), QUEUE_LIMIT)
    pairs = [dict(item, rows=evidence_rows(item)) for item in view["reviews"]]
    return render(
        request,
        "reviews.html",
        caller=reader,
        status=status,
        pairs=pairs,
        open=view["open"],
        sent=sent,
        error=error or (REFUSALS[503] if status == 503 else None),
        kinds=KIND_LABELS,
    )


def evidence_rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The pair's fields side by side (as masked for the reader) with each field's comparison
    level and weight; a comparison of a field no row shows gets a row of its own."""
    a, b = ((r or {}).get("data") or {} for r in item["records"])
    comparisons = {c.get("field"): c for c in (item["evidence"] or {}).get("comparisons") or []}
    rows, used = [], set()
    for label, fields, compared in ROWS:
        found = [comparisons[f] for f in compared if f in comparisons]
        used.update(f for f in compared if f in comparisons)
        rows.append(
            {
                "label": label,
                "a": _value(a, fields),
                "b": _value(b, fields),
                "comparisons": found,
                "differ": _value(a, fields) != _value(b, fields),
            }
        )
    for name, c in comparisons.items():
        if name not in used:
            rows.append({"label": name, "a": "-", "b": "-", "comparisons": [c], "differ": False})
    return rows


def _value(data: dict[str, Any], fields: tuple[str, ...]) -> str:
    values = [data.get(f) for f in fields]
    shown = [_text(v) for v in values if v is not None and v != ""]
    return " / ".join(shown) if shown else "-"


def _text(value: Any) -> str:
    if value is True:
        return "ya"
    if value is False:
        return "tidak"
    return str(value)
