"""The canonical schemas: they load, follow the conventions, and encode real-looking events."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import catalog
from schemas.check import check_file, check_schemas, lint
from schemas.codec import decode_with, encode
from tests.schemas.samples import sample


def test_every_schema_file_has_a_topic_and_a_value_subject() -> None:
    loaded = catalog.load_catalog()
    assert sorted(loaded) == sorted(catalog.TOPICS)
    assert {s.subject for s in loaded.values()} >= {
        "mpp.canonical.person-value",
        "mpp.canonical.permit-value",
        "mpp.hub.deadletter-value",
        "mpp.hub.dq-findings-value",
    }
    assert catalog.for_topic("mpp.canonical.person").fullname == "id.mpphub.canonical.PersonFact"
    assert catalog.get("dead_letter").subject == "mpp.hub.deadletter-value"


@pytest.mark.parametrize("name", sorted(catalog.TOPICS))
def test_every_canonical_schema_round_trips_a_full_record(name: str) -> None:
    entry = catalog.get(name)
    record = sample(entry.schema)
    assert decode_with(entry.parsed, encode(1, entry.parsed, record)) == record


def test_nullable_fields_may_be_left_out() -> None:
    # What a producer writing an older shape relies on: every nullable field defaults to null.
    entry = catalog.get("data_quality_finding")
    required = {
        f["name"]: sample(f["type"])
        for f in entry.schema["fields"]
        if not (isinstance(f["type"], list) and "null" in f["type"])
    }
    decoded = decode_with(entry.parsed, encode(1, entry.parsed, required))
    assert decoded["field"] is None and decoded["severity"] is None


def test_the_repository_schemas_pass_the_offline_check() -> None:
    results = check_schemas(None)
    assert [r.status for r in results] == ["ok"] * len(catalog.TOPICS), results


def test_lint_flags_undocumented_and_nullable_without_default_null() -> None:
    schema = {
        "type": "record",
        "name": "X",
        "namespace": catalog.NAMESPACE,
        "doc": "x",
        "fields": [
            {"name": "a", "type": "string"},
            {"name": "b", "type": ["null", "string"], "doc": "b"},
            {"name": "c", "type": ["string", "null"], "default": "", "doc": "c"},
        ],
    }
    assert lint(schema) == [
        "field 'a' has no doc",
        "field 'b' is nullable but has no default null",
        "field 'c' is nullable but 'null' is not the first branch",
        "field 'c' is nullable but has no default null",
    ]


def test_a_file_that_is_no_schema_is_invalid_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "person_fact.avsc"
    bad.write_text('{"type": "record", "name": "P", "fields": [{"name": "a", "type": "nope"}]}')
    result = check_file(bad)
    assert result.status == "invalid"
    assert "person_fact.avsc: not a valid Avro schema" in result.messages[0]


def test_a_file_without_topic_is_invalid(tmp_path: Path) -> None:
    extra = tmp_path / "stray.avsc"
    extra.write_text(catalog.get("dead_letter").path.read_text())
    assert check_file(extra).messages == ["no topic for stray.avsc in schemas.catalog.TOPICS"]
