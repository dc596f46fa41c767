"""The findings projection through apply_batch (SQLite file): a finding appears with its record's
version, disappears when a later version of the record no longer fails the rule (or the record
is deleted), and comes back if the record breaks again; the report reads what is open."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from openpyxl import load_workbook

from projections.findings_report import counts, findings_xlsx, open_findings, trend
from projections.store import open_store
from projections.writer import apply_batch
from tests.projections import factories as f
from tests.projections.harness import snapshot

TODAY = dt.date(2026, 7, 20)
SIAK_REF = "741301**********"


def checked(at: int, *rules: str, ref: str = SIAK_REF) -> dict[str, Any]:
    """The `quality` normalize puts on an UPSERT: these rules failed (none: clean)."""
    issues = [
        {"rule_code": r, "detail": f"{r} in words", "field": "NIK", "severity": "WARNING"}
        for r in rules
    ]
    return {"record_ref": ref, "issues": issues, "checked_at": f.ts(at)}


def version(at: int, *rules: str, record_id: str = "1", **fields: Any) -> dict[str, Any]:
    """A version of one SIAK record checked at minute `at` of the factories' day."""
    return f.person(record_id=record_id, position=f"p{at}", at=at, quality=checked(at, *rules),
                    **fields)  # fmt: skip


def project(store, *facts: dict[str, Any]) -> None:
    """Apply facts as the next messages of the store's log (offsets go on across calls)."""
    log = _LOGS.setdefault(id(store), f.Log())
    with store.sessions() as s:
        apply_batch(s, [log.person(x) for x in facts], today=TODAY)


_LOGS: dict[int, f.Log] = {}


def open_rules(store, agency: str = "disdukcapil") -> list[tuple[str, str, str]]:
    with store.sessions() as s:
        return [(r.table, r.record_ref, r.rule_code) for r in open_findings(s, agency)]


def test_a_finding_appears_with_the_record_version_that_fails(store):
    project(store, version(0, "NIK_DATE_MISMATCH"))
    assert open_rules(store) == [("BIODATA_WNI", SIAK_REF, "NIK_DATE_MISMATCH")]
    with store.sessions() as s:
        (row,) = open_findings(s, "disdukcapil")
    assert row.first_seen == f.ts(0).replace(tzinfo=None)
    assert row.record_token == f.record_key("disdukcapil", "BIODATA_WNI", "1")


def test_a_corrected_record_clears_its_finding(store):
    project(store, version(0, "NIK_DATE_MISMATCH"))
    project(store, version(5))  # TGL_LHR corrected: no finding in this version
    assert open_rules(store) == []
    (row,) = snapshot(store.engine)["dq_finding"]
    assert row["resolved_at"] == f.ts(5).replace(tzinfo=None)  # kept for the trend


def test_only_the_fixed_rule_is_cleared(store):
    project(store, version(0, "NIK_DATE_MISMATCH", "KK_MALFORMED"))
    project(store, version(5, "KK_MALFORMED"))
    assert [r for *_, r in open_rules(store)] == ["KK_MALFORMED"]
    with store.sessions() as s:
        (row,) = open_findings(s, "disdukcapil")
    assert row.first_seen == f.ts(0).replace(tzinfo=None)  # still the first version's


def test_a_deleted_record_takes_its_findings_along(store):
    project(store, version(0, "NIK_MALFORMED"))
    project(store, f.person(record_id="1", position="p9", at=9, op="DELETE"))
    assert open_rules(store) == []


def test_a_finding_comes_back_when_the_record_breaks_again(store):
    project(store, version(0, "NIK_SEX_MISMATCH"), version(5), version(9, "NIK_SEX_MISMATCH"))
    with store.sessions() as s:
        (row,) = open_findings(s, "disdukcapil")
    assert row.first_seen == f.ts(9).replace(tzinfo=None)


def test_an_older_version_after_a_newer_one_changes_nothing(store):
    project(store, version(5, "NIK_MALFORMED"))
    project(store, version(0))  # a replayed older, clean version
    assert [r for *_, r in open_rules(store)] == ["NIK_MALFORMED"]


