"""The counter view (officer, supervisor): the home page at /."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .deps import PageCaller, PageRedirect, stated_purpose
from .render import render

router = APIRouter(include_in_schema=False)
COUNTER_ROLES = frozenset({"officer", "supervisor"})


@router.get("/")
def home(request: Request, caller: PageCaller) -> Response:
    """The home page; the counter's roles state their purpose of access first."""
    if caller.role.name in COUNTER_ROLES and stated_purpose(request) is None:
        raise PageRedirect("/tujuan?next=/")
    stated = stated_purpose(request)
    if stated is not None:
        caller = caller.stating(*stated)
    return render(request, "counter_home.html", caller=caller)
