"""The registry client against the real registry of the local stack (Apicurio's ccompat API)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from schemas.catalog import AVRO_DIR
from schemas.check import check_file, check_schemas
from schemas.codec import Deserializer, UnknownSchemaError, parse
from schemas.registry import (
    IncompatibleSchemaError,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    canonical,
    error_text,
)

integration = pytest.mark.integration  # the tests that use the real stack


def _record(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"type": "record", "name": "Pemohon", "namespace": "mpp.test", "fields": list(fields)}


V1 = _record({"name": "id", "type": "long"}, {"name": "nama", "type": "string"})


class Counting:
    """Counts the HTTP requests a client makes (an httpx event hook on a real connection)."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(f"{request.method} {request.url.path}")


@pytest.fixture
def counting() -> Counting:
    return Counting()


@pytest.fixture
def registry(stack, counting: Counting) -> Iterator[RegistryClient]:
    http = httpx.Client(
        base_url=stack.registry_url, timeout=10, event_hooks={"request": [counting]}
    )
    with RegistryClient(stack.registry_url, client=http) as client:
        yield client


@pytest.fixture
def subject(registry: RegistryClient) -> Iterator[str]:
    name = f"mpp.test.pemohon-{uuid.uuid4().hex[:8]}-value"
    yield name
    registry.delete_subject(name)


@integration
def test_register_then_lookup_by_id_and_subject(registry: RegistryClient, subject: str) -> None:
    schema_id = registry.register(subject, V1)
    assert registry.register(subject, V1) == schema_id
    assert registry.lookup(subject, V1) == schema_id
    fresh = RegistryClient(registry.url)  # no cache: really from the registry
    assert fresh.get_schema(schema_id) == V1
    latest = fresh.get_latest(subject)
    assert (latest.subject, latest.version, latest.schema_id) == (subject, 1, schema_id)
    assert subject in fresh.subjects()


@integration
def test_repeated_calls_make_no_http_request(
    registry: RegistryClient, subject: str, counting: Counting
) -> None:
    schema_id = registry.ensure_subject(subject, V1)
    before = len(counting.requests)
    for _ in range(100):
        assert registry.ensure_subject(subject, V1) == schema_id
        assert registry.register(subject, V1) == schema_id
        assert registry.get_schema(schema_id) == V1
    assert counting.requests[before:] == []


@integration
def test_the_same_schema_in_other_whitespace_gets_the_same_id(
    registry: RegistryClient, subject: str
) -> None:
    schema_id = registry.register(subject, V1)
    fresh = RegistryClient(registry.url)
    assert fresh.register(subject, json.dumps(V1, indent=4)) == schema_id
    assert fresh.versions(subject) == [1]


@integration
def test_ensure_subject_sets_backward_transitive(registry: RegistryClient, subject: str) -> None:
    registry.ensure_subject(subject, V1)
    assert RegistryClient(registry.url).get_compatibility(subject) == "BACKWARD_TRANSITIVE"


@integration
def test_a_field_added_without_default_is_refused_naming_subject_and_field(
    registry: RegistryClient, subject: str
) -> None:
    registry.ensure_subject(subject, V1)
    v2 = _record(*V1["fields"], {"name": "no_kk", "type": "string"})
    with pytest.raises(IncompatibleSchemaError) as e:
        registry.ensure_subject(subject, v2)
    assert subject in str(e.value)
    assert "field 'no_kk' added without a default" in str(e.value)
    assert e.value.status == 409 and e.value.registry_reason  # the registry's own words kept
    assert registry.versions(subject) == [1]


@integration
def test_a_changed_type_is_refused_with_both_types(registry: RegistryClient, subject: str) -> None:
    registry.ensure_subject(subject, V1)
    v2 = _record({"name": "id", "type": "string"}, {"name": "nama", "type": "string"})
    with pytest.raises(
        IncompatibleSchemaError, match="field 'id': type changed from long to string"
    ):
        registry.ensure_subject(subject, v2)


