"""The SLA board page (supervisor; an agency administrator: their own agency): open permits per
service and per unit (OPD) as on track / at risk / breached, a stacked bar of states per service,
and the open permits oldest first. Same read, same refusal and same audit as
GET /permits/sla-board (projections/sla.py says who may open it and why)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from .. import sla
from ..api.dependencies import Audit, ReadSession
from ..api.sla import board_today, may_open
from .charts import Series, stacked_bar_chart
from .counter import COUNTER_ROLES
from .deps import PageCaller, page_reader
from .render import render

router = APIRouter(include_in_schema=False)
PATH = "/papan-sla"
# The board's states in Bahasa Indonesia, in the order of the chart and the tables; the colours
# are the stylesheet's state colours, darker so the bars read on white.
STATE_LABELS = {
    "on_track": "Tepat waktu",
    "at_risk": "Berisiko",
    "breached": "Terlambat",
    "waiting": "Berkas belum lengkap",
    "no_standard": "Tanpa standar",  # shown only when some service states no standard
}
STATE_COLORS = {
    "on_track": "#38a169",
    "at_risk": "#d69e2e",
    "breached": "#e53e3e",
    "waiting": "#718096",
    "no_standard": "#a0aec0",
}


@router.get(PATH)
def sla_page(request: Request, caller: PageCaller, s: ReadSession) -> Response:
    """The board as of today at the MPP (refused before any purpose is asked for)."""
    may_open(caller)
    reader = page_reader(request, caller)
    view = sla.board(s, reader, board_today(request))
    Audit(request.app.state.audit, reader).shown(
        "permits.sla_board", [(p, None) for p in sla.applicants(view)]
    )
    labels = {
        state: label
        for state, label in STATE_LABELS.items()
        if state != sla.NO_STANDARD or view["totals"][state]
    }
    return render(
        request,
        "sla.html",
        caller=reader,
        board=view,
        labels=labels,
        citizen_links=reader.role.name in COUNTER_ROLES,  # who may open /warga/{person_id}
        chart=Markup(state_chart(view["services"], labels)) if view["services"] else None,
    )


def state_chart(services: list[dict], labels: dict[str, str]) -> str:
    """A stacked bar per service of its open permits by state (charts.py escapes the labels)."""
    return stacked_bar_chart(
        "Permohonan terbuka per layanan menurut status SLA",
        [s["service_code"] for s in services],
        [
            Series(label, [s[state] for s in services], STATE_COLORS[state])
            for state, label in labels.items()
        ],
    )
