"""The registry of mappings: (agency, table lower-cased) -> function of a raw change envelope.

The tables come from the agencies' mapping files (files.py installs them); a plug-in may also
register a function of a RawChange with @mapping. The registry turns each into a function of
the decoded envelope and key, so the normalize step needs nothing but map_change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..canonical import Canonical
from .change import RawChange
from .errors import MappingError

Mapper = Callable[[RawChange], list[Canonical]]
MapFn = Callable[[Mapping[str, Any], Mapping[str, Any] | None], list[Canonical]]

# (agency, table lower-cased) -> mapping function (envelope, key) -> canonical events
MAPPINGS: dict[tuple[str, str], MapFn] = {}


def register(agency: str, table: str, fn: Mapper) -> MapFn:
    """Register a function of a RawChange as the mapping of (agency, table)."""

    def map_envelope(envelope: Mapping[str, Any], key: Mapping[str, Any] | None) -> list[Canonical]:
        return fn(RawChange.from_envelope(envelope, key))

    map_envelope.__name__ = getattr(fn, "__name__", table)
    map_envelope.__doc__ = fn.__doc__
    MAPPINGS[(agency, table.lower())] = map_envelope
    return map_envelope


def mapping(agency: str, table: str) -> Callable[[Mapper], Mapper]:
    """Decorator: register a function of a RawChange as the mapping of (agency, table)."""

    def decorate(fn: Mapper) -> Mapper:
        register(agency, table, fn)
        return fn

    return decorate


def unregister_agency(agency: str) -> None:
    """Forget every table of an agency (before its mapping file is installed again)."""
    for key in [k for k in MAPPINGS if k[0] == agency]:
        del MAPPINGS[key]


def mapping_for(agency: str, table: str) -> MapFn | None:
    """The mapping of a table (table names compare case-insensitively), or None."""
    return MAPPINGS.get((agency, table.lower()))


def map_change(envelope: Mapping[str, Any], key: Mapping[str, Any] | None) -> list[Canonical]:
    """The canonical events of one raw change; MappingError when it cannot be mapped."""
    source = envelope.get("source") if isinstance(envelope, Mapping) else None
    if not isinstance(source, Mapping):
        raise MappingError("change event has no source block")
    agency, table = str(source.get("agency") or ""), str(source.get("table") or "")
    fn = mapping_for(agency, table)
    if fn is None:
        raise MappingError(f"no mapping for table {table} of agency {agency}")
    return fn(envelope, key)
