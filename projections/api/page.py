"""GET /: the front office's home page, now a server-rendered page of projections/web (the
counter view: search, citizen, permit tracking); this module keeps its place in create_api."""

from __future__ import annotations

from ..web.counter import router

__all__ = ["router"]
