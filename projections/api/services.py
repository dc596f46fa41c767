"""GET /services/turnaround: per-service figures, no personal data (not audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .. import reads
from .dependencies import ReadSession

router = APIRouter()


@router.get("/services/turnaround")
def turnaround(s: ReadSession) -> dict[str, Any]:
    """Per service: counts, median/p90 working days, share within SLA, Ombudsman zone."""
    return {"services": reads.turnaround(s)}
