"""The pipeline health page (/kesehatan-pipeline) for supervisors, who run the MPP's operations:
per source table the changes captured, the worker's lag and the last change seen with its age
(freshness), the dead letters by reason, the projections' progress, and links to the Prometheus
metrics endpoints. Same read and refusal as GET /pipeline/health (projections/api/pipeline.py).
Named health.py for the page; projections/api/health.py is the API's liveness probe."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup

from ..access import AccessDenied
from ..api.dependencies import ReadSession
from ..api.pipeline import health_json, may_see_pipeline, read_pipeline
from .charts import bar_chart
from .deps import PageCaller
from .errors import error_page
from .render import render

router = APIRouter(include_in_schema=False)
PATH = "/kesehatan-pipeline"
STALE_S = 24 * 3600  # a table with no change for a day is marked for a look


@router.get(PATH)
def health_page(request: Request, caller: PageCaller, s: ReadSession) -> Response:
    """Read Kafka now and show the figures (a few seconds on a large dead-letter topic)."""
    try:
        may_see_pipeline(caller)
    except AccessDenied:
        return error_page(request, 403, "Halaman kesehatan pipeline hanya untuk supervisor.")
    try:
        health = read_pipeline(request, s)
    except HTTPException:
        return error_page(
            request, 503, "Kafka atau registry skema tidak dapat dihubungi. Coba lagi."
        )
    view = health_json(health, dt.datetime.now(dt.UTC))
    by_reason: dict[str, int] = {}
    for d in view["dead_letters"]:
        by_reason[d["reason"]] = by_reason.get(d["reason"], 0) + d["count"]
    chart = None
    if by_reason:
        bars = [(reason[:24], n) for reason, n in sorted(by_reason.items(), key=lambda x: -x[1])]
        chart = Markup(bar_chart("Dead letter menurut alasan", bars[:8]))
    return render(
        request,
        "health.html",
        caller=caller,
        view=view,
        stale_s=STALE_S,
        chart=chart,
        metrics=request.app.state.settings.metrics_urls,
    )
