"""GET /pipeline/health: per source table the changes captured, the worker's lag and the last
change seen; dead letters by reason; how far the projections are (projections/pipeline.py).
For supervisors (the MPP's operations are run by its supervisors; there is no separate
operations role): other roles get 403. No personal data: agencies, tables, counts, reasons."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Request

from schemas.registry import RegistryError

from ..access import AccessDenied, Caller
from ..pipeline import PipelineHealth, pipeline_health
from .dependencies import Authenticated, ReadSession
from .errors import ERRORS

router = APIRouter(responses=ERRORS.pick(400, 401, 403, 413, 422, 429, 503))
UNREACHABLE = "Kafka or the schema registry is not reachable: no pipeline figures now"


def may_see_pipeline(caller: Caller) -> None:
    """403 for any role but supervisor."""
    if caller.role.name != "supervisor":
        raise AccessDenied("pipeline health is for supervisors")


# One read of the cluster (every source topic's ends, the group's offsets, the dead-letter
# topic) serves every supervisor's page and API call for this long: a page left open and
# refreshed by several supervisors does not read the whole cluster each time.
CACHE_S = 10.0


class HealthCache:
    """The last successful health read and when it was made; one read at a time (concurrent
    callers wait for it and share it). A failed read is not kept: the next call tries again."""

    def __init__(self, ttl_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.clock = ttl_s, clock
        self._lock = threading.Lock()
        self._kept: tuple[float, PipelineHealth] | None = None

    def get(self, read: Callable[[], PipelineHealth]) -> PipelineHealth:
        """The kept read while younger than ttl_s, else `read()` (kept if it returns)."""
        with self._lock:
            if self._kept is not None and self.clock() - self._kept[0] < self.ttl_s:
                return self._kept[1]
            health = read()
            self._kept = (self.clock(), health)
            return health


def read_pipeline(request: Request, session: Any) -> PipelineHealth:
    """The health read with the API's Kafka and registry settings (at most CACHE_S old); 503
    when Kafka or the registry cannot be reached (the page says so instead of a stack trace)."""
    s = request.app.state.settings
    cache = getattr(request.app.state, "pipeline_cache", None)
    if cache is None:
        cache = request.app.state.pipeline_cache = HealthCache()
    try:
        return cache.get(
            lambda: pipeline_health(
                s.kafka, s.registry_url, s.registry_auth, session, s.worker_app_id
            )
        )
    except (KafkaError, RegistryError, OSError) as e:
        raise HTTPException(503, f"{UNREACHABLE} ({type(e).__name__})") from None


def health_json(health: PipelineHealth, now: dt.datetime) -> dict[str, Any]:
    """The JSON form: tables with the age of their last change in seconds (freshness)."""
    tables = []
    for t in health.tables:
        row = asdict(t)
        row["age_s"] = (
            None if t.last_change is None else round((now - t.last_change).total_seconds())
        )
        row["last_change"] = t.last_change.isoformat() if t.last_change else None
        tables.append(row)
    return {
        "tables": tables,
        "dead_letters": [
            asdict(d) | {"last": d.last.isoformat() if d.last else None} for d in health.letters
        ],
        "unreadable_dead_letters": health.unreadable_letters,
        "projection": [
            {
                "topic": t,
                "end": end,
                "applied": applied,
                "lag": None if end is None else max(end - applied, 0),
            }
            for t, (end, applied) in sorted(health.projection.items())
        ],
    }


@router.get("/pipeline/health")
def pipeline(request: Request, s: ReadSession, who: Authenticated) -> dict[str, Any]:
    """Lag and last change per source table, dead letters by reason, projection progress."""
    may_see_pipeline(who)
    return health_json(read_pipeline(request, s), dt.datetime.now(dt.UTC)) | {
        "metrics": list(request.app.state.settings.metrics_urls)
    }
