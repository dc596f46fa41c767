"""GET /permits/sla-board: open permits per service and per agency unit, on track / at risk /
breached as of today, and the oldest open permits (supervisor; an agency administrator sees
their own agency's; officers and auditors are refused, see projections/sla.py). The list links
each permit to its applicant's person id, so the read is audited, one entry per person shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from .. import sla
from ..access import AccessDenied, Caller
from ..store import local_today
from .dependencies import AuditTrail, CurrentCaller, ReadSession
from .errors import AUTHENTICATED

router = APIRouter(responses=AUTHENTICATED)


def board_today(request: Request) -> dt.date:
    """The day the board is computed for: today at the MPP (`app.state.clock`, when set, is
    the clock: a test's fixed day)."""
    clock = getattr(request.app.state, "clock", None) or local_today
    return clock()


Today = Annotated[dt.date, Depends(board_today)]


def may_open(caller: Caller) -> None:
    """403 for a role that does not get the SLA board."""
    if not sla.can_open(caller):
        raise AccessDenied("the SLA board is for supervisors and agency administrators")


@router.get("/permits/sla-board")
def sla_board(
    s: ReadSession,
    who: CurrentCaller,
    audit: AuditTrail,
    today: Today,
    limit: Annotated[int, Query(ge=1, le=sla.LIST_LIMIT)] = sla.LIST_LIMIT,
) -> dict[str, Any]:
    """Open permits per service and per unit by SLA state, and the oldest open permits."""
    may_open(who)
    view = sla.board(s, who, today, limit)
    audit.shown("permits.sla_board", [(p, None) for p in sla.applicants(view)])
    return view
