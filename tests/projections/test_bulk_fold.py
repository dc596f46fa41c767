"""The rebuild's in-memory fold (projections/bulk_fold.py) gives the rows the live worker's
apply_batch gives, applied in small batches, over a log with every kind of event: residents and
applicants, merges and reviews, a split and an unlink, a deleted record, data-quality findings
fixed and broken again, permits through their states, a deleted status step, repeats of
earlier events (at-least-once) and redelivered offsets."""

from __future__ import annotations

import datetime as dt
import zlib

from projections.bulk_fold import BulkFold, FastLinks
from projections.facts import DEFAULT_TOPICS, Message
from projections.identity import Links
from projections.store import open_store
from projections.writer import apply_batch
from tests.projections import factories as f
from tests.projections.harness import scenario, snapshot

TODAY = dt.date(2026, 9, 1)


def _log() -> list[Message]:
    log = f.Log()
    out: list[Message] = []
    for kind, value in scenario(people=60, permits=120, seed=11):
        partition = zlib.crc32(str(value.get("record_key") or value.get("permit_id")).encode()) % 3
        if kind == "identity":
            out.append(log.identity(value))
        else:
            out.append(getattr(log, kind)(value, partition=partition if kind != "service" else 0))
    quality = {"record_ref": "7413**", "checked_at": f.ts(90)}
    broken = [{"rule_code": "KK_MALFORMED", "detail": "d", "field": "NO_KK", "severity": "ERROR"}]
    resident = f.person(f.NIK_A, record_id="900", position="q1", at=80)
    out += log.linked({**resident, "quality": {**quality, "issues": broken}}, f.pid(900), "NEW")
    fixed = {**quality, "issues": [], "checked_at": f.ts(95)}
    out.append(log.person({**resident, "source_position": "q2", "quality": fixed}))
    moved = f.person(record_id="901", position="s1", at=81, name="PINDAH")
    out += log.linked(moved, f.pid(900))
    key = moved["record_key"]
    out.append(log.identity(f.decision("SPLIT", f.pid(900), moved_record_ids=[key],
                                       other_person_ids=[f.pid(901)])))  # fmt: skip
    out.append(log.identity(f.decision("UNLINK", f.pid(901), key, reason="deleted")))
    gone = f.person(record_id="902", position="d1", at=82, name="HAPUS")
    out += log.linked(gone, f.pid(902), "NEW")
    out.append(log.person(f.person(record_id="902", position="d2", at=83, op="DELETE")))
    steps = [f.status("dpmptsp:1000", 50, "VERIFIED", dt.date(2026, 8, 20), position="x1", at=84)]
    steps.append(f.deleted("dpmptsp:1000", position="x2", at=85, seq=50))
    out += [log.permit(e) for e in steps]
    out += [log.tombstone(DEFAULT_TOPICS.person, "gone")]
    return out


def test_the_fold_of_a_whole_log_gives_the_live_rows(tmp_path):
    messages = _log()
    live = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    bulk = open_store(f"sqlite:///{tmp_path / 'bulk.db'}")
    try:
        for i in range(0, len(messages), 25):
            with live.sessions() as s:
                apply_batch(s, messages[i : i + 25], today=TODAY)
        fold = BulkFold(DEFAULT_TOPICS)
        fold.add(messages[:400])
        fold.add(messages[350:])  # offsets folded already are passed over
        with bulk.sessions() as s:
            fold.write(s, TODAY)
            s.commit()
        expected = snapshot(live.engine)
        assert expected["person_alias"] and expected["identity_review"]
        assert expected["dq_finding"] and expected["permit_timeline"]
        assert snapshot(bulk.engine) == expected
        assert fold.last == {(m.topic, m.partition): m.offset for m in messages}
    finally:
        live.close()
        bulk.close()


def test_an_event_the_rules_refuse_is_passed_over_and_the_rest_folded():
    log = f.Log()
    good = f.person(record_id="1", position="g1")
    fold = BulkFold(DEFAULT_TOPICS)
    fold.add([log.person({"record_key": "R", "agency": "disdukcapil"}), log.person(good)])
    assert fold.skipped == 1
    assert list(fold.records) == ["disdukcapil:biodata_wni:1"]


def test_fast_links_merge_as_the_live_links_do():
    decisions = [
        f.decision("MERGE", f.pid(1), other_person_ids=[f.pid(2)]),
        f.decision("MERGE", f.pid(3), other_person_ids=[f.pid(1)]),
        f.decision("MERGE", f.pid(3), other_person_ids=[f.pid(2)]),  # a repeat, via its alias
        f.decision("MERGE", f.pid(4), other_person_ids=[f.pid(3), f.pid(5)]),
    ]
    records = {"r1": f.pid(1), "r2": f.pid(2), "r5": f.pid(5)}
    live, fast = Links(records, {}), FastLinks(records, {})
    for d in decisions:
        live.apply("MERGE", d)
        fast.apply("MERGE", d)
    assert fast.alias == live.alias and fast.person == live.person
    assert set(fast.alias.values()) == {f.pid(4)}
