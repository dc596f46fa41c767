"""Per-agency mappings from raw change events to canonical events.

`MAPPINGS` maps (agency, table lower-cased) to a function (envelope, key) -> list of canonical
events (streams.canonical); one module per agency registers its tables with @mapping. A new
agency is a new module imported here.
"""

from __future__ import annotations

from . import disdukcapil, dpmptsp  # noqa: F401 - importing registers their tables
from .base import MAPPINGS, MapFn, MappingError, RawChange, map_change, mapping, mapping_for

__all__ = ["MAPPINGS", "MapFn", "MappingError", "RawChange", "map_change", "mapping", "mapping_for"]