@integration
def test_compatibility_is_transitive(registry: RegistryClient, subject: str) -> None:
    # v3 reads v2's data (no 'id' there: the default applies) but not v1's (long -> string):
    # only a BACKWARD_TRANSITIVE registry refuses it.
    registry.ensure_subject(subject, V1)
    registry.ensure_subject(subject, _record({"name": "nama", "type": "string"}))
    v3 = _record(
        {"name": "id", "type": "string", "default": ""}, {"name": "nama", "type": "string"}
    )
    with pytest.raises(IncompatibleSchemaError, match="type changed from long to string"):
        registry.ensure_subject(subject, v3)


@integration
def test_a_nullable_field_with_default_evolves_compatibly(
    registry: RegistryClient, subject: str
) -> None:
    first = registry.ensure_subject(subject, V1)
    v2 = _record(*V1["fields"], {"name": "no_kk", "type": ["null", "string"], "default": None})
    assert registry.check_compatibility(subject, v2).compatible
    assert registry.ensure_subject(subject, v2) != first
    assert registry.versions(subject) == [1, 2]


@integration
def test_check_compatibility_gives_reasons(registry: RegistryClient, subject: str) -> None:
    registry.ensure_subject(subject, V1)
    answer = registry.check_compatibility(subject, _record({"name": "id", "type": "int"}))
    assert not answer.compatible
    assert answer.reasons == ["field 'id': type changed from long to int"]


@integration
def test_a_new_subject_is_compatible(registry: RegistryClient, subject: str) -> None:
    assert registry.check_compatibility(subject, V1).compatible
    assert registry.lookup(subject, V1) is None
    assert registry.versions(subject) == []


@integration
def test_an_unknown_schema_id_is_named(registry: RegistryClient) -> None:
    with pytest.raises(SchemaNotFoundError, match="/schemas/ids/987654"):
        registry.get_schema(987654)
    with pytest.raises(UnknownSchemaError, match="schema id 987654"):
        Deserializer(registry)(b"\x00" + (987654).to_bytes(4, "big") + b"\x00")


@integration
def test_a_wrong_base_url_is_not_mistaken_for_a_missing_subject(stack) -> None:
    base = stack.registry_url.removesuffix("/apis/ccompat/v7")
    with pytest.raises(RegistryError, match="Confluent-compatible API base") as e:
        RegistryClient(base).versions("anything-value")
    assert not isinstance(e.value, SchemaNotFoundError)


@integration
def test_the_canonical_schemas_check_against_the_registry(stack, subject: str) -> None:
    registry = RegistryClient(stack.registry_url)
    assert all(r.ok for r in check_schemas(registry)), check_schemas(registry)
    entry_path = AVRO_DIR / "permit_event.avsc"
    assert check_file(entry_path, registry, subject=subject).status == "new"
    registry.ensure_subject(subject, _record({"name": "id", "type": "long"}))
    result = check_file(entry_path, registry, subject=subject)
    assert result.status == "incompatible"
    assert "type renamed from Pemohon to PermitEvent" in result.messages[0]


@integration
def test_an_unreachable_registry_is_one_clear_error() -> None:
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/apis/ccompat/v7"
    with pytest.raises(RegistryUnavailableError, match=f"unreachable at {url}") as e:
        RegistryClient(url, retries=2, backoff=0.01).register("x-value", V1)
    assert "\n" not in str(e.value)


def test_error_text_keeps_the_registrys_words_and_code() -> None:
    confluent = (
        '{"error_code":409,"message":"Schema being registered is incompatible with an earlier'
        ' schema for subject \\"x-value\\""}'
    )
    assert error_text(confluent) == (
        'Schema being registered is incompatible with an earlier schema for subject "x-value"'
        " [error_code 409]"
    )
    apicurio = (
        '{"message":"io.apicurio.registry.rules.RuleViolationException: Incompatible artifact:'
        ' x-value [AVRO]","error_code":409}'
    )
    assert error_text(apicurio) == "Incompatible artifact: x-value [AVRO] [error_code 409]"
    assert error_text("<html>\n<body>Bad Gateway</body></html>") == (
        "<html> <body>Bad Gateway</body></html>"
    )


def test_canonical_text_ignores_whitespace_and_fastavro_private_keys() -> None:
    text = canonical(V1)
    assert canonical(json.dumps(V1, indent=2)) == text
    assert "__fastavro" not in canonical(parse(V1))
