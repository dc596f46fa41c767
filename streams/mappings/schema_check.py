"""A mapping file checked against the Avro schemas its source registered (the row record of each
table's change events): every column it names exists, and each is read by a converter that can
take the column's type; a code table keyed by words on a number column is the wrong table.
Every problem is a MappingFileError naming the file, the line and the key."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from schemas.names import avro_name
from schemas.registry import RegistryClient, SchemaNotFoundError

from .declaration import EVENT_FIELDS, codes_of, field_of
from .files import AgencyMapping
from .lines import MappingFileError

# converter -> the Avro kinds of a column it reads
READS: dict[str, frozenset[str]] = {
    "text": frozenset({"string", "int", "long", "double", "float", "boolean", "decimal", "date",
                       "timestamp", "bytes"}),
    "integer": frozenset({"int", "long", "string", "decimal", "double", "float", "boolean"}),
    "date": frozenset({"date", "timestamp", "string"}),
    "timestamp": frozenset({"date", "timestamp", "string"}),
    "boolean": frozenset({"boolean", "int", "long", "string"}),
    "sex": frozenset({"int", "long", "string", "decimal"}),
    "code": frozenset({"int", "long", "string", "decimal"}),
    "ref": frozenset({"int", "long", "string", "decimal"}),
    "region": frozenset({"int", "long", "string", "decimal"}),
    "village": frozenset({"int", "long", "string", "decimal"}),
}  # fmt: skip
_NUMBERS = frozenset({"int", "long", "decimal"})


def row_columns(envelope_schema: Any) -> dict[str, str]:
    """avro field name (lower-cased) -> kind, of the row record in a change event schema."""
    fields = envelope_schema.get("fields", []) if isinstance(envelope_schema, dict) else []
    for f in fields:
        if f.get("name") in ("before", "after"):
            record = next((t for t in _branches(f["type"]) if isinstance(t, dict)), None)
            if record and record.get("type") == "record":
                return {c["name"].lower(): _kind(c["type"]) for c in record["fields"]}
    raise ValueError("not a change event schema (no before/after row record)")


def _branches(t: Any) -> list[Any]:
    return [b for b in t if b != "null"] if isinstance(t, list) else [t]


def _kind(t: Any) -> str:
    (t,) = _branches(t)[:1] or ["null"]
    if isinstance(t, dict):
        logical = t.get("logicalType", "")
        if logical == "date":
            return "date"
        if logical.startswith("timestamp") or logical.startswith("local-timestamp"):
            return "timestamp"
        if logical == "decimal":
            return "decimal"
        return str(t.get("type"))
    return str(t)


def uses(mapping: AgencyMapping, table: str) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """(key path, column, converter) of every column a table's declaration reads."""
    decl = mapping.decl
    t = decl.tables[table]
    at = ("tables", table)
    for i, col in enumerate(t.key):
        yield (*at, "key", i), col, "text"
    for name, f in t.fields.items():
        whole = field_of(f, EVENT_FIELDS[t.emits].get(name, "text"))
        where = (*at, "fields", name)
        if whole.type in ("region", "village"):
            for part in ("district", "regency", "province", "village"):
                if getattr(whole, part):
                    yield (*where, part), getattr(whole, part), whole.type
        elif whole.column:
            yield where, whole.column, whole.type or "text"
    for i, c in enumerate(t.checks):
        yield (*at, "checks", i, "column"), c.column, "text"


def check_table(mapping: AgencyMapping, table: str, envelope_schema: Any) -> list[MappingFileError]:
    """The problems of one table's declaration against its registered change event schema."""
    columns = row_columns(envelope_schema)
    out: list[MappingFileError] = []
    t = mapping.decl.tables[table]
    for path, col, reads in uses(mapping, table):
        kind = columns.get(avro_name(col).lower())
        if kind is None:
            known = ", ".join(sorted(columns))
            out.append(mapping.doc.error(path, f"no column {col} in {table} (columns: {known})"))
        elif kind not in READS.get(reads, READS["text"]):
            out.append(mapping.doc.error(path, f"column {col} is {kind}: it cannot be a {reads}"))
        elif reads == "code":
            name = path[-1]
            codes = codes_of(mapping.decl, field_of(t.fields[name], "code")) or {}
            words = [k for k in codes if not str(k).isdigit()]
            if kind in _NUMBERS and words:
                out.append(mapping.doc.error(
                    (*path, "codes"), f"column {col} holds numbers, the code table words"
                ))  # fmt: skip
    return out


def subject_of(agency: str, table: str, topic_prefix: str = "mpp") -> str:
    """The registry subject of a table's change events (TopicNameStrategy)."""
    return f"{topic_prefix}.{agency}.{table.lower()}-value"


def check_registered(
    registry: RegistryClient, mapping: AgencyMapping, topic_prefix: str = "mpp"
) -> tuple[list[MappingFileError], list[str]]:
    """The problems of a mapping file against what its source registered, and the tables not
    registered yet (not captured yet: nothing to check them against)."""
    problems: list[MappingFileError] = []
    missing: list[str] = []
    for table, t in mapping.decl.tables.items():
        if t.plugin or t.emits == "nothing":
            continue
        try:
            registered = registry.get_latest(subject_of(mapping.agency, table, topic_prefix))
        except SchemaNotFoundError:
            missing.append(table)
            continue
        problems.extend(check_table(mapping, table, registered.schema))
    return problems, missing


def check_all_registered(
    registry: RegistryClient, mappings: Mapping[str, AgencyMapping], topic_prefix: str = "mpp"
) -> list[MappingFileError]:
    """Every installed mapping file against the registry (at the worker's start)."""
    out: list[MappingFileError] = []
    for mapping in mappings.values():
        out.extend(check_registered(registry, mapping, topic_prefix)[0])
    return out
