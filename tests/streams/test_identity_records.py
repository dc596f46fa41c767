"""Person facts as the resolver's records, and decisions to and from their Avro record (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from domain.matching.decisions import Decision, DecisionKind, Evidence, FieldComparison
from domain.matching.record import PersonRecord
from schemas import catalog
from streams.canonical import PersonFact
from streams.identity_records import (
    UnusableFact,
    decision_of,
    decision_record,
    founding_ms,
    kafka_ms,
    person_record,
    record_key,
    source_ms,
)
from tests.streams.helpers import TS, TS_MS, round_trip
from tests.streams.rows import KK, TOKENS, WOMAN

FACT = PersonFact(
    nik_status="VALID",
    agency="disdukcapil",
    source_table="BIODATA_WNI",
    source_record_id=WOMAN,
    op="UPSERT",
    source_position="p1",
    nik=WOMAN,
    name="WA ODE SITTI",
    sex="P",
    birth_date=dt.date(1990, 8, 5),
    birth_place="LAWORO",
    address="DUSUN II",
    kecamatan_code="741301",
    kelurahan_code="7413012001",
    religion="ISLAM",
    kk_number=KK,
    deceased=False,
    source_ts=TS,
    phone="081234567890",
).keyed(TOKENS)
KEY = TOKENS.record("disdukcapil", "BIODATA_WNI", WOMAN)


def decoded(fact: PersonFact) -> dict:
    """The fact as the identity agent reads it: after the Avro round trip."""
    return round_trip(catalog.get("person_fact").schema, fact.record())


def test_a_fact_becomes_the_record_the_resolver_compares() -> None:
    assert person_record(decoded(FACT), TOKENS) == PersonRecord(
        record_id=KEY,
        name="WA ODE SITTI",
        birth_date=dt.date(1990, 8, 5),
        sex="P",
        birth_place="LAWORO",
        address="DUSUN II",
        kelurahan="7413012001",
        kecamatan="741301",
        nik=WOMAN,
        kk_number=KK,
        phone="081234567890",
        source="disdukcapil",
    )


def test_a_partial_fact_states_only_its_fields() -> None:
    move = dataclasses.replace(
        FACT, source_table="PINDAH_DATANG", source_record_id="741304202508180000001", name=None
    )
    record = person_record(decoded(dataclasses.replace(move, birth_date=None)), TOKENS)
    assert (record.name, record.birth_date, record.postcode, record.other_id) == (None,) * 4
    assert record.record_id == KEY  # the fact's record_key, whatever its other fields say


def test_a_fact_from_before_record_keys_gets_the_same_key() -> None:
    old = decoded(FACT) | {"record_key": ""}
    assert record_key(old, TOKENS) == KEY
    assert person_record(old, TOKENS).record_id == KEY


def test_a_fact_that_names_no_record_is_unusable() -> None:
    with pytest.raises(UnusableFact, match="neither a record_key"):
        record_key({"record_key": "", "agency": "disdukcapil", "source_table": None}, TOKENS)


def test_the_source_time_dates_new_persons() -> None:
    assert source_ms(decoded(FACT)) == TS_MS
    assert source_ms({"source_ts": None}) is None
    assert source_ms({"source_ts": dt.datetime(1970, 1, 1, 0, 0, 1)}) == 1000  # naive is UTC


def test_a_snapshot_row_is_dated_by_its_kafka_record_timestamp() -> None:
    assert kafka_ms(1_700_000_000.123) == 1_700_000_000_123  # Faust's seconds, back to ms
    assert kafka_ms(None) is None and kafka_ms(-0.001) is None  # no timestamp stored
    assert founding_ms({"source_ts": None}, 1_700_000_000_123) == 1_700_000_000_123
    assert founding_ms(decoded(FACT), 1_700_000_000_123) == TS_MS  # the source time first
    assert founding_ms({}, None) is None


EVIDENCE = Evidence(
    comparisons=(
        FieldComparison("nik", "one_edit", 6.25),
        FieldComparison("name", "jw_095", 4.5),
        FieldComparison("birth_date", "exact", 7.0),
    ),
    weight=14.75,
    probability=0.99996,
)
RECORD = person_record(decoded(FACT), TOKENS)
DECISIONS = [
    Decision(DecisionKind.NEW, "P01K2XZ8CR0S407JNJHWV92GWEP", record_id=KEY, record=RECORD),
    Decision(
        DecisionKind.LINK,
        "P01K2XZ8CR0S407JNJHWV92GWEP",
        record_id=KEY,
        record=RECORD,
        other_record_id="R" + "B" * 26,
        evidence=EVIDENCE,
        reason="score",
    ),
    Decision(DecisionKind.UNLINK, "P01K2XZ8CR0S407JNJHWV92GWEP", record_id=KEY, reason="deleted"),
    Decision(
        DecisionKind.MERGE,
        "P01K2XZ8CR0S407JNJHWV92GWEP",
        record_id=KEY,
        other_record_id="R" + "C" * 26,
        other_person_ids=("P01K2XZ8CR0S407JNJHWV92GWEQ", "P01K2XZ8CR0S407JNJHWV92GWER"),
    ),
    Decision(
        DecisionKind.SPLIT,
        "P01K2XZ8CR0S407JNJHWV92GWEP",
        other_person_ids=("P01K2XZ8CR0S407JNJHWV92GWES",),
        moved_record_ids=("R" + "D" * 26, "R" + "E" * 26),
    ),
    Decision(
        DecisionKind.REVIEW,
        "P01K2XZ8CR0S407JNJHWV92GWEP",
        record_id=KEY,
        other_record_id="R" + "F" * 26,
        evidence=EVIDENCE,
    ),
    Decision(
        DecisionKind.CANNOT_LINK,
        "P01K2XZ8CR0S407JNJHWV92GWEP",
        record_id=KEY,
        other_record_id="R" + "F" * 26,
        reason="supervisor.siti",
    ),
]


@pytest.mark.parametrize("decision", DECISIONS, ids=[d.kind.value for d in DECISIONS])
def test_a_decision_survives_its_avro_record(decision: Decision) -> None:
    record = round_trip(catalog.get("identity_decision").schema, decision_record(decision, TS_MS))
    assert record["ts"] == TS
    assert decision_of(record) == decision


def test_a_decision_kind_this_code_does_not_know_is_refused() -> None:
    record = decision_record(DECISIONS[0], TS_MS) | {"kind": "UNKNOWN"}
    with pytest.raises(ValueError):
        decision_of(record)
