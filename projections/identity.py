"""Identity decisions (mpp.canonical.identity) -> which person each record belongs to
(record_person, mirrored in citizen_source_record.person_id), the aliases of merged persons
(person_alias) and the review queue (identity_review). Decisions are replayed, never re-decided:
the same decision log gives the same person ids, live or in a rebuild.

A decision may come before the fact of its record (another topic): record_person keeps it and
the fact finds its person there. UNLINK and SPLIT move a record only while it is where the
decision says, and MERGE and LINK are idempotent, so a decision delivered twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .citizen import PersonChanges
from .facts import utc_naive
from .models import CitizenSourceRecord, IdentityReview, PersonAlias, RecordPerson
from .rows import changed, delete_keys, rows_where_in, write_rows

NEW, LINK, UNLINK, MERGE, SPLIT = "NEW", "LINK", "UNLINK", "MERGE", "SPLIT"
REVIEW, MUST_LINK, CANNOT_LINK = "REVIEW", "MUST_LINK", "CANNOT_LINK"
SUPERVISOR_KINDS = (MUST_LINK, CANNOT_LINK)


@dataclass
class IdentityChanges(PersonChanges):
    """What a batch of decisions touched, besides persons and applicant records: decisions
    applied per kind (metrics) and whether the review queue changed."""

    kinds: Counter[str] = field(default_factory=Counter)
    reviews_changed: bool = False


def review_pair(a: str, b: str) -> tuple[str, str]:
    """A pair of record keys in the order the review queue stores it."""
    return (a, b) if a <= b else (b, a)


def apply_decisions(session: Session, decisions: list[Mapping[str, Any]]) -> IdentityChanges:
    """Apply IdentityDecisions (in log order): record_person, aliases, reviews, and the person
    of every source record that moved; set-at-a-time reads and writes."""
    changes = IdentityChanges()
    if not decisions:
        return changes
    links = Links.load(session, decisions)
    reviews = Reviews.load(session, decisions)
    for d in decisions:
        kind = str(d.get("kind") or "UNKNOWN")
        changes.kinds[kind] += 1
        if kind in (REVIEW, *SUPERVISOR_KINDS):
            reviews.apply(kind, d)
        else:
            links.apply(kind, d)
    links.write(session)
    changes.reviews_changed = reviews.write(session)
    changes.person_ids |= links.touched_persons
    _move_source_records(session, links, changes)
    return changes


def _move_source_records(session: Session, links: Links, changes: PersonChanges) -> None:
    """Mirror the new persons into citizen_source_record; the records' refs and both persons
    are touched (golden records to recompute, permits whose applicant moved)."""
    rows = rows_where_in(
        session,
        CitizenSourceRecord,
        CitizenSourceRecord.record_key,
        links.touched_records,
        lock=True,
    )
    updates = []
    for r in rows:
        person = links.person.get(r["record_key"])
        if r["person_id"] == person:
            continue
        changes.refs.add(r["ref"])
        changes.person_ids.update(p for p in (r["person_id"], person) if p is not None)
        # The person column only: the rest of the row (its JSON data) is unchanged.
        key = {k: r[k] for k in ("agency", "source_table", "source_record_id")}
        updates.append({**key, "person_id": person})
    updates.sort(key=lambda r: (r["agency"], r["source_table"], r["source_record_id"]))
    write_rows(session, CitizenSourceRecord, [], updates)


class Links:
    """record -> person and alias -> survivor for one batch, loaded up front for every record and
    person its decisions name (all records of those persons included), then written as a diff."""

    def __init__(self, links: dict[str, str], aliases: dict[str, str]):
        self.original = dict(links)
        self.person: dict[str, str | None] = dict(links)
        self.members: dict[str, set[str]] = {}
        for record, person in links.items():
            self.members.setdefault(person, set()).add(record)
        self.original_aliases = dict(aliases)
        self.alias = dict(aliases)
        self.touched_persons: set[str] = set()
        self.touched_records: set[str] = set()

    @classmethod
    def load(cls, session: Session, decisions: Iterable[Mapping[str, Any]]) -> Links:
        persons: set[str] = set()
        records: set[str] = set()
        for d in decisions:
            persons.add(d["person_id"])
            persons.update(d.get("other_person_ids") or ())
            records.update(r for r in (d.get("record_id"), *(d.get("moved_record_ids") or ())))
        records.discard(None)  # type: ignore[arg-type]
        alias_rows = rows_where_in(session, PersonAlias, PersonAlias.alias, persons)
        alias_rows += rows_where_in(session, PersonAlias, PersonAlias.person_id, persons)
        aliases = {r["alias"]: r["person_id"] for r in alias_rows}
        persons |= set(aliases.values())
        link_rows = rows_where_in(session, RecordPerson, RecordPerson.record_key, records)
        link_rows += rows_where_in(session, RecordPerson, RecordPerson.person_id, persons)
        return cls({r["record_key"]: r["person_id"] for r in link_rows}, aliases)

    def canonical(self, person: str) -> str:
        """The surviving id of `person` (itself unless merged)."""
        seen = set()
        while person in self.alias and person not in seen:
            seen.add(person)
            person = self.alias[person]
        return person

    def apply(self, kind: str, d: Mapping[str, Any]) -> None:
        person = self.canonical(d["person_id"])
        record = d.get("record_id")
        if kind in (NEW, LINK) and record:
            self._place(record, person)
        elif kind == UNLINK and record and self.person.get(record) == person:
            self._place(record, None)
        elif kind == MERGE:
            for other in d.get("other_person_ids") or ():
                self._merge(self.canonical(other), person)
        elif kind == SPLIT:
            new_ids = list(d.get("other_person_ids") or ())
            # One new id: the moved records go there. Several: they wait for their LINKs.
            target = new_ids[0] if len(new_ids) == 1 else None
            for moved in d.get("moved_record_ids") or ():
                if self.person.get(moved) == person:
                    self._place(moved, target)

    def _place(self, record: str, person: str | None) -> None:
        old = self.person.get(record)
        if old == person:
            return
        if old is not None:
            self.members.get(old, set()).discard(record)
            self.touched_persons.add(old)
        if person is not None:
            self.members.setdefault(person, set()).add(record)
            self.touched_persons.add(person)
        self.person[record] = person
        self.touched_records.add(record)

    def _merge(self, other: str, survivor: str) -> None:
        if other == survivor:
            return  # merged before (a repeat)
        for alias, target in list(self.alias.items()):
            if target == other:
                self.alias[alias] = survivor
        self.alias[other] = survivor
        self.touched_persons.update((other, survivor))
        for record in sorted(self.members.get(other, ())):
            self._place(record, survivor)

    def write(self, session: Session) -> None:
        inserts, updates, gone = [], [], []
        for record in sorted(self.touched_records):
            old, new = self.original.get(record), self.person.get(record)
            row = {"record_key": record, "person_id": new}
            if new is None:
                if old is not None:
                    gone.append((record,))
            elif old is None:
                inserts.append(row)
            elif old != new:
                updates.append(row)
        write_rows(session, RecordPerson, inserts, updates)
        if gone:
            delete_keys(session, RecordPerson, (RecordPerson.record_key,), gone)
        alias_new = [
            {"alias": a, "person_id": p}
            for a, p in sorted(self.alias.items())
            if a not in self.original_aliases
        ]
        alias_moved = [
            {"alias": a, "person_id": p}
            for a, p in sorted(self.alias.items())
            if a in self.original_aliases and self.original_aliases[a] != p
        ]
        write_rows(session, PersonAlias, alias_new, alias_moved)


class Reviews:
    """The review rows of the pairs a batch's decisions name, opened by REVIEW and closed by a
    supervisor's MUST_LINK / CANNOT_LINK on the same pair."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.original = {(r["record_a"], r["record_b"]): r for r in rows}
        self.state = {k: dict(v) for k, v in self.original.items()}

    @classmethod
    def load(cls, session: Session, decisions: Iterable[Mapping[str, Any]]) -> Reviews:
        pairs = {
            review_pair(d["record_id"], d["other_record_id"])
            for d in decisions
            if d.get("kind") in (REVIEW, *SUPERVISOR_KINDS)
            and d.get("record_id")
            and d.get("other_record_id")
        }
        rows = rows_where_in(
            session, IdentityReview, IdentityReview.record_a, {a for a, _ in pairs}
        )
        return cls([r for r in rows if (r["record_a"], r["record_b"]) in pairs])

    def apply(self, kind: str, d: Mapping[str, Any]) -> None:
        if not d.get("record_id") or not d.get("other_record_id"):
            return
        pair = review_pair(d["record_id"], d["other_record_id"])
        at = utc_naive(d.get("ts"))
        if kind == REVIEW:
            evidence = d.get("evidence") or {}
            decided = self.state.get(pair) or {}
            self.state[pair] = {
                "record_a": pair[0],
                "record_b": pair[1],
                "person_id": d["person_id"],
                "weight": evidence.get("weight"),
                "probability": evidence.get("probability"),
                "comparisons": [dict(c) for c in evidence.get("comparisons") or ()],
                "reason": d.get("reason") or None,
                "reviewed_at": at,
                # A supervisor's decision on the pair stands (the resolver honours it forever).
                "decision": decided.get("decision"),
                "decided_by": decided.get("decided_by"),
                "decided_at": decided.get("decided_at"),
            }
        elif pair in self.state:
            self.state[pair].update(decision=kind, decided_by=d.get("reason"), decided_at=at)

    def write(self, session: Session) -> bool:
        inserts = [r for k, r in sorted(self.state.items()) if k not in self.original]
        updates = [
            r
            for k, r in sorted(self.state.items())
            if k in self.original and changed(self.original[k], r)
        ]
        write_rows(session, IdentityReview, inserts, updates)
        return bool(inserts or updates)
