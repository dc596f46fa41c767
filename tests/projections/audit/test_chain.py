"""The audit chain in its own SQLite database: appended in order, and verification names the
first entry that was edited, deleted, inserted or reordered (rows changed with plain SQL, as a
database user would), or that differs from a published head."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text

from domain.tokens import Tokens
from projections.audit import Read, open_audit
from projections.audit.heads import Head
from projections.audit.verify import verify

TOKENS = Tokens(b"audit-tests-secret-0123456789abcdef")
NIK = "7413014508900001"
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def read(n: int, nik: str | None = NIK) -> Read:
    return Read(
        who=f"petugas{n}",
        role="officer",
        purpose="service",
        action="citizen.lookup",
        person_id=f"P{n:026d}",
        person_token=TOKENS.nik(nik) if nik else None,
        client="10.0.0.7",
    )


@pytest.fixture
def audit(tmp_path):
    log = open_audit(f"sqlite:///{tmp_path / 'audit.db'}", TOKENS)
    for n in range(1, 6):
        log.append([read(n)], now=T0 + dt.timedelta(minutes=n))
    yield log
    log.close()


def sql(audit, statement: str) -> None:
    with audit.engine.begin() as conn:
        conn.execute(text(statement))


def test_entries_are_numbered_and_chained(audit):
    entries = list(audit.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert audit.head() == (5, entries[-1].hash)
    verdict = verify(audit)
    assert verdict.ok and verdict.entries == 5


def test_an_edited_entry_is_named(audit):
    sql(audit, "UPDATE audit_entry SET who = 'someone else' WHERE seq = 3")
    verdict = verify(audit)
    assert verdict.problem.seq == 3 and "edited" in str(verdict.problem)


def test_an_edited_time_is_named(audit):
    sql(audit, "UPDATE audit_entry SET at = '2026-01-01 00:00:00.000000' WHERE seq = 4")
    assert verify(audit).problem.seq == 4


def test_a_deleted_entry_is_named(audit):
    sql(audit, "DELETE FROM audit_entry WHERE seq = 2")
    verdict = verify(audit)
    assert verdict.problem.seq == 2 and "missing" in str(verdict.problem)


def test_an_inserted_entry_is_named(audit):
    # Room made by renumbering the later entries, then a forged entry in the gap.
    sql(audit, "UPDATE audit_entry SET seq = seq + 10 WHERE seq >= 3")
    sql(audit, "UPDATE audit_entry SET seq = seq - 9 WHERE seq >= 13")
    sql(
        audit,
        "INSERT INTO audit_entry (seq, at, who, role, action, prev_hash, hash) VALUES "
        "(3, '2026-11-02 08:02:30.000000', 'x', 'officer', 'citizen.read', 'a', 'b')",
    )
    assert verify(audit).problem.seq == 3


def test_reordered_entries_are_named(audit):
    sql(audit, "UPDATE audit_entry SET seq = 100 WHERE seq = 2")
    sql(audit, "UPDATE audit_entry SET seq = 2 WHERE seq = 3")
    sql(audit, "UPDATE audit_entry SET seq = 3 WHERE seq = 100")
    verdict = verify(audit)
    assert verdict.problem.seq == 2 and "does not follow" in str(verdict.problem)


def test_a_chain_rewritten_with_the_secret_still_disagrees_with_a_published_head(tmp_path):
    published = []
    honest = open_audit(f"sqlite:///{tmp_path / 'a.db'}", TOKENS)
    for n in range(1, 4):
        honest.append([read(n)], now=T0)
    published.append(Head(*honest.head(), at="2026-11-02T08:00:00+00:00"))
    # The same secret, entry 2 left out and the chain recomputed (a later read appended to hide
    # the shorter length): a valid chain on its own.
    forged = open_audit(f"sqlite:///{tmp_path / 'b.db'}", TOKENS)
    for n in (1, 3, 4):
        forged.append([read(n)], now=T0)
    assert verify(forged).ok
    verdict = verify(forged, published)
    assert verdict.problem.seq == 3 and "rewritten" in str(verdict.problem)
    # The last entry dropped: the head names an entry that is gone.
    sql(honest, "DELETE FROM audit_entry WHERE seq = 3")
    assert verify(honest).ok
    assert "gone" in str(verify(honest, published).problem)
    honest.close()
    forged.close()


def test_another_secret_cannot_make_a_valid_entry(tmp_path, audit):
    other = open_audit(str(audit.engine.url), Tokens(b"x" * 32), create=False)
    other.append([read(6)])  # what a holder of the database but not the secret could do
    assert verify(audit).problem.seq == 6


def test_reads_of_a_person_by_nik_token_or_person_id(audit):
    audit.append([read(7, nik="7413010101900003")])
    by_nik = audit.reads_of(nik=NIK)
    assert [e.seq for e in by_nik] == [1, 2, 3, 4, 5]
    assert [e.seq for e in audit.reads_of(person_ids=["P" + "7".zfill(26)])] == [6]
    assert audit.reads_of() == []


def test_concurrent_appends_form_one_chain(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    logs = [open_audit(url, TOKENS) for _ in range(3)]  # as three API processes

    def write(log, k: int) -> None:
        for n in range(20):
            log.append([read(k * 100 + n), read(k * 100 + n)])

    threads = [threading.Thread(target=write, args=(log, k)) for k, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verdict = verify(logs[0])
    assert verdict.ok and verdict.entries == 120
    for log in logs:
        log.close()
