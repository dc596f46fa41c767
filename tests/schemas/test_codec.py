"""The Confluent wire-format codec (pure: an in-memory registry stands in for the HTTP one)."""

from __future__ import annotations

import datetime as dt
import decimal
import struct
import uuid
from typing import Any

import pytest

from schemas.codec import (
    Deserializer,
    EncodeError,
    Serializer,
    UnknownSchemaError,
    WireFormatError,
    decode,
    decode_header,
    decode_with,
    encode,
    parse,
)

DECIMAL = {"type": "bytes", "logicalType": "decimal", "precision": 14, "scale": 2}
MILLIS = {"type": "long", "logicalType": "timestamp-millis"}
SCHEMA_V1 = {
    "type": "record",
    "name": "Payment",
    "namespace": "id.mpphub.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": DECIMAL},
        {"name": "due", "type": {"type": "int", "logicalType": "date"}},
        {"name": "paid_at", "type": ["null", MILLIS], "default": None},
        {"name": "booked_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}

# v2 adds a nullable field with a default: what BACKWARD_TRANSITIVE evolution looks like.
SCHEMA_V2 = {
    **SCHEMA_V1,
    "fields": [
        *SCHEMA_V1["fields"],
        {"name": "channel", "type": ["null", "string"], "default": None},
    ],
}


class MemoryRegistry:
    """A registry in a dict that counts its calls: to show the hot path makes none."""

    def __init__(self) -> None:
        self.by_id: dict[int, Any] = {}
        self.ids: dict[tuple[str, str], int] = {}
        self.calls: dict[str, int] = {"register": 0, "get_schema": 0, "lookup": 0}

    def register(self, subject: str, schema: Any) -> int:
        self.calls["register"] += 1
        key = (subject, repr(schema))
        if key not in self.ids:
            self.ids[key] = len(self.by_id) + 1
            self.by_id[self.ids[key]] = schema
        return self.ids[key]

    def lookup(self, subject: str, schema: Any) -> int | None:
        self.calls["lookup"] += 1
        return self.ids.get((subject, repr(schema)))

    def get_schema(self, schema_id: int) -> Any:
        self.calls["get_schema"] += 1
        try:
            return self.by_id[schema_id]
        except KeyError:
            raise LookupError(f"no schema with id {schema_id}") from None


def _payment(i: int = 1) -> dict[str, Any]:
    return {
        "id": i,
        "amount": decimal.Decimal("1250000.50"),
        "due": dt.date(2025, 8, 17),
        "paid_at": dt.datetime(2025, 8, 18, 9, 30, 15, 123000, tzinfo=dt.UTC),
        "booked_at": dt.datetime(2025, 8, 18, 9, 30, 15, 123456, tzinfo=dt.UTC),
        "ref": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "note": None,
    }


def test_encode_writes_magic_byte_and_big_endian_schema_id() -> None:
    data = encode(258, parse(SCHEMA_V1), _payment())
    assert data[0] == 0
    assert struct.unpack(">I", data[1:5])[0] == 258


def test_logical_types_round_trip() -> None:
    parsed = parse(SCHEMA_V1)
    record = _payment()
    assert decode_with(parsed, encode(7, parsed, record)) == record


def test_serializer_and_deserializer_round_trip_through_the_registry() -> None:
    registry = MemoryRegistry()
    ser = Serializer(registry, "payments-value", SCHEMA_V1)
    de = Deserializer(registry)
    assert de(ser(_payment())) == _payment()


def test_no_registry_call_per_message() -> None:
    registry = MemoryRegistry()
    ser = Serializer(registry, "payments-value", SCHEMA_V1)
    de = Deserializer(registry)
    for i in range(1000):
        assert de(ser(_payment(i)))["id"] == i
    assert registry.calls == {"register": 1, "get_schema": 1, "lookup": 0}


def test_module_decode_caches_per_registry() -> None:
    registry = MemoryRegistry()
    ser = Serializer(registry, "payments-value", SCHEMA_V1)
    for i in range(100):
        assert decode(registry, ser(_payment(i)))["id"] == i
    assert registry.calls["get_schema"] == 1


def test_serializer_without_auto_register_looks_the_schema_up() -> None:
    registry = MemoryRegistry()
    schema_id = registry.register("payments-value", SCHEMA_V1)
    ser = Serializer(registry, "payments-value", SCHEMA_V1, auto_register=False)
    assert ser.schema_id == schema_id
    with pytest.raises(LookupError, match="not registered under subject other-value"):
        _ = Serializer(registry, "other-value", SCHEMA_V1, auto_register=False).schema_id


def test_reader_schema_resolves_old_messages_to_the_new_shape() -> None:
    registry = MemoryRegistry()
    old = Serializer(registry, "payments-value", SCHEMA_V1)(_payment())
    new_record = {**_payment(2), "channel": "QRIS"}
    new = Serializer(registry, "payments-value", SCHEMA_V2)(new_record)
    de = Deserializer(registry, reader_schema=SCHEMA_V2)
    assert de(old) == {**_payment(), "channel": None}
    assert de(new) == new_record


def test_reader_schema_that_cannot_read_the_writer_is_a_wire_format_error() -> None:
    registry = MemoryRegistry()
    data = Serializer(registry, "payments-value", SCHEMA_V1)(_payment())
    reader = {**SCHEMA_V1, "fields": [{"name": "id", "type": "string"}]}
    with pytest.raises(WireFormatError, match="schema id 1 cannot be read"):
        Deserializer(registry, reader_schema=reader)(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "0 bytes is too short"),
        (b"\x00\x00\x01", "3 bytes is too short"),
        (b'{"nik": "x"}', "magic byte is 0x7b"),
        (b"\x01\x00\x00\x00\x01\x02", "magic byte is 0x01"),
        (None, "tombstone"),
        ("text", "expected bytes, got str"),
    ],
)
def test_garbage_bytes_are_a_wire_format_error(data: Any, words: str) -> None:
    with pytest.raises(WireFormatError, match=words):
        decode_header(data)


