"""The canonical event schemas the integration tests produce with: the hub's own .avsc files
(schemas/avro/{person_fact,permit_event,service_event,identity_decision}.avsc), through
schemas.catalog."""

from __future__ import annotations

from typing import Any

from schemas import catalog

FILES = {
    "person": "person_fact",
    "permit": "permit_event",
    "service": "service_event",
    "identity": "identity_decision",
}


def schemas() -> dict[str, Any]:
    """kind ('person', 'permit', 'service', 'identity') -> Avro schema (JSON) of its values."""
    return {kind: catalog.get(name).schema for kind, name in FILES.items()}
