"""The data-quality findings projection: person facts -> `dq_finding` rows, one per (agency,
table, record token, rule).

Normalize states on every UPSERT fact all of that record version's findings (`quality`, an
empty list when it is clean), so a version without a rule resolves that finding and a DELETE
resolves them all; nothing here needs the findings topic, and a rebuild from the person topic
gives the same rows. Resolved rows are kept (for the trend), marked with the source time of the
version that resolved them. An older version arriving after a newer one changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .facts import is_delete, utc_naive
from .models import Finding
from .rows import changed, rows_where_in, write_rows

RecordKey = tuple[str, str, str]  # agency, source table, record token


def apply_findings(session: Any, facts: Iterable[dict[str, Any]]) -> int:
    """Fold a batch of person facts (in log order) into the findings; rows written."""
    wanted = [f for f in facts if f.get("record_key") and (is_delete(f["op"]) or f.get("quality"))]
    if not wanted:
        return 0
    tokens = {f["record_key"] for f in wanted}
    before = rows_where_in(session, Finding, Finding.record_token, tokens, lock=True)
    rows: dict[RecordKey, dict[str, dict[str, Any]]] = {}
    for r in before:
        rows.setdefault(finding_key(r["agency"], r["source_table"], r["record_token"]), {})[
            r["rule_code"]
        ] = r
    old = {(*k, rule): dict(r) for k, found in rows.items() for rule, r in found.items()}
    for fact in wanted:
        key = finding_key(fact["agency"], fact["source_table"], fact["record_key"])
        fold_finding(rows.setdefault(key, {}), key, fact)
    inserts, updates = [], []
    for key, found in rows.items():
        for rule, row in found.items():
            prev = old.get((*key, rule))
            if prev is None:
                inserts.append(row)
            elif changed(prev, row):
                updates.append(row)
    write_rows(session, Finding, inserts, updates)
    return len(inserts) + len(updates)


def finding_key(agency: str, table: str, token: str) -> RecordKey:
    return (agency.lower(), table, token)


def fold_finding(found: dict[str, dict[str, Any]], key: RecordKey, fact: dict[str, Any]) -> None:
    """One fact applied to the rows of its record (rule -> row), in place."""
    quality = fact.get("quality") or {}
    at = utc_naive(quality.get("checked_at") or fact.get("source_ts"))
    open_rows = [r for r in found.values() if r["resolved_at"] is None]
    if at is None:
        return  # no time to order it by: the next version decides
    if any(r["last_seen"] > at for r in found.values()):
        return  # an older version than one already applied
    issues = {} if is_delete(fact["op"]) else {i["rule_code"]: i for i in quality["issues"]}
    for row in open_rows:
        if row["rule_code"] not in issues:
            row["resolved_at"] = at
            row["last_seen"] = at
    for rule, issue in issues.items():
        row = found.get(rule)
        if row is None or row["resolved_at"] is not None:  # new, or back after a fix
            row = found[rule] = {
                "agency": key[0],
                "source_table": key[1],
                "record_token": key[2],
                "rule_code": rule,
                "first_seen": at,
                "resolved_at": None,
            }
        row.update(
            record_ref=quality["record_ref"],
            field=issue.get("field"),
            severity=issue.get("severity"),
            detail=issue["detail"],
            last_seen=at,
        )
