"""domain/matching/resolver.py and clean.py: garbage in any field never stops the resolver, and
cleaning keeps a good record as it is."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from domain.matching.clean import MAX_FIELD, clean_record, has_nothing_to_compare
from domain.matching.decisions import DecisionKind as K
from domain.matching.record import PersonRecord

from .resolver_support import models, person, resolver

TEXT_FIELDS = [
    f.name for f in dataclasses.fields(PersonRecord) if f.name not in ("record_id", "birth_date")
]
GARBAGE: list[object] = [
    123,
    4.5e300,
    float("nan"),
    True,
    b"\xff\xfeSITI",
    ["SITI"],
    {"a": 1},
    object(),
    "X" * 100_000,
    "SITI\x00AMINAH\x1b[31m\r\n",
    "\ud800\udfff",
    "😀" * 50,
    "",
    "   ",
    "7413014501900001" * 3,
    "-1",
    "0" * 16,
    "L\x00",
    "NULL",
]


@pytest.mark.parametrize("model", models())
def test_garbage_in_any_field_never_stops_the_resolver(model) -> None:
    r = resolver(model)
    base = person(
        "Rbase",
        "SITI AMINAH",
        "1991-04-04",
        sex="P",
        nik="7413014404910001",
        kelurahan="RAHA I",
        address="JL. MAWAR 1",
        phone="0812345678",
    )
    r.resolve(base, 1)
    n = 0
    for name in TEXT_FIELDS:
        for value in GARBAGE:
            n += 1
            rec = dataclasses.replace(base, record_id=f"R{n}", **{name: value})
            assert r.resolve(rec, n)[0].kind in (K.NEW, K.LINK)
    for value in ("1991-13-45", "kemarin", 19910404, dt.datetime(1991, 4, 4, 12), None):
        n += 1
        rec = dataclasses.replace(base, record_id=f"R{n}", birth_date=value)  # type: ignore[arg-type]
        assert r.resolve(rec, n)
    assert r.resolve(PersonRecord(12345, name=7), 0)  # type: ignore[arg-type]
    assert r.person_of("12345") is not None
    assert r.stats["model_errors"] == 0 and r.stats["records"] == n + 2


def test_cleaning_keeps_a_good_record_and_repairs_a_bad_one() -> None:
    good = person("R1", "SITI AMINAH", "1991-04-04", nik="7413014404910001")
    assert clean_record(good) is good
    bad = PersonRecord(
        7,
        name=" SITI\x00AMINAH ",
        birth_date="1991-04-04",
        sex=1,
        nik=7413014404910001,  # type: ignore[arg-type]
        address="X" * 10_000,
        phone=b"0812",
        kelurahan=["RAHA"],
        source="\t",  # type: ignore[arg-type]
    )
    cleaned = clean_record(bad)
    assert (cleaned.record_id, cleaned.name, cleaned.birth_date, cleaned.sex, cleaned.nik) == (
        "7",
        "SITI AMINAH",
        dt.date(1991, 4, 4),
        "1",
        "7413014404910001",
    )
    assert cleaned.address == "X" * MAX_FIELD and cleaned.phone == "0812"
    assert cleaned.kelurahan is None and cleaned.source is None
    assert clean_record(cleaned) is cleaned


def test_nothing_to_compare_means_no_name_no_date_and_no_nik() -> None:
    assert has_nothing_to_compare(person("R", address="JL. MAWAR 1", phone="0812345678"))
    assert has_nothing_to_compare(person("R", "...", nik="-"))
    assert not has_nothing_to_compare(person("R", "SITI"))
    assert not has_nothing_to_compare(person("R", born="1991-04-04"))
    assert not has_nothing_to_compare(person("R", nik="7413"))


def test_a_bad_character_in_any_one_field_is_cleaned_alone():
    """clean_record checks every field in one search; each field is still cleaned on its own,
    and a clean record is returned as it is."""
    from domain.matching.clean import _TEXT_FIELDS

    clean = PersonRecord("r1", name="SITI AMINAH", nik="7401234567890001", address="JL MAWAR 1")
    assert clean_record(clean) is clean
    for field in _TEXT_FIELDS:
        for bad in ("A\x00B", " PADDED ", "\ud800", "X" * 201):
            dirty = dataclasses.replace(clean, **{field: bad})
            out = clean_record(dirty)
            assert out is not dirty, (field, bad)
            assert {f: getattr(out, f) for f in _TEXT_FIELDS if f != field} == {
                f: getattr(clean, f) for f in _TEXT_FIELDS if f != field
            }
