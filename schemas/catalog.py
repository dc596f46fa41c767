"""The hand-written canonical event schemas (schemas/avro/*.avsc), their topics and subjects.

Subjects follow Confluent's TopicNameStrategy: `<topic>-value` (and `<topic>-key`), the name
confluent-kafka's and Faust's serializers look up by default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

from eventlog.topics import (
    DEADLETTER_TOPIC,
    DQ_FINDINGS_TOPIC,
    IDENTITY_TOPIC,
    PERMIT_TOPIC,
    PERSON_TOPIC,
    SERVICE_TOPIC,
)

AVRO_DIR = Path(__file__).resolve().parent / "avro"
NAMESPACE = "id.mpphub.canonical"


# Schema file (without .avsc) -> the topic whose values it describes.
TOPICS: dict[str, str] = {
    "person_fact": PERSON_TOPIC,
    "permit_event": PERMIT_TOPIC,
    "service_event": SERVICE_TOPIC,
    "dead_letter": DEADLETTER_TOPIC,
    "data_quality_finding": DQ_FINDINGS_TOPIC,
    "identity_decision": IDENTITY_TOPIC,
}


def value_subject(topic: str) -> str:
    """The registry subject of a topic's values (TopicNameStrategy)."""
    return f"{topic}-value"


def key_subject(topic: str) -> str:
    """The registry subject of a topic's keys (TopicNameStrategy)."""
    return f"{topic}-key"


@dataclass(frozen=True)
class CanonicalSchema:
    """One .avsc file: its JSON, the topic it belongs to and its subject."""

    name: str
    path: Path
    schema: dict[str, Any]
    topic: str | None
    parsed: Any = field(repr=False, compare=False, default=None)

    @property
    def subject(self) -> str | None:
        """`<topic>-value`, or None for a file that belongs to no topic."""
        return value_subject(self.topic) if self.topic else None

    @property
    def fullname(self) -> str:
        """The record's full name, e.g. id.mpphub.canonical.PersonFact."""
        ns = self.schema.get("namespace")
        return f"{ns}.{self.schema['name']}" if ns else self.schema["name"]


class CatalogError(ValueError):
    """An .avsc file that is not valid JSON or not a valid Avro schema; names the file."""


def load_file(path: Path) -> CanonicalSchema:
    """Read and parse one .avsc; CatalogError naming the file when it is not a valid schema."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise CatalogError(f"{path.name}: not valid JSON: {e}") from None
    try:
        parsed = fastavro.parse_schema(schema)
    except Exception as e:  # fastavro raises several types for a bad schema
        raise CatalogError(f"{path.name}: not a valid Avro schema: {e}") from None
    return CanonicalSchema(path.stem, path, schema, TOPICS.get(path.stem), parsed)


@cache
def load_catalog(directory: Path = AVRO_DIR) -> dict[str, CanonicalSchema]:
    """Every .avsc in `directory` by file name (without .avsc), parsed once per process."""
    return {p.stem: load_file(p) for p in sorted(directory.glob("*.avsc"))}


def get(name: str) -> CanonicalSchema:
    """One canonical schema by file name, e.g. get('person_fact'); KeyError lists the known ones."""
    catalog = load_catalog()
    try:
        return catalog[name]
    except KeyError:
        raise KeyError(f"no schema {name!r} in {AVRO_DIR}; known: {sorted(catalog)}") from None


def for_topic(topic: str) -> CanonicalSchema:
    """The canonical value schema of a topic; KeyError when the topic has none."""
    for s in load_catalog().values():
        if s.topic == topic:
            return s
    raise KeyError(f"topic {topic} has no canonical schema; known: {sorted(TOPICS.values())}")
