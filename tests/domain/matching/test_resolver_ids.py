"""domain/matching/ids.py: person ids are 'P' + a ULID dated by the founding record, the same on
every rerun under one secret, and ordered by that date."""

from __future__ import annotations

import pytest
from ulid import ULID

from domain.matching.ids import person_id, person_ids
from domain.matching.record import PersonRecord
from domain.tokens import Tokens


def test_a_person_id_is_a_ulid_dated_by_the_source_time() -> None:
    pid = person_id(1_700_000_000_123, bytes(range(10)))
    assert pid.startswith("P") and len(pid) == 27
    ulid = ULID.from_str(pid[1:])
    assert ulid.milliseconds == 1_700_000_000_123 and ulid.bytes[6:] == bytes(range(10))
    assert person_id(None, bytes(10)) == "P" + "0" * 26  # time unknown: 0
    assert person_id(-5, bytes(10)) == person_id(0, bytes(10))
    assert person_id(2**60, bytes(10)) == person_id(2**48 - 1, bytes(10))
    with pytest.raises(ValueError):
        person_id(1, b"short")


def test_ids_are_deterministic_under_one_secret_and_ordered_by_time() -> None:
    new_id = person_ids(Tokens(b"s" * 32))
    rec = PersonRecord("R1")
    assert new_id(rec, 5) == new_id(rec, 5) != person_ids(Tokens(b"t" * 32))(rec, 5)
    assert new_id(rec, 5) != new_id(PersonRecord("R2"), 5)
    assert new_id(PersonRecord("R9"), 4) < new_id(rec, 5) < new_id(PersonRecord("R0"), 6)
