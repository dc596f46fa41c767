"""The normalize step without Kafka: wire bytes in, canonical messages and dead letters out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eventlog.topics import Topics
from schemas import catalog
from schemas.codec import Deserializer, encode, header, parse
from schemas.registry import RegistryUnavailableError
from streams import normalize as normalize_module
from streams.mappings.registry import MAPPINGS
from streams.normalize import Normalizer, RawMessage
from tests.streams.helpers import FakeRegistry, key_of, namespace, shape
from tests.streams.rows import TOKENS, WOMAN, biodata, permohonan

RAW_TOPIC = "mpp.disdukcapil.biodata_wni"
NOW = 1_755_500_000.0


class Source:
    """Encodes raw change events of sample tables as a connector does (registered schemas)."""

    def __init__(self, registry: FakeRegistry):
        self.registry = registry

    def message(
        self, table: str, op: str, row: dict | None, *, offset: int = 0, **kw: Any
    ) -> RawMessage:
        s = shape(table)
        key_id = self.registry.register(f"{table}-key", s.key_schema(namespace(table)))
        value_schema = s.envelope_schema(namespace(table))
        value_id = self.registry.register(f"{table}-value", value_schema)
        from tests.streams.helpers import envelope

        env = envelope(table, op, row, **kw)
        key_row = row if row is not None else kw.get("before", {})
        key = encode(key_id, parse(s.key_schema(namespace(table))), key_of(table, key_row))
        value = encode(value_id, parse(value_schema), env)
        return RawMessage(f"mpp.x.{table.lower()}", 0, offset, key, value)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def normalizer(registry: FakeRegistry) -> Normalizer:
    n = Normalizer(registry, TOKENS, topics=Topics(), clock=lambda: NOW)  # type: ignore[arg-type]
    n.ensure_subjects()
    return n


def decode(registry: FakeRegistry, data: bytes | None) -> Any:
    return Deserializer(registry)(data)  # type: ignore[arg-type]


def test_output_subjects_are_registered_backward_transitive_with_string_keys(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    for name in ("person_fact", "permit_event", "service_event", "data_quality_finding"):
        topic = catalog.get(name).topic
        assert registry.compatibility[f"{topic}-value"] == "BACKWARD_TRANSITIVE"
        assert registry.compatibility[f"{topic}-key"] == "BACKWARD_TRANSITIVE"
        (key_id,) = registry.subjects[f"{topic}-key"]
        assert registry.by_id[key_id] == "string"
    assert registry.compatibility["mpp.hub.deadletter-value"] == "BACKWARD_TRANSITIVE"


def test_a_change_becomes_a_canonical_message_with_string_key(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    m = Source(registry).message("BIODATA_WNI", "c", biodata(), position="p1")
    result = normalizer.process([m])
    (out,) = result.out
    assert out.topic == "mpp.canonical.person"
    record_key = TOKENS.record("disdukcapil", "BIODATA_WNI", WOMAN)
    assert decode(registry, out.key) == record_key  # a token of the source record, not the NIK
    fact = decode(registry, out.value)
    assert fact["record_key"] == record_key and fact["op"] == "UPSERT"
    assert fact["nik"] == WOMAN and fact["nik_status"] == "VALID"
    assert "person_key" not in fact
    assert fact["source_position"] == "p1"
    assert result.events == {"mpp.x.biodata_wni": 1}
    assert result.dead_letters == 0 and not result.findings


def test_findings_are_counted_per_agency_and_rule(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    m = Source(registry).message("BIODATA_WNI", "c", biodata(NIK="7413"))
    result = normalizer.process([m])
    assert [o.topic for o in result.out] == ["mpp.canonical.person", "mpp.hub.dq-findings"]
    assert decode(registry, result.out[1].key) == "disdukcapil/BIODATA_WNI/****"
    assert result.findings == {("disdukcapil", "NIK_MALFORMED"): 1}


def test_a_tombstone_is_counted_and_maps_to_nothing(normalizer: Normalizer) -> None:
    result = normalizer.process([RawMessage(RAW_TOPIC, 2, 9, b"\x00\x00\x00\x00\x01k", None)])
    assert result.out == [] and result.events == {RAW_TOPIC: 1} and result.dead_letters == 0


def dead_letter(registry: FakeRegistry, normalizer: Normalizer, m: RawMessage) -> dict:
    result = normalizer.process([m])
    assert result.dead_letters == 1
    (out,) = result.out
    assert out.topic == "mpp.hub.deadletter"
    return decode(registry, out.value)


def test_garbage_bytes_are_a_dead_letter_with_where_they_were(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    m = RawMessage(RAW_TOPIC, 2, 41, b"k", b"not avro at all")
    letter = dead_letter(registry, normalizer, m)
    assert letter == {
        "reason": "magic byte is 0x6e, not 0x00: not Confluent-framed Avro"
        " (plain JSON or string bytes?)",
        "error_type": "WireFormatError",
        "stage": "normalize",
        "original_topic": RAW_TOPIC,
        "partition": 2,
        "offset": 41,
        "key": b"k",
        "value": b"not avro at all",
        "agency": "disdukcapil",
        "source_table": "biodata_wni",
        "source_position": None,
        "ts": dt.datetime.fromtimestamp(NOW, dt.UTC),
    }


def test_an_unknown_schema_id_is_a_dead_letter_and_asked_for_only_once(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    m = RawMessage(RAW_TOPIC, 0, 5, None, header(4242) + b"\x02")
    assert normalizer.unloaded_schema_ids([m]) == {4242}
    assert normalizer.load_schema(4242) is False
    assert normalizer.unloaded_schema_ids([m]) == set()  # known to be unknown for a while
    result = normalizer.process([m])
    assert registry.get_calls == [4242]  # the dead letter did not ask the registry again
    letter = decode(registry, result.out[0].value)
    assert letter["error_type"] == "UnknownSchemaError"
    assert "schema id 4242 is not in the schema registry" in letter["reason"]
    assert (letter["partition"], letter["offset"], letter["key"]) == (0, 5, None)


def test_a_dead_letter_without_key_is_keyed_by_where_it_was(normalizer: Normalizer) -> None:
    m = RawMessage(RAW_TOPIC, 1, 7, None, b"junk")
    (out,) = normalizer.process([m]).out
    assert out.key == f"{RAW_TOPIC}/1/7".encode()


def test_a_garbage_key_is_a_dead_letter(registry: FakeRegistry, normalizer: Normalizer) -> None:
    good = Source(registry).message("BIODATA_WNI", "c", biodata())
    m = RawMessage(good.topic, 0, 1, b"\x01garbage-key", good.value)
    letter = dead_letter(registry, normalizer, m)
    assert letter["reason"].startswith("key: magic byte is 0x01")
    assert letter["source_table"] == "BIODATA_WNI"  # from the envelope, which decoded
    m = RawMessage(good.topic, 0, 2, header(999) + b"\x02", good.value)
    letter = dead_letter(registry, normalizer, m)
    assert letter["reason"].endswith("named by the key")


def test_an_unmappable_change_is_a_dead_letter_with_its_source(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    m = Source(registry).message(
        "tmpermohonan", "u", permohonan(c_izin_selesai=7), position="bin:9", offset=3
    )
    letter = dead_letter(registry, normalizer, m)
    assert letter["error_type"] == "MappingError"
    assert letter["reason"] == "column c_izin_selesai: unknown code 7 (known: 0, 1, 2, 3)"
    assert (letter["agency"], letter["source_table"]) == ("dpmptsp", "tmpermohonan")
    assert letter["source_position"] == "bin:9"
    assert letter["value"] == m.value


def test_a_bug_in_a_mapping_is_a_dead_letter_not_a_crash(
    registry: FakeRegistry, normalizer: Normalizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(envelope: Any, key: Any) -> list:
        raise KeyError("WA ODE SITTI")  # the message of an unexpected error may hold a value

    monkeypatch.setitem(MAPPINGS, ("disdukcapil", "biodata_wni"), broken)
    letter = dead_letter(
        registry, normalizer, Source(registry).message("BIODATA_WNI", "c", biodata())
    )
    assert letter["error_type"] == "KeyError"
    assert letter["reason"] == "unexpected KeyError in the mapping"


def test_the_batch_goes_on_after_a_poison_message(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    source = Source(registry)
    batch = [
        source.message("BIODATA_WNI", "c", biodata(), offset=0),
        RawMessage(RAW_TOPIC, 0, 1, None, b"\xff\xff"),
        source.message("tmpermohonan", "c", permohonan(), offset=2),
    ]
    result = normalizer.process(batch)
    assert [o.topic for o in result.out] == [
        "mpp.canonical.person",
        "mpp.hub.deadletter",
        "mpp.canonical.permit",
    ]
    assert result.dead_letters == 1


def test_an_unreachable_registry_is_raised_not_dead_lettered(
    registry: FakeRegistry, normalizer: Normalizer
) -> None:
    m = Source(registry).message("BIODATA_WNI", "c", biodata())
    fresh = Normalizer(registry, TOKENS, topics=Topics(), clock=lambda: NOW)  # type: ignore[arg-type]
    fresh.ensure_subjects()
    registry.unavailable = True
    with pytest.raises(RegistryUnavailableError):
        fresh.load_schema(next(iter(fresh.unloaded_schema_ids([m]))))
    with pytest.raises(RegistryUnavailableError):
        fresh.process([m])
    registry.unavailable = False
    assert fresh.process([m]).dead_letters == 0


def test_an_unknown_id_is_asked_for_again_after_a_while(registry: FakeRegistry) -> None:
    now = [NOW]
    n = Normalizer(registry, TOKENS, topics=Topics(), clock=lambda: now[0])  # type: ignore[arg-type]
    m = RawMessage(RAW_TOPIC, 0, 5, None, header(77) + b"\x02")
    n.load_schema(77)
    assert n.unloaded_schema_ids([m]) == set()
    now[0] += normalize_module.UNKNOWN_ID_TTL_S + 1
    assert n.unloaded_schema_ids([m]) == {77}
