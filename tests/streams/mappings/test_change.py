"""RawChange: a raw change envelope taken apart, its times and its record id."""

from __future__ import annotations

import datetime as dt

import pytest

from streams.mappings import MappingError, RawChange
from tests.streams.helpers import TS, envelope
from tests.streams.rows import pemohon

SOURCE = {"agency": "a", "table": "t", "position": "p"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": "c", "after": {}}, "no source block"),
        ({"op": "x", "after": {}, "source": SOURCE}, "op"),
        ({"op": "c", "after": None, "source": SOURCE}, "after"),
        ({"op": "c", "after": {}, "source": {"agency": "a", "table": "t"}}, "source.position"),
    ],
)
def test_a_malformed_envelope_is_a_mapping_error(change: dict, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        RawChange.from_envelope(change, None)


def test_raw_change_times_and_record_id() -> None:
    change = RawChange.from_envelope(envelope("tmpemohon", "u", pemohon()), {"id": 42})
    assert change.source_ts == TS
    assert change.ts == TS + dt.timedelta(milliseconds=500)
    assert change.finding_ts == TS
    assert change.record_id() == "42"
    no_key = RawChange.from_envelope(envelope("tmpemohon", "u", pemohon()), None)
    assert no_key.record_id(("id",)) == "42"
    unknown_ts = RawChange.from_envelope(
        envelope("tmpemohon", "u", pemohon(), source_ts_ms=None), None
    )
    assert unknown_ts.source_ts is None
    assert unknown_ts.finding_ts == unknown_ts.ts


def test_composite_keys_are_joined_with_a_bar() -> None:
    change = RawChange.from_envelope(
        envelope("tmpemohon", "u", pemohon()), {"a": 1, "b": " x ", "c": dt.date(2025, 1, 2)}
    )
    assert change.record_id() == "1|x|2025-01-02"


def test_a_change_without_any_key_is_a_mapping_error() -> None:
    change = RawChange.from_envelope(envelope("tmpemohon", "d", None, before={}), None)
    with pytest.raises(MappingError, match="no primary key"):
        change.record_id(("id",))