def test_a_fact_without_quality_leaves_findings_as_they_are(store):
    project(store, version(0, "NIK_MALFORMED"))
    project(store, f.person(record_id="1", position="p7", at=7))  # written before the field
    assert [r for *_, r in open_rules(store)] == ["NIK_MALFORMED"]


def test_the_same_facts_again_change_nothing(store):
    facts = [version(0, "NIK_MALFORMED"), version(5, "KK_MALFORMED")]
    project(store, *facts)
    first = snapshot(store.engine)
    project(store, *facts)  # republished at new offsets (at-least-once upstream)
    assert snapshot(store.engine) == first


def test_findings_are_per_agency_and_counted_by_rule_and_table(store):
    project(
        store,
        version(0, "NIK_MALFORMED", record_id="1"),
        version(1, "NIK_MALFORMED", "KK_MALFORMED", record_id="2"),
        f.person(
            agency="dpmptsp",
            table="tmpemohon",
            record_id="42",
            position="e1",
            quality=checked(2, "NIK_MISSING", ref="42"),
        ),  # fmt: skip
    )
    with store.sessions() as s:
        assert counts(s, "disdukcapil") == {
            "by_rule": {"NIK_MALFORMED": 2, "KK_MALFORMED": 1},
            "by_table": {"BIODATA_WNI": 3},
        }
        assert [r.rule_code for r in open_findings(s, "dpmptsp")] == ["NIK_MISSING"]
        assert [r.record_ref for r in open_findings(s, "dpmptsp")] == ["42"]
        assert open_findings(s, "disdukcapil", rule="KK_MALFORMED")[0].record_ref == SIAK_REF


def test_the_trend_counts_open_opened_and_resolved_per_day(store):
    day = 24 * 60
    project(store, version(0, "NIK_MALFORMED", record_id="1"),
            version(day, "NIK_MALFORMED", record_id="2"),
            version(2 * day, record_id="1"))  # fmt: skip
    first = f.ts(0).date()
    with store.sessions() as s:
        points = trend(s, "disdukcapil", "day", first + dt.timedelta(days=2), points=3)
        weeks = trend(s, "disdukcapil", "week", first + dt.timedelta(days=2), points=1)
    assert [(p.opened, p.resolved, p.open) for p in points] == [(1, 0, 1), (1, 0, 2), (0, 1, 1)]
    assert [p.start for p in points] == [first + dt.timedelta(days=i) for i in range(3)]
    assert weeks[0].start.weekday() == 0


def test_the_xlsx_has_one_row_per_open_finding(store):
    project(store, version(0, "NIK_MALFORMED"), version(0, "KK_MALFORMED", record_id="2"))
    with store.sessions() as s:
        rows = open_findings(s, "disdukcapil")
    ws = load_workbook(io.BytesIO(findings_xlsx("disdukcapil", rows))).active
    values = list(ws.values)
    assert values[0][:3] == ("Aturan", "Tabel", "Rujukan rekaman sumber")
    assert sorted(v[0] for v in values[1:]) == ["KK_MALFORMED", "NIK_MALFORMED"]
    assert all(v[2] == SIAK_REF for v in values[1:])


def test_a_replay_in_one_batch_gives_the_live_rows(store, tmp_path):
    # A rebuild folds the whole log in large batches; the live worker saw it in small ones.
    facts = [
        version(0, "NIK_MALFORMED", "KK_MALFORMED"),
        version(3, "KK_MALFORMED", record_id="2"),
        version(5, "KK_MALFORMED"),
        version(7, record_id="2"),
        f.person(record_id="2", position="p8", at=8, op="DELETE"),
        version(9, "NIK_SEX_MISMATCH", record_id="2"),
    ]
    for fact in facts:
        project(store, fact)
    replay = open_store(f"sqlite:///{tmp_path / 'replay.db'}")
    try:
        with replay.sessions() as s:
            log = f.Log()
            apply_batch(s, [log.person(x) for x in facts], today=TODAY)
        assert snapshot(replay.engine)["dq_finding"] == snapshot(store.engine)["dq_finding"]
    finally:
        replay.close()
    assert [r for *_, r in open_rules(store)] == ["KK_MALFORMED", "NIK_SEX_MISMATCH"]
