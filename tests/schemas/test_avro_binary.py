"""The compiled Avro writers (schemas/avro_binary.py) write exactly fastavro's bytes, and leave
to fastavro every value they do not write themselves: for every schema the hub writes, on
records of the right types and of types fastavro might still accept or refuse."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.avro_binary import Refused, compile_writer, text, varint
from schemas.codec import EncodeError, Serializer

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"
SCHEMAS = sorted(AVRO.glob("*.avsc"))


def _strategy(schema: Any, odd: bool) -> st.SearchStrategy:
    """Values for `schema`; with `odd`, now and then one of another type."""
    if isinstance(schema, list):
        return st.one_of(*(_strategy(b, odd) for b in schema))
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = None if isinstance(schema, str) else schema.get("logicalType")
    if isinstance(kind, dict | list):
        return _strategy(kind, odd)
    if logical == "timestamp-millis":
        base = st.one_of(
            st.datetimes(timezones=st.just(dt.UTC)),
            st.datetimes(timezones=st.sampled_from([dt.timezone(dt.timedelta(hours=8))])),
            st.integers(-(2**50), 2**50),
        )
        other = st.one_of(st.datetimes(), st.floats(allow_nan=False), st.text(max_size=3))
    elif logical == "date":
        base = st.one_of(st.dates(), st.integers(-(2**20), 2**20))
        other = st.one_of(st.datetimes(), st.just("2026-12-01"), st.integers(2**31, 2**40))
    elif kind == "record":
        fields = {f["name"]: _strategy(f["type"], odd) for f in schema["fields"]}
        base = st.fixed_dictionaries(fields)
        other = st.fixed_dictionaries(fields).flatmap(
            lambda d: st.sampled_from([*d, None]).map(
                lambda k: {n: v for n, v in d.items() if n != k}
            )
        )
    elif kind == "array":
        base = st.lists(_strategy(schema["items"], odd), max_size=3)
        other = st.lists(_strategy(schema["items"], odd), max_size=3).map(tuple)
    elif kind == "enum":
        base = st.sampled_from(schema["symbols"])
        other = st.text(max_size=4)
    else:
        base, other = {
            "null": (st.none(), st.integers(0, 1)),
            "boolean": (st.booleans(), st.integers(0, 2)),
            "int": (st.integers(-(2**31), 2**31 - 1), st.integers(2**31, 2**40) | st.booleans()),
            "long": (st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False) | st.booleans()),
            "double": (st.floats(), st.integers(-(2**40), 2**40)),
            "string": (st.text(max_size=40), st.integers() | st.binary(max_size=3)),
            "bytes": (st.binary(max_size=40), st.text(max_size=3) | st.just(bytearray(b"x"))),
        }[kind]
    return st.one_of(base, other) if odd else base


def _fastavro(parsed: Any, record: Any) -> bytes | type[BaseException]:
    out = io.BytesIO()
    try:
        fastavro.schemaless_writer(out, parsed, record)
    except Exception as e:  # noqa: BLE001 - the kind of error is what is compared
        return type(e)
    return out.getvalue()


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_every_schema_the_hub_writes_is_compiled(path: Path) -> None:
    assert compile_writer(fastavro.parse_schema(json.loads(path.read_text()))) is not None


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_records_of_the_right_types_are_written_as_fastavro_writes_them(path: Path) -> None:
    parsed = fastavro.parse_schema(json.loads(path.read_text()))
    write = compile_writer(parsed)
    assert write is not None

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_strategy(parsed, odd=False))
    def check(record: Any) -> None:
        expected = _fastavro(parsed, record)
        if isinstance(expected, bytes):
            assert write(record) == expected
        else:  # fastavro refuses it (a lone surrogate, say): so must the compiled writer
            with pytest.raises(Exception):  # noqa: B017, PT011
                write(record)

    check()


class _Registry:
    def register(self, subject: str, schema: Any) -> int:
        return 7


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_any_value_gives_fastavros_bytes_or_its_refusal(path: Path) -> None:
    schema = json.loads(path.read_text())
    serializer = Serializer(_Registry(), "s", schema)
    parsed = fastavro.parse_schema(schema)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_strategy(parsed, odd=True))
    def check(record: Any) -> None:
        expected = _fastavro(parsed, record)
        if isinstance(expected, bytes):
            assert serializer(record) == b"\x00\x00\x00\x00\x07" + expected
        else:
            with pytest.raises(EncodeError):
                serializer(record)

    check()


TWO_FIELDS = {
    "type": "record",
    "name": "r",
    "fields": [
        {"name": "ts", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "d", "type": "double"},
    ],
}


def test_values_fastavro_might_read_otherwise_are_left_to_it() -> None:
    parsed = fastavro.parse_schema(TWO_FIELDS)
    write = compile_writer(parsed)
    assert write is not None
    aware = dt.datetime(2026, 12, 1, 8, 0, 0, 999_999, tzinfo=dt.UTC)
    assert write({"ts": aware, "d": 1.5}) == _fastavro(parsed, {"ts": aware, "d": 1.5})
    for odd in (
        {"ts": aware.replace(tzinfo=None), "d": 1.5},  # naive: fastavro reads it as local time
        {"ts": None, "d": 1},  # an int for a double
        {"ts": True, "d": 1.5},  # a bool is no timestamp
        {"d": 1.5},  # missing: fastavro writes the default
    ):
        with pytest.raises(Refused):
            write(odd)


def test_schemas_with_other_types_are_not_compiled() -> None:
    for schema in (
        {"type": "map", "values": "string"},
        ["null", "string", "long"],
        {"type": "fixed", "name": "f", "size": 4},
        {"type": "string", "logicalType": "uuid"},
    ):
        assert compile_writer(fastavro.parse_schema(schema)) is None


@pytest.mark.parametrize("n", [0, 1, -1, 63, -64, 64, 8191, 8192, 2**31, -(2**63), 2**63 - 1])
def test_varints_and_strings_are_fastavros(n: int) -> None:
    assert varint(n) == _fastavro(fastavro.parse_schema("long"), n)
    assert text("é" * abs(n % 300)) == _fastavro(
        fastavro.parse_schema("string"), "é" * abs(n % 300)
    )
