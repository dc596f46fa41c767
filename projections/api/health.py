"""GET /health: liveness and whether the projection database answers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy import text

from .dependencies import ReadSession

router = APIRouter()


@router.get("/health")
def health(request: Request, s: ReadSession) -> dict[str, Any]:
    """Liveness and database reachability."""
    try:
        s.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - reported, not raised
        raise HTTPException(503, f"projection database unreachable: {type(e).__name__}") from e
    return {"status": "ok", "database": request.app.state.store.engine.url.get_backend_name()}
