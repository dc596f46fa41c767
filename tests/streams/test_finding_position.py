"""A data-quality finding never carries a NIK in its source position (a polling cursor is
`ts|key`, and SIAK's key is the NIK)."""

from __future__ import annotations

import datetime as dt

from streams.canonical import DataQualityFinding

NIK = "7413014508900001"


def test_a_polling_position_holding_a_nik_is_masked() -> None:
    finding = DataQualityFinding(
        agency="disdukcapil",
        table="BIODATA_WNI",
        record_key="741301**********",
        rule_code="NIK_DATE_MISMATCH",
        detail="date part differs from the recorded birth date",
        source_position=f"2026-11-02T08:00:00|{NIK}",
        ts=dt.datetime(2026, 11, 2, tzinfo=dt.UTC),
    )
    assert finding.source_position == "2026-11-02T08:00:00|741301**********"
    assert NIK not in repr(finding.record())
