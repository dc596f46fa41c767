"""The counter's pages (projections/web): the home page and search at /, the citizen page, and
permit tracking with its status slip; this module keeps their place in create_api."""

from __future__ import annotations

from fastapi import APIRouter

from ..web import counter, tracking

router = APIRouter()
router.include_router(counter.router)
router.include_router(tracking.router)
