"""Mappings from raw change events to canonical events (streams.canonical), declared per agency
in a mapping file (`agencies/<agency>.yaml`, see declaration.py) and installed at import from
the hub's directory; more directories with install_directory. No agency is Python code here:
what a file cannot say is a plug-in it names (plugins.py).
Modules: errors <- values <- change <- person <- checks <- declaration <- build <- files.
"""

from __future__ import annotations

from .change import RawChange
from .errors import MappingError
from .files import (
    AGENCIES,
    AGENCIES_DIR,
    AgencyMapping,
    install_directory,
    load_file,
    raw_topics,
)
from .lines import MappingFileError
from .registry import MAPPINGS, MapFn, map_change, mapping, mapping_for

install_directory(AGENCIES_DIR)

__all__ = [
    "AGENCIES",
    "AGENCIES_DIR",
    "MAPPINGS",
    "AgencyMapping",
    "MapFn",
    "MappingError",
    "MappingFileError",
    "RawChange",
    "install_directory",
    "load_file",
    "map_change",
    "mapping",
    "mapping_for",
    "raw_topics",
]