def test_wire_format_error_is_a_value_error() -> None:
    assert issubclass(WireFormatError, ValueError)


def test_decode_header_returns_id_and_body() -> None:
    data = encode(42, parse("string"), "abc")
    assert decode_header(data) == (42, b"\x06abc")


def test_a_body_that_does_not_fit_its_schema_is_a_wire_format_error() -> None:
    registry = MemoryRegistry()
    Serializer(registry, "payments-value", SCHEMA_V1).schema_id  # noqa: B018 - registers id 1
    with pytest.raises(WireFormatError, match="schema id 1"):
        Deserializer(registry)(b"\x00\x00\x00\x00\x01\xff")


def test_trailing_bytes_are_a_wire_format_error() -> None:
    registry = MemoryRegistry()
    data = Serializer(registry, "payments-value", SCHEMA_V1)(_payment())
    with pytest.raises(WireFormatError, match="3 bytes left over"):
        Deserializer(registry)(data + b"abc")


def test_unknown_schema_id_names_the_id() -> None:
    with pytest.raises(UnknownSchemaError, match="schema id 99 is not in the schema registry"):
        Deserializer(MemoryRegistry())(b"\x00\x00\x00\x00\x63\x00")


def test_tombstone_decodes_to_none() -> None:
    assert Deserializer(MemoryRegistry())(None) is None


def test_a_record_that_does_not_fit_is_an_encode_error_naming_the_schema() -> None:
    bad = {**_payment(), "id": "not a number"}
    with pytest.raises(EncodeError, match="schema id 5 \\(id.mpphub.test.Payment\\)"):
        encode(5, parse(SCHEMA_V1), bad)
    with pytest.raises(EncodeError, match="subject payments-value"):
        Serializer(MemoryRegistry(), "payments-value", SCHEMA_V1)(bad)


def test_schema_id_must_fit_four_bytes() -> None:
    with pytest.raises(ValueError, match="does not fit 4 unsigned bytes"):
        encode(2**32, parse("string"), "x")


def test_encode_error_keeps_the_value_out_of_the_message() -> None:
    nik = "7413014508900001"  # personal data must not reach logs or dead-letter reasons
    with pytest.raises(EncodeError) as e:
        encode(5, parse(SCHEMA_V1), {**_payment(), "note": int(nik)})
    assert nik not in str(e.value)
    assert "a value of type int does not match" in str(e.value)
    assert "on field note" in str(e.value)
