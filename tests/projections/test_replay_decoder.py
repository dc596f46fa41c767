"""The rebuild's decoder gives the records schemas.codec.Deserializer gives (same values, same
types: dates, aware UTC timestamps, nested records and arrays), and hands whatever it cannot
read to its fallback."""

from __future__ import annotations

import datetime as dt

import pytest

from projections.facts import Message
from projections.replay_decoder import ReplayDecoder, Unsupported, plan
from schemas.codec import Deserializer, encode
from tests.projections import canonical
from tests.projections import factories as f


class Schemas:
    """A registry of the four canonical schemas under ids 1..4 (a dict, no server)."""

    def __init__(self):
        self.by_id = dict(enumerate(canonical.schemas().values(), start=1))

    def get_schema(self, schema_id: int):
        if schema_id not in self.by_id:
            raise LookupError(schema_id)
        return self.by_id[schema_id]


QUALITY = {
    "record_ref": "7413**",
    "issues": [{"rule_code": "NIK_MALFORMED", "detail": "d", "field": None, "severity": None}],
    "checked_at": dt.datetime(2026, 7, 1, 3, 4, 5, 678000, tzinfo=dt.UTC),
}
RECORDS = {
    1: [
        f.person(birth_date=dt.date(1990, 7, 5), death_date=dt.date(2026, 1, 2), quality=QUALITY),
        f.person(None, op="DELETE"),
    ],
    2: [
        f.application("dpmptsp:1", position="a", received_date=dt.date(2026, 8, 3)),
        f.status("dpmptsp:1", 1, "RECEIVED", dt.date(2026, 8, 3), position="s"),
    ],
    3: [f.service("dpmptsp:1", code="SIP", name="Izin", sla_days=9, position="v")],
    4: [
        f.decision("REVIEW", f.P_A, "R1", other_record_id="R2", evidence=f.evidence(), at=3),
        f.decision("MERGE", f.P_A, other_person_ids=[f.P_B]),
    ],
}


def _raw(schema_id: int, record: dict) -> tuple:
    schema = Schemas().by_id[schema_id]
    return ("t", 0, 7, b"key", encode(schema_id, schema, record))


def _typed(value):
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value, getattr(value, "tzinfo", None))


def test_records_equal_the_deserializers_in_value_and_type():
    full = Deserializer(Schemas())
    decode = ReplayDecoder(Schemas(), fallback=pytest.fail)
    for schema_id, records in RECORDS.items():
        for record in records:
            raw = _raw(schema_id, record)
            got = decode(raw)
            assert got == Message("t", 0, 7, "key", full(raw[4]))
            assert _typed(got.value) == _typed(full(raw[4]))
    person = decode(_raw(1, RECORDS[1][0])).value
    assert person["quality"]["checked_at"] == QUALITY["checked_at"]
    assert person["birth_date"] == dt.date(1990, 7, 5)


@pytest.mark.parametrize(
    "value",
    [
        None,  # a tombstone
        b"{not avro}",
        b"\x00\x00\x00\x00\x63" + b"x",  # an id the registry does not know
        _raw(3, RECORDS[3][0])[4] + b"\x00",  # bytes left over
        _raw(3, RECORDS[3][0])[4][:-3],  # cut short
    ],
)
def test_what_it_cannot_read_goes_to_the_fallback(value):
    seen = []
    decode = ReplayDecoder(Schemas(), fallback=lambda raw: seen.append(raw) or "fallback")
    assert decode(("t", 1, 2, b"k", value)) == "fallback"
    assert seen == [("t", 1, 2, b"k", value)]


def test_a_logical_type_it_does_not_convert_is_left_to_the_deserializer():
    with pytest.raises(Unsupported):
        plan({"type": "record", "name": "X", "fields": [
            {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4}}
        ]})  # fmt: skip
