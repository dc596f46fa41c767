"""Per-agency mappings from raw change events to canonical events (streams.canonical).

One module per agency registers its tables with @mapping; a new agency is a new module imported
here. Modules: errors <- values <- change <- registry <- person <- the agencies.
"""

from __future__ import annotations

from . import disdukcapil, dpmptsp  # noqa: F401 - importing registers their tables
from .change import RawChange
from .errors import MappingError
from .registry import MAPPINGS, MapFn, map_change, mapping, mapping_for

__all__ = ["MAPPINGS", "MapFn", "MappingError", "RawChange", "map_change", "mapping", "mapping_for"]
